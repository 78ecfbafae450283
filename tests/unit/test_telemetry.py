"""Traces for operators: the OTLP exporter through the standard OTEL_* variables, and trace ids
on every log line."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from typing import Any

import httpx
import pytest
from faststream._internal.context.repository import ContextRepo
from faststream.kafka.response import KafkaPublishCommand
from faststream.response.publish_type import PublishType
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind
from router import webhook

from shared.kafka import written_outside
from shared.logs import JsonFormatter, RepeatFilter, TraceContextFilter
from shared.service import tracer_provider
from shared.settings import Settings
from shared.telemetry import KafkaTracing, carried, parent_and_links


def _exporters(provider: TracerProvider) -> list[object]:
    processors = provider._active_span_processor._span_processors
    return [p.span_exporter for p in processors]  # type: ignore[attr-defined]


def test_otlp_is_chosen_by_the_standard_variable_and_reads_the_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BATON_OTEL_EXPORTER", raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.example:4318")

    settings = Settings()
    (exporter,) = _exporters(tracer_provider("intake", settings))

    assert settings.otel_exporter == "otlp"
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://collector.example:4318/v1/traces"


def test_baton_variable_wins_and_none_exports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("BATON_OTEL_EXPORTER", "none")

    assert _exporters(tracer_provider("router", Settings())) == []


def test_an_unknown_exporter_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_OTEL_EXPORTER", "zipkin")

    with pytest.raises(ValueError, match="BATON_OTEL_EXPORTER"):
        Settings()


def _logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("intake"))
    handler.addFilter(TraceContextFilter())
    logger = logging.getLogger("test.telemetry")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_every_log_line_carries_the_current_trace_and_span() -> None:
    stream = io.StringIO()
    logger = _logger(stream)
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("handle") as span:
        logger.info("inside")
    logger.info("outside")

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    ctx = span.get_span_context()
    assert inside["trace_id"] == f"{ctx.trace_id:032x}"
    assert inside["span_id"] == f"{ctx.span_id:016x}"
    assert outside["trace_id"] is None
    assert outside["span_id"] is None
    assert "trace_id" in outside


def _record(name: str, msg: str, created: float, *args: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)
    record.created = created
    return record


def test_a_run_of_aiokafka_reconnect_errors_is_one_line_per_window_with_its_count() -> None:
    kept = RepeatFilter(window=30.0)
    unable = 'Unable connect to "%s:%s": %s'
    lines = [
        _record("aiokafka.client", unable, 100.0 + second, "127.0.0.1", 9092, "refused")
        for second in range(0, 61, 2)  # every 2 s for a minute, as while Kafka is down
    ]
    passed = [r for r in lines if kept.filter(r)]

    assert [r.created for r in passed] == [100.0, 130.0, 160.0]
    assert [getattr(r, "repeated", 0) for r in passed] == [0, 14, 14]
    # another template, another level or a service's own logger is never held back
    assert kept.filter(_record("aiokafka.client", "Unable to update metadata from %s", 101, [1]))
    assert kept.filter(_record("shared.service", unable, 101.0, "h", 1, "x"))
    assert kept.filter(_record("shared.service", unable, 101.5, "h", 1, "x"))


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _ids(ctx: SpanContext | None) -> tuple[int, int]:
    assert ctx is not None
    return ctx.trace_id, ctx.span_id


def _traceparent(trace_id: int, span_id: int) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id:032x}-{span_id:016x}-01"}


def test_a_batch_continues_its_first_records_trace_and_links_the_others() -> None:
    carriers = [
        {},  # a record from a producer that does not trace
        _traceparent(1, 10),
        _traceparent(2, 20),
        _traceparent(1, 10),  # the same context twice: one link at most
        {"traceparent": "00-garbage"},
    ]
    parent, links = parent_and_links(carriers)

    found = trace.get_current_span(parent).get_span_context()
    assert (found.trace_id, found.span_id) == (1, 10)
    assert [(link.context.trace_id, link.context.span_id) for link in links] == [(2, 20)]
    assert parent_and_links([{}, {"traceparent": "nonsense"}]) == (Context(), [])


async def test_a_published_message_carries_the_current_span_and_nothing_outside_one() -> None:
    provider, _ = _provider()
    tracing = KafkaTracing(provider)
    sent: list[dict[str, str]] = []

    async def publish(cmd: KafkaPublishCommand) -> None:
        sent.append(dict(cmd.headers))

    middleware = tracing(None, context=ContextRepo())
    with provider.get_tracer("test").start_as_current_span("handle") as span:
        await middleware.publish_scope(
            publish, KafkaPublishCommand(b"{}", topic="t", _publish_type=PublishType.PUBLISH)
        )
    await middleware.publish_scope(
        publish, KafkaPublishCommand(b"{}", topic="t", _publish_type=PublishType.PUBLISH)
    )

    assert _ids(carried(sent[0])) == _ids(span.get_span_context())
    assert "traceparent" not in sent[1]


def _client_span(
    exporter: InMemorySpanExporter, name: str, attributes: dict[str, Any]
) -> ReadableSpan:
    """The one finished span: a client span ``name`` with exactly ``attributes``."""
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.kind) == (name, SpanKind.CLIENT)
    assert dict(span.attributes or {}) == attributes
    return span


async def test_a_webhook_push_is_a_client_span_whose_context_goes_along() -> None:
    provider, exporter = _provider()
    seen: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        response = await webhook.post(
            http,
            "https://hooks.example/in?token=secret",
            b"{}",
            {"X-Baton-Event-Id": "e1"},
            party="sysops",
            event_id="e1",
            tracer=provider.get_tracer("test"),
        )

    assert response.status_code == 204
    attributes = {
        "baton.party": "sysops",
        "baton.event_id": "e1",
        "http.request.method": "POST",
        "http.response.status_code": 204,
    }
    span = _client_span(exporter, "webhook push", attributes)
    assert _ids(carried(seen[0].headers)) == _ids(span.get_span_context())
    assert seen[0].headers["X-Baton-Event-Id"] == "e1"


@dataclasses.dataclass
class _Record:
    topic: str
    headers: list[tuple[str, bytes]]


async def _consume(tracing: KafkaTracing, records: tuple[_Record, ...]) -> None:
    middleware = tracing(records, context=ContextRepo())
    async with middleware:
        pass


async def test_a_record_from_outside_is_linked_never_the_parent() -> None:
    """Producers outside Baton (alerts.raw, check-ins, contractors' commands) do not choose
    our trace ids: their context is a link of a new trace; Baton's own topics continue it."""
    provider, exporter = _provider()
    tracing = KafkaTracing(provider, outside=lambda topic: topic == "t.alerts.raw")
    carried_in = [("traceparent", f"00-{7:032x}-{70:016x}-01".encode())]

    await _consume(tracing, (_Record("t.alerts.raw", carried_in),))
    await _consume(tracing, (_Record("t.alerts", carried_in),))

    outside, inside = exporter.get_finished_spans()
    assert outside.context.trace_id != 7
    assert outside.parent is None
    assert [(link.context.trace_id, link.context.span_id) for link in outside.links] == [(7, 70)]
    assert inside.context.trace_id == 7
    assert inside.parent is not None
    assert inside.parent.span_id == 70
    assert outside.name == "t.alerts.raw process"


def test_the_topics_written_from_outside_are_the_inboxes() -> None:
    outside = written_outside(Settings(topic_prefix="t."))

    for topic in ("t.alerts.raw", "t.checkins", "t.commands", "t.commands.hw"):
        assert outside(topic), topic
    for topic in ("t.alerts", "t.incidents", "t.sla", "t.assignments.hw", "t.contract"):
        assert not outside(topic), topic


async def test_a_notification_send_is_a_client_span_without_address_or_text() -> None:
    from router.outbox import Sender, send_one

    provider, exporter = _provider()
    row = {
        "incident_id": "inc-1",
        "event_id": "e1",
        "party": "sysops",
        "channel": "sms",
        "address": "+7 700 000 00 00",
        "subject": "P1 on pg-acc",
        "body": "secret-ish text",
    }

    error = await send_one(Sender({}, timeout=1.0), row, provider.get_tracer("test"))

    assert error == "no sender for channel sms"
    attributes = {
        "baton.incident": "inc-1",
        "baton.event_id": "e1",
        "baton.party": "sysops",
        "baton.channel": "sms",
        "baton.outcome": "not sent",
    }
    span = _client_span(exporter, "notification send", attributes)
    assert span.status.description == "no sender for channel sms"
