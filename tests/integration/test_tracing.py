"""One alert, one trace (ADR 0043): W3C trace context travels in Kafka headers through all four
services, and the spans reach an OTLP receiver the way they reach the collector in production."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.one_alert import one_alert_through
from tests.local_http import serving


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    kind: int


@dataclass
class Receiver:
    """An OTLP/HTTP (protobuf) trace receiver, in this process: what the collector would get."""

    endpoint: str
    spans: list[Span] = field(default_factory=list)

    def traces(self) -> dict[str, set[str]]:
        """Per service, the trace ids of its spans."""
        found: dict[str, set[str]] = {}
        for span in self.spans:
            found.setdefault(span.service, set()).add(span.trace_id)
        return found


@pytest.fixture
def otlp() -> Iterator[Receiver]:
    spans: list[Span] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            request = ExportTraceServiceRequest.FromString(body)
            with lock:
                for resource in request.resource_spans:
                    attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
                    service = attributes.get("service.name", "?")
                    spans.extend(
                        Span(service, s.name, s.trace_id.hex(), s.kind)
                        for scope in resource.scope_spans
                        for s in scope.spans
                    )
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_: object) -> None:
            pass

    with serving(Handler) as url:
        yield Receiver(url, spans)


async def test_one_alert_is_one_trace_across_the_four_services(
    isolated: Isolated, tmp_path: Path, otlp: Receiver
) -> None:
    isolated.env["BATON_OTEL_EXPORTER"] = "otlp"
    isolated.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.endpoint
    isolated.env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    sp = start_services(isolated, tmp_path)
    try:
        await wait_healthy(sp)
        await one_alert_through(isolated, sp)
    finally:
        stop_services(sp)  # a graceful stop flushes the batched spans

    traces = otlp.traces()
    names = {f"baton-{name}" for name in sp.logs}
    assert names <= traces.keys(), f"services without a span: {names - traces.keys()}"
    (request,) = [s for s in otlp.spans if s.name == "POST /v1/alerts/alertmanager"]
    alert = request.trace_id
    for name in names:
        assert alert in traces[name], f"{name} has no span in the alert's trace: {otlp.spans}"
    assert not [s for s in otlp.spans if s.name.startswith("fastapi.")], "FastAPI's own spans"
    in_trace = {(s.service, s.name) for s in otlp.spans if s.trace_id == alert}
    for service, topic in [
        ("intake", "alerts"),
        ("router", "incidents"),
        ("sla-clock", "incidents"),
    ]:
        hop = (f"baton-{service}", f"{isolated.prefix}{topic} process")
        assert hop in in_trace, f"{hop} not in the alert's trace: {sorted(in_trace)}"
    # reporting reads incidents, assignments and sla in one subscriber: a batch may mix them
    assert any(s == "baton-reporting" and n.endswith(" process") for s, n in in_trace), in_trace


async def test_every_line_of_every_service_log_is_json_with_its_trace(
    isolated: Isolated, tmp_path: Path
) -> None:
    """ADR 44: every log line is one JSON object with ``trace_id`` and ``span_id`` (null
    outside a span) — FastStream's own per-message lines too (they were coloured text)."""
    sp = start_services(isolated, tmp_path)
    try:
        await wait_healthy(sp)
        await one_alert_through(isolated, sp)
    finally:
        stop_services(sp)

    for name, path in sp.logs.items():
        lines = path.read_text().splitlines()
        assert lines, f"{name} logged nothing"
        docs = []
        for number, line in enumerate(lines, 1):
            try:
                docs.append(json.loads(line))
            except ValueError:
                pytest.fail(f"{name}.log line {number} is not JSON: {line!r}")
        for doc in docs:
            assert {"ts", "level", "service", "msg", "trace_id", "span_id"} <= doc.keys(), doc
        handled = [d for d in docs if d["msg"] in ("Received", "Processed")]
        assert handled, f"{name}: no FastStream line for a handled message"
        for doc in handled:
            assert doc["trace_id"], f"{name}: {doc}"
            assert doc["span_id"], f"{name}: {doc}"
