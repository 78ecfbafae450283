"""Structured logs: one JSON object per line on stderr (or readable lines for a console)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class TraceContextFilter(logging.Filter):
    """Puts the current span's ``trace_id`` and ``span_id`` on every record (None outside a span,
    unless the line names its span itself, as FastStream's "Processed" does), so a log line
    leads to its trace in Jaeger and back."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = f"{ctx.trace_id:032x}"
            record.span_id = f"{ctx.span_id:016x}"
        else:
            record.trace_id = getattr(record, "trace_id", None)
            record.span_id = getattr(record, "span_id", None)
        return True


class RepeatFilter(logging.Filter):
    """Lets the first of a run of lines with one template through, holds back the same template
    for ``window`` seconds after it, and puts on the next line let through how many were held
    back (``repeated``). For ``loggers`` only: aiokafka logs an ERROR for every reconnect attempt
    of every client while a broker is down (hundreds a minute in the chaos runs), which buried
    the service's own lines. Time is the record's own ``created``."""

    def __init__(self, loggers: str = "aiokafka", window: float = 30.0) -> None:
        super().__init__()
        self._loggers = loggers
        self._window = window
        self._runs: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._loggers):
            return True
        key = (record.name, record.levelno, str(record.msg))
        run = self._runs.get(key)
        if run is not None and record.created - run[0] < self._window:
            self._runs[key] = (run[0], run[1] + 1)
            return False
        self._runs[key] = (record.created, 0)
        if run is not None and run[1]:
            record.repeated = run[1]
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def setup_logging(service: str, level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s {service} %(levelname)s [trace=%(trace_id)s span=%(span_id)s] "
                "%(message)s"
            )
        )
    handler.addFilter(TraceContextFilter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream gives its "faststream" logger a coloured handler of its own and stops it from
    # propagating: its per-message lines ("Received", "Processed", "waiting for messages")
    # were plain text without trace ids. They go through the root's handler now.
    own = logging.getLogger("faststream")
    own.handlers.clear()
    own.propagate = True
    logging.captureWarnings(True)  # a library's warning is a log line too, not bare stderr
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
