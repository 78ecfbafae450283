"""The thin shell every service shares: settings, broker, pool, contract, HTTP, lifespan.

A service supplies a ``Service``: its ``wire(runtime, router)`` declares its Kafka subscribers
(``runtime.batch_subscriber``) and its HTTP routes on ``router``, its ``on_start`` starts its
loops (``runtime.tick``); ``create_app`` does the rest (``/healthz``, ``/metrics``, migrations,
graceful start and stop).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import orjson
import uvicorn
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE

from shared.clock import Clock, SystemClock
from shared.contract import Contract, ContractError, load_contract
from shared.contract.view import ContractView
from shared.contract_feed import contract_from_event, read_newest
from shared.db import DATABASE_UNAVAILABLE, create_pool, migrate
from shared.doors import admit_or_exit
from shared.events import Envelope, EventType, parse_event
from shared.health import Health
from shared.http import Unavailable, describe, unavailable
from shared.kafka import (
    DeadLetters,
    Record,
    batch_records,
    build_broker,
    group_timing,
    message_topic,
)
from shared.logs import setup_logging
from shared.settings import Settings
from shared.telemetry import NO_FASTAPI_TELEMETRY, TraceRequests, use_globally
from shared.ticker import Round, Ticker
from shared.topics import Topic

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What a running service holds; handlers reach their resources through it."""

    service: str
    settings: Settings
    registry: CollectorRegistry
    broker: KafkaBroker
    dead_letters: DeadLetters
    contract: Contract
    clock: Clock
    contract_info: Gauge
    health: Health = field(init=False, repr=False)
    _pool: asyncpg.Pool | None = field(default=None, repr=False)
    _batches: Histogram | None = field(default=None, repr=False)
    _contract_listeners: list[Callable[[Contract], None]] = field(default_factory=list)
    _tickers: list[Ticker] = field(default_factory=list, repr=False)

    def on_contract(self, listener: Callable[[Contract], None]) -> None:
        """Call ``listener`` with each contract adopted after start (for derived state)."""
        self._contract_listeners.append(listener)

    def adopt(self, contract: Contract) -> bool:
        """Act on ``contract`` from now on; False if it is the one already in force.

        Handlers read ``runtime.contract`` on every message, so the switch needs no restart.
        """
        if contract.content_hash == self.contract.content_hash:
            return False
        self.contract = contract
        ContractView.of(contract)  # built here, once, not by the first message that asks
        for listener in self._contract_listeners:
            listener(contract)
        self.contract_info.clear()
        self.contract_info.labels(contract.id, contract.version, contract.content_hash).set(1)
        log.info(
            "contract adopted",
            extra={
                "contract": contract.id,
                "contract_version": contract.version,
                "content_hash": contract.content_hash,
            },
        )
        return True

    @property
    def view(self) -> ContractView:
        """The contract in force as its query object: one per version, shared by the pure
        cores, so a swap by ``adopt`` reaches every answer at once."""
        return ContractView.of(self.contract)

    def tick(self, name: str, every: float, *rounds: tuple[str, Round]) -> None:
        """Run ``rounds`` every ``every`` seconds from now on (called from ``on_start``); the
        shell stops the loop, after the tick under way, before ``on_stop``."""
        ticker = Ticker(name, every, *rounds)
        ticker.start()
        self._tickers.append(ticker)

    async def stop_ticking(self) -> None:
        for ticker in self._tickers:
            await ticker.stop()
        self._tickers.clear()

    def batch_subscriber(
        self,
        *topics: str,
        group: str,
        pattern: str | None = None,
        max_records: int | None = None,
        batch_timeout_ms: int | None = None,
        listener: ConsumerRebalanceListener | None = None,
    ) -> BatchSubscriber:
        """How every consumer group of Baton reads: ``topics`` (or the topics ``pattern``
        matches) in batches of up to ``max_records`` (``consumer_batch_max_records``), waiting
        up to ``batch_timeout_ms`` (``consumer_batch_max_wait_ms``) for them; from the earliest
        offset when the group has none; a batch whose handler raised is read again
        (NACK_ON_ERROR); the session and heartbeat of ``group_timing``. Decorate the batch
        handler with what it returns."""
        settings = self.settings
        return self.broker.subscriber(
            *topics,
            pattern=pattern,
            group_id=settings.group(group),
            **group_timing(settings),
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            listener=listener,
            batch=True,
            max_records=max_records or settings.consumer_batch_max_records,
            batch_timeout_ms=batch_timeout_ms or settings.consumer_batch_max_wait_ms,
        )

    def records(self, msg: KafkaMessage, consumer: str) -> tuple[Record, ...]:
        """A batch subscriber's records, counted per consumer (``baton_batch_records``: how
        instances of one consumer group split the work, and how big the batches are)."""
        records = batch_records(msg)
        if self._batches is None:
            self._batches = Histogram(
                "baton_batch_records",
                "Records per batch a consumer handled in one transaction",
                ["consumer"],
                buckets=(1, 5, 20, 50, 100, 200, 500, 1000, 5000),
                registry=self.registry,
            )
        self._batches.labels(consumer).observe(len(records))
        return records

    def crash_point(self, consumer: str) -> None:
        """TEST ONLY: with ``test_crash_after_publish`` naming ``consumer``, die at once
        (SIGKILL: no rollback sent, no offsets committed) after the batch's publishes were
        acknowledged and before its transaction and offsets commit."""
        if self.settings.test_crash_after_publish == consumer:
            log.warning("test crash point reached: killing this process", extra={"at": consumer})
            os.kill(os.getpid(), signal.SIGKILL)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open yet")
        return self._pool

    async def parse(self, msg: KafkaMessage, *expected: EventType) -> Envelope | None:
        """The message's event, or None after dead-lettering it with the reason.

        With ``expected`` types given, any other type is refused too.
        """
        return await self._parse(msg.body, message_topic(msg), expected)

    async def parse_record(self, record: Record, *expected: EventType) -> Envelope | None:
        """``parse`` for one record of a batch."""
        return await self._parse(record.value or b"", record.topic, expected)

    async def _parse(
        self, body: bytes, topic: str, expected: tuple[EventType, ...]
    ) -> Envelope | None:
        reason = None
        try:
            event = parse_event(body)
        except ValidationError as exc:
            reason = describe(exc)
        except ValueError as exc:
            reason = str(exc)
        else:
            if not expected or event.type in expected:
                return event
            reason = f"type: expected {'|'.join(expected)}, got {event.type.value}"
        await self.dead_letters.send(
            reason=reason,
            kind="schema",
            origin=f"kafka:{topic}",
            payload=body,
            now=self.clock.now(),
        )
        return None


class Service:
    """What a service adds to the shell; each method does nothing unless the service says.

    ``wire`` declares its consumers and routes; ``before_start`` runs once the newest contract
    is adopted and before the consumers start (it makes topics they subscribe to by pattern);
    ``on_start`` once they run (it starts the service's loops with ``runtime.tick``);
    ``on_stop`` after those loops stopped and before the consumers stop."""

    def wire(self, rt: Runtime, router: APIRouter) -> None:
        pass

    async def before_start(self, rt: Runtime) -> None:
        pass

    async def on_start(self, rt: Runtime) -> None:
        pass

    async def on_stop(self, rt: Runtime) -> None:
        pass


def _span_line(span: ReadableSpan) -> str:
    """One span per line, JSON (span attributes may hold bytes, which the default rejects)."""
    ctx = span.get_span_context()
    parent = span.parent
    doc = {
        "span": span.name,
        "trace_id": f"0x{ctx.trace_id:032x}" if ctx else None,
        "span_id": f"0x{ctx.span_id:016x}" if ctx else None,
        "parent_id": f"0x{parent.span_id:016x}" if parent else None,
        "start": span.start_time,
        "end": span.end_time,
        "attributes": dict(span.attributes or {}),
        # a batch consumer's span starts its own trace and links to each message's trace
        "links": [f"0x{link.context.trace_id:032x}" for link in span.links or ()],
    }
    return orjson.dumps(doc, default=str).decode() + "\n"


def tracer_provider(service: str, settings: Settings) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": f"baton-{service}"}))
    if settings.otel_exporter == "console":
        exporter: SpanExporter = ConsoleSpanExporter(formatter=_span_line)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    elif settings.otel_exporter == "otlp":
        # endpoint, headers, timeout and compression come from the standard OTEL_* variables
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _follow_contract(runtime: Runtime) -> None:
    """Every instance follows the whole contract topic (no consumer group): the newest wins; a
    version that does not load is dead-lettered."""
    settings, broker = runtime.settings, runtime.broker

    @broker.subscriber(settings.topic(Topic.CONTRACT), auto_offset_reset="earliest")
    async def on_contract(msg: KafkaMessage) -> None:
        event = await runtime.parse(msg, EventType.CONTRACT_PUBLISHED)
        if event is None:
            return
        try:
            runtime.adopt(contract_from_event(event))
        except ContractError as exc:
            await runtime.dead_letters.send(
                reason=str(exc),
                kind="contract",
                origin=f"kafka:{message_topic(msg)}",
                payload=msg.body,
                now=runtime.clock.now(),
            )


def _lifespan(
    runtime: Runtime,
    service: Service,
    *,
    schema: str,
    migrations: Path,
    tracing: TracerProvider,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start in order (pool, migrations, the newest published contract, ``before_start``, the
    broker, ``on_start``, health) and stop in reverse (the service's loops, then ``on_stop``),
    finishing in-flight messages."""
    settings, broker = runtime.settings, runtime.broker

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime._pool = await create_pool(
            settings.pg_dsn.get_secret_value(), schema, settings.pg_command_timeout_seconds
        )
        await migrate(runtime.pool, migrations)
        published = await read_newest(settings)  # before any handler runs
        if published is not None:
            runtime.adopt(published)
        await service.before_start(runtime)
        await broker.start()
        await service.on_start(runtime)
        runtime.health.start()
        log.info(
            "started",
            extra={
                "contract": runtime.contract.id,
                "contract_version": runtime.contract.version,
                "port": settings.http_port,
            },
        )
        try:
            yield
        finally:
            log.info("stopping: finishing in-flight messages")
            await runtime.health.stop()
            await runtime.stop_ticking()
            await service.on_stop(runtime)
            await broker.stop()
            await runtime.pool.close()
            tracing.shutdown()  # flushes the spans still batched
            log.info("stopped")

    return lifespan


def create_app(
    name: str,
    service: Service,
    *,
    schema: str,
    migrations: Path,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The app of ``service`` (named ``name``: logs, metrics, Kafka client id), its tables in
    PostgreSQL schema ``schema``, migrated from the folder ``migrations``."""
    settings = settings or Settings()
    setup_logging(name, settings.log_level, settings.log_format)
    registry = CollectorRegistry()
    tracing = tracer_provider(name, settings)
    use_globally(tracing)
    broker = build_broker(settings, name, registry, tracing)
    contract = load_contract(settings.contract_path)
    contract_info = Gauge(
        "baton_contract_info",
        "The contract version this service acts on (1 for the one in force)",
        ["contract", "version", "hash"],
        registry=registry,
    )
    contract_info.labels(contract.id, contract.version, contract.content_hash).set(1)
    runtime = Runtime(
        service=name,
        settings=settings,
        registry=registry,
        broker=broker,
        dead_letters=DeadLetters(broker, settings, name, registry),
        contract=contract,
        clock=clock or SystemClock(),
        contract_info=contract_info,
    )
    runtime.health = Health(name, settings, registry, broker=broker, pool=lambda: runtime._pool)

    _follow_contract(runtime)

    requests = Counter(
        "baton_http_requests",
        "HTTP requests served",
        ["service", "route", "status"],
        registry=registry,
    )

    lifespan = _lifespan(runtime, service, schema=schema, migrations=migrations, tracing=tracing)

    # FastAPI's own telemetry is off: TraceRequests is the one server span (ADR 0043).
    app = FastAPI(title=f"Baton {name}", lifespan=lifespan, telemetry=NO_FASTAPI_TELEMETRY)
    app.state.runtime = runtime

    app.add_middleware(
        RequestDeadline,
        seconds=settings.http_request_timeout_seconds,
        retry_after=settings.retry_after_seconds,
    )
    app.add_middleware(RequestCounter, counter=requests, service=name)
    app.add_middleware(TraceRequests, provider=tracing)
    if settings.admin_http_port is not None:
        app.add_middleware(AdminSplit, admin_port=settings.admin_http_port)

    add_health_routes(app, runtime)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    router = APIRouter()
    service.wire(runtime, router)
    app.include_router(router)
    return app


def add_health_routes(app: FastAPI, runtime: Runtime) -> None:
    """``/livez``, ``/readyz`` (and ``/healthz``, its alias), and 503 + ``Retry-After`` for a
    request that met a dependency that is down."""
    broker, settings = runtime.broker, runtime.settings

    @app.get("/livez", include_in_schema=False)
    async def livez() -> Response:
        """The process and its event loop answer (restart it when this fails)."""
        return Response('{"status":"alive"}', media_type="application/json")

    async def readyz() -> Response:
        """PostgreSQL and Kafka answered in time and no consumer is stalled (send it work)."""
        if runtime._pool is None or not broker.running:
            return Response('{"status":"starting"}', 503, media_type="application/json")
        found = await runtime.health.readiness()
        return Response(
            orjson.dumps(found.body()),
            status_code=200 if found.ready else 503,
            media_type="application/json",
        )

    # /healthz predates the split and is kept as an alias of /readyz: callers used it to wait
    # until a service can do its work, which is readiness.
    app.add_api_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/healthz", readyz, methods=["GET"], include_in_schema=False)

    retry_after = settings.retry_after_seconds

    async def on_unavailable(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Unavailable)
        return unavailable(exc.dependency, retry_after, exc.detail)

    async def on_database_error(_: Request, exc: Exception) -> Response:
        # The database went away under the request (refused, reset, restarting, too slow):
        # nothing was committed, so the honest answer is "retry later", not 500.
        log.warning("database unavailable", extra={"error": repr(exc)[:200]})
        return unavailable("postgresql", retry_after)

    async def on_kafka_error(_: Request, exc: Exception) -> Response:
        log.warning("kafka unavailable", extra={"error": repr(exc)[:200]})
        return unavailable("kafka", retry_after)

    app.add_exception_handler(Unavailable, on_unavailable)
    for kind in DATABASE_UNAVAILABLE:
        app.add_exception_handler(kind, on_database_error)
    app.add_exception_handler(KafkaError, on_kafka_error)


class RequestCounter:
    """Counts HTTP requests per route and status. Plain ASGI: Starlette's ``@app.middleware``
    wraps every request in a task and streams, which cost intake a third of its throughput."""

    def __init__(self, app: ASGIApp, counter: Counter, service: str) -> None:
        self.app = app
        self.counter = counter
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.counter.labels(self.service, route, status).inc()


class RequestDeadline:
    """Every request is answered within ``seconds``: one that has no answer by then (a pool
    acquire behind frozen connections, a publish, anything a dependency holds) is cancelled
    and answered 503 + ``Retry-After``. Health routes have their own timeouts and are left
    alone. Plain ASGI, like ``RequestCounter`` (ADR 36)."""

    def __init__(self, app: ASGIApp, seconds: float, retry_after: int) -> None:
        self.app = app
        self.seconds = seconds
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in BOTH_PATHS:
            await self.app(scope, receive, send)
            return
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, send_started)
        except TimeoutError:
            log.warning(
                "request answered 503: no answer in time",
                extra={"path": scope["path"], "seconds": self.seconds},
            )
            if not started:
                answer = unavailable(
                    "a dependency",
                    self.retry_after,
                    f"no answer within {self.seconds:g} s",
                )
                await answer(scope, receive, send)


# Served on the admin address when there is one (and nowhere else); health answers on both, for
# probes that know either port.
ADMIN_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
BOTH_PATHS = frozenset({"/livez", "/readyz", "/healthz"})


class AdminSplit:
    """With ``admin_http_port`` set, one server listens on two sockets and this sorts the
    requests by the port they came in on: admin paths only on the admin port, the API only on
    the public one; anything else is the same 404 as an unknown path."""

    def __init__(self, app: ASGIApp, admin_port: int) -> None:
        self.app = app
        self.admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in BOTH_PATHS:
            on_admin = (scope.get("server") or ("", None))[1] == self.admin_port
            if (scope["path"] in ADMIN_PATHS) != on_admin:
                await JSONResponse({"detail": "Not Found"}, 404)(scope, receive, send)
                return
        await self.app(scope, receive, send)


BACKLOG = 4096
"""Connections the kernel queues for accept (uvicorn's default is 2048)."""


def server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """The API socket's server: an idle keep-alive connection outlives the clients' own
    (``http_keepalive_seconds``; uvicorn's 5 s equals httpx's, so a request sent on a connection
    the server was closing got no answer and no log line: issue 25)."""
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        timeout_keep_alive=int(settings.http_keepalive_seconds),
        backlog=BACKLOG,
    )


def serve(app: FastAPI) -> None:
    """Run until SIGTERM/SIGINT; uvicorn then runs the lifespan's shutdown (graceful stop).

    Refuses to start (exit code 2) with an open door unless ``BATON_INSECURE=1`` (shared.doors).
    """
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    admit_or_exit(runtime.service, settings, runtime.registry)
    config = server_config(app, settings)
    sockets = [config.bind_socket()]
    if settings.admin_http_port is not None:  # one server, two sockets: see AdminSplit
        admin = uvicorn.Config(
            app, host=settings.admin_http_host, port=settings.admin_http_port, log_config=None
        )
        sockets.append(admin.bind_socket())
        log.info(
            "admin endpoints on their own address",
            extra={"admin": f"{settings.admin_http_host}:{settings.admin_http_port}"},
        )
    server = uvicorn.Server(config)
    server.run(sockets=sockets)
    if not server.started:  # the lifespan failed (as uvicorn.run would say it)
        raise SystemExit(STARTUP_FAILURE)
