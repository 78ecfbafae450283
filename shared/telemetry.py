"""One alert, one trace (ADR 0043): W3C trace context from the HTTP request that brought an
alert, through every Kafka hop, to the last consumer.

- An HTTP request is a SERVER span (``TraceRequests``). A ``traceparent`` sent by the caller is
  a *link*, never the parent: a caller from outside does not choose our trace ids.
- A publish carries the current span's context in the ``traceparent`` header
  (``KafkaTracing.publish_scope``); no span per publish.
- A consumed batch is ONE span, a child of the context its first record carries, with a link
  to every other record's context (``KafkaTracing.consume_scope``). A batch of one — every
  alert at ordinary load — continues its alert's trace exactly; in a batch of several alerts,
  the others' traces are reached through the links (their downstream events join the first
  one's trace). Cost per record: parsing one header and one ``Link``; per batch: one span.

FastStream's own middleware makes every batch a new trace (its messaging conventions) and two
spans per publish: one alert became five traces, none spanning two services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from fastapi.telemetry import TelemetryConfig
from faststream import BaseMiddleware
from faststream._internal.basic_types import AsyncFuncAny
from faststream._internal.context.repository import ContextRepo
from faststream.kafka.response import KafkaPublishCommand
from faststream.message import StreamMessage
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    ProxyTracerProvider,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROPAGATOR = TraceContextTextMapPropagator()
TRACER = "baton"

NO_FASTAPI_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
"""FastAPI's native telemetry (``FastAPI(telemetry=...)``), off: it would take a caller's
``traceparent`` as the parent, record the path and query (a signed link's token), and add
three spans per request; ``TraceRequests`` is the one server span."""


def use_globally(provider: TracerProvider) -> None:
    """Make ``provider`` the process's (``trace.get_tracer`` anywhere, e.g. the router's webhook
    span); once per process: a second service built in the same process keeps the first."""
    if isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
        trace.set_tracer_provider(provider)


def carried(headers: Mapping[str, Any]) -> SpanContext | None:
    """The span context a message's or request's headers carry, if a valid one."""
    found = trace.get_current_span(PROPAGATOR.extract(headers)).get_span_context()
    return found if found.is_valid else None


def parent_and_links(carriers: Iterable[Mapping[str, Any]]) -> tuple[Context, list[Link]]:
    """The first carried context as the parent, every other distinct one as a link."""
    seen: dict[tuple[int, int], SpanContext] = {}
    for headers in carriers:
        found = carried(headers)
        if found is not None:
            seen.setdefault((found.trace_id, found.span_id), found)
    if not seen:
        return Context(), []
    first, *rest = seen.values()
    return trace.set_span_in_context(NonRecordingSpan(first), Context()), [Link(c) for c in rest]


class KafkaTracing:
    """The broker's middleware factory (``KafkaBroker(middlewares=...)``). ``outside(topic)``
    names the topics producers outside Baton write (alerts.raw, check-ins, contractors'
    commands): a batch from one starts a new trace linked to what its records carry, as an
    HTTP caller's ``traceparent`` is only a link."""

    def __init__(
        self, provider: TracerProvider, outside: Callable[[str], bool] = lambda _: False
    ) -> None:
        self.tracer = provider.get_tracer(TRACER)
        self.outside = outside

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> _KafkaTrace:
        return _KafkaTrace(msg, context=context, tracer=self.tracer, outside=self.outside)


class _KafkaTrace(BaseMiddleware[KafkaPublishCommand, Any]):
    """The span opens when the message arrives (before FastStream logs "Received") and is
    current until the handler's middlewares are done; "Processed", logged after, names it
    through FastStream's ``log_context``."""

    def __init__(
        self,
        msg: Any,
        /,
        *,
        context: ContextRepo,
        tracer: trace.Tracer,
        outside: Callable[[str], bool],
    ) -> None:
        super().__init__(msg, context=context)
        self.tracer = tracer
        self.outside = outside
        self._span: Span | None = None
        self._token: object = None

    async def on_receive(self) -> None:
        if self.msg is None:  # a publisher's instance
            return
        records = self.msg if isinstance(self.msg, tuple) else (self.msg,)
        parent, links = parent_and_links(_traceparent(record) for record in records)
        topics = sorted({getattr(record, "topic", "?") for record in records})
        if any(self.outside(t) for t in topics) and parent:
            first = trace.get_current_span(parent).get_span_context()
            parent, links = Context(), [Link(first), *links]
        # a subscriber of several topics (reporting) gets batches that mix them
        topic = ",".join(topics)
        self._span = self.tracer.start_span(
            f"{topic} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "messaging.batch.message_count": len(records),
            },
        )
        self._token = otel_context.attach(trace.set_span_in_context(self._span))

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        log_context = self.context.get_local("log_context")
        if self._span is not None and isinstance(log_context, dict):
            ctx = self._span.get_span_context()
            log_context["trace_id"] = f"{ctx.trace_id:032x}"
            log_context["span_id"] = f"{ctx.span_id:016x}"
        return await call_next(msg)

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        if self._span is not None:
            if exc_val is not None:
                self._span.record_exception(exc_val)
                self._span.set_status(Status(StatusCode.ERROR, type(exc_val).__name__))
            self._span.end()
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._span = None
        return False

    async def publish_scope(self, call_next: AsyncFuncAny, cmd: KafkaPublishCommand) -> Any:
        PROPAGATOR.inject(cmd.headers)  # nothing when no span is current
        return await call_next(cmd)


def _traceparent(record: Any) -> dict[str, str]:
    """A record's ``traceparent`` header as a carrier (headers are raw bytes here)."""
    for key, value in getattr(record, "headers", None) or ():
        if key == "traceparent":
            return {key: (value or b"").decode("latin-1")}
    return {}


class TraceRequests:
    """A SERVER span around every HTTP request (plain ASGI: cheap), named by its route; the
    caller's ``traceparent``, if any, is a link."""

    def __init__(self, app: ASGIApp, provider: TracerProvider) -> None:
        self.app = app
        self.tracer = provider.get_tracer(TRACER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        caller = carried(headers)
        with self.tracer.start_as_current_span(
            scope["method"],  # the route, once known: a path may hold a token
            context=Context(),
            kind=SpanKind.SERVER,
            links=[Link(caller)] if caller else None,
            attributes={"http.request.method": scope["method"]},
        ) as span:

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.route", route)
