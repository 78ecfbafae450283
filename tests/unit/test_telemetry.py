"""Traces for operators: the OTLP exporter through the standard OTEL_* variables, and trace ids
on every log line."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider

from shared.logs import JsonFormatter, TraceContextFilter
from shared.service import tracer_provider
from shared.settings import Settings


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
