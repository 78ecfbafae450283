"""Kafka wiring shared by every service: the broker, publishing events, the dead-letter topic."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import random
import re
import ssl
import time
from collections import Counter as Counter_
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeAlias, TypedDict

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import murmur2
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.prometheus.manager import MetricsManager
from faststream.prometheus.types import PublishingStatus
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter

from shared.events import DeadLetterV1, Envelope, make_event
from shared.redact import redact_headers, redact_payload, sample
from shared.settings import Settings
from shared.telemetry import PROPAGATOR, KafkaTracing
from shared.topic_admin import TopicAdminError, TopicWish, create_topics
from shared.topics import PARTY_TOPIC_PARTITIONS, Topic, commands_pattern, party_topic_name

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/cloudevents+json"
CONTENT_TYPE_BYTES = CONTENT_TYPE.encode()


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """SASL/TLS from settings; None for a plaintext local broker."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = (
        ssl.create_default_context(cafile=settings.kafka_ssl_cafile) if "SSL" in protocol else None
    )
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    if settings.kafka_sasl_username is None or settings.kafka_sasl_password is None:
        raise ValueError("kafka_sasl_username / kafka_sasl_password: required for SASL")
    user, password = settings.kafka_sasl_username, settings.kafka_sasl_password.get_secret_value()
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kind[settings.kafka_sasl_mechanism](user, password, ssl_context=context)


def bootstrap_servers(settings: Settings) -> list[str]:
    """``BATON_KAFKA_BOOTSTRAP`` as a list: one ``host:port`` or several, comma-separated.

    FastStream takes a string for one address (``"a:9092,b:9092"`` would be one host named
    ``a:9092,b``); a list is what reaches aiokafka as several."""
    servers = [address.strip() for address in settings.kafka_bootstrap.split(",")]
    if not all(servers):
        raise ValueError(f"kafka_bootstrap: an empty address in {settings.kafka_bootstrap!r}")
    return servers


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Connection settings for a plain aiokafka client, the same as the broker's."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings),
        "security_protocol": settings.kafka_security_protocol,
    }
    if "SSL" in settings.kafka_security_protocol:
        kwargs["ssl_context"] = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_security_protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        kwargs["sasl_plain_password"] = password.get_secret_value() if password else None
    return kwargs


@functools.lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partition(key: bytes, count: int) -> int:
    """The partition of a topic with ``count`` partitions that a record keyed ``key`` goes to."""
    return _key_hash(key) % count


def partition_for(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's default partitioner (Kafka's Java client's: murmur2 of the key), with each
    key's hash computed once: aiokafka's murmur2 is pure Python, and the same incident and
    object keys are published again and again (issue 28: 3 % of intake's samples in a storm).
    A record without a key goes to a random available partition, as before."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreading, not secrecy
    return all_partitions[key_partition(key, len(all_partitions))]


def build_broker(
    settings: Settings,
    service: str,
    registry: CollectorRegistry,
    tracer_provider: TracerProvider,
) -> KafkaBroker:
    """The service's broker: idempotent producer (acks=all), metrics and trace propagation."""
    return KafkaBroker(
        bootstrap_servers(settings),
        client_id=f"baton-{service}",
        enable_idempotence=True,
        partitioner=partition_for,
        max_batch_size=settings.kafka_max_batch_bytes,
        linger_ms=settings.kafka_linger_ms,
        security=kafka_security(settings),
        allow_auto_create_topics=False,
        graceful_timeout=15.0,
        middlewares=(
            KafkaPrometheusMiddleware(registry=registry, app_name=service),
            KafkaTracing(tracer_provider, outside=written_outside(settings)),
        ),
        parser=readable_headers,
        logger=logging.getLogger(f"faststream.{service}"),
    )


def written_outside(settings: Settings) -> Callable[[str], bool]:
    """Whether producers outside Baton write ``topic``: alerts.raw, check-ins, the commands
    topic and the parties' inboxes (their trace context is a link, ADR 0043)."""
    own = {settings.topic(Topic.ALERTS_RAW), settings.topic(Topic.CHECKINS)}
    commands = re.compile(commands_pattern(settings.topic_prefix))
    return lambda topic: topic in own or commands.match(topic) is not None


def _utf8(value: bytes | None) -> bool:
    try:
        (value or b"").decode()
    except UnicodeDecodeError:
        return False
    return True


def _readable(record: Record) -> Record:
    if all(_utf8(value) for _, value in record.headers):
        return record
    headers = tuple(
        (key, (value or b"").decode("utf-8", "replace").encode()) for key, value in record.headers
    )
    return dataclasses.replace(record, headers=headers)


async def readable_headers(message: Any, parse: Callable[[Any], Awaitable[Any]]) -> Any:
    """Every subscriber's parser (``KafkaBroker(parser=...)``): header values that are not
    UTF-8 get U+FFFD for their bad bytes before FastStream's own parser decodes them strictly.
    Without it, one such record — any producer may send any bytes as a header value — failed
    its whole batch before a handler saw it, and the batch was read again for ever: a stalled
    consumer. Now the handler judges the record (an unknown format, a bad event) and
    dead-letters it like any other. Header keys are decoded by aiokafka itself."""
    if isinstance(message, tuple):
        return await parse(tuple(_readable(record) for record in message))
    return await parse(_readable(message))


class GroupTiming(TypedDict):
    session_timeout_ms: int
    heartbeat_interval_ms: int


def group_timing(settings: Settings) -> GroupTiming:
    """The session and heartbeat every consumer-group subscriber runs with (``**`` into
    ``broker.subscriber``): how soon a killed instance's partitions move to another one."""
    return GroupTiming(
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
    )


def message_topic(msg: KafkaMessage) -> str:
    """The topic a (single, not batch) message came from."""
    raw = msg.raw_message
    if isinstance(raw, tuple):
        raise TypeError("message_topic: a batch has no single topic")
    topic: str = raw.topic
    return topic


Record: TypeAlias = ConsumerRecord[bytes, bytes]


def batch_records(msg: KafkaMessage) -> tuple[Record, ...]:
    """The records of a batch subscriber's message (a single message counts as a batch of one),
    in partition order."""
    raw = msg.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def event_headers(event: Envelope) -> dict[str, str]:
    """The headers every Baton event carries beside its body. ``send_all`` writes them with the
    current span's ``traceparent``; the cold paths that publish through FastStream (dead
    letters, check-in pings: unit tests drive them on FastStream's in-memory broker) get it
    from the broker's ``KafkaTracing`` middleware."""
    return {"content-type": CONTENT_TYPE, "ce_type": event.type.value, "ce_id": str(event.id)}


Pending: TypeAlias = tuple[str, Envelope, str | None]
"""One event to publish: topic, event, key (None: the event's subject)."""


def _aiokafka_producer(broker: KafkaBroker) -> AIOKafkaProducer:
    """The started aiokafka producer inside FastStream's broker (FastStream 0.7's internals,
    pinned in pyproject.toml; ``test_kafka_fast_path`` fails if they move)."""
    state = getattr(broker._producer, "_producer", None)
    real: AIOKafkaProducer | None = getattr(state, "producer", None)
    if real is None:
        raise KafkaConnectionError("the broker is not connected")
    return real


def _published_metrics(broker: KafkaBroker) -> MetricsManager | None:
    for middleware in broker.config.broker_middlewares:
        if isinstance(middleware, KafkaPrometheusMiddleware):
            manager: MetricsManager = middleware._metrics_manager
            return manager
    return None


async def send_all(
    broker: KafkaBroker, pending: Iterable[Pending], encoded: Sequence[bytes] | None = None
) -> None:
    """Publish events in order straight through the broker's aiokafka producer and wait until
    the broker has all of them (acks=all).

    What FastStream's ``publish`` did per message is done once per call (issue 28: its
    command object, correlation id, codec and middlewares were a third of intake's CPU in a
    storm): the current span's ``traceparent`` is injected into every record (the same for
    all, as before), and ``faststream_published_messages_total`` and its duration histogram
    are updated once per topic, after the acknowledgements — so the counter counts what the
    broker has, not what was queued. Each send is queued before the next starts, so events
    with the same key keep their order on their partition. ``encoded``: the events' JSON
    when the caller has it already (in ``pending``'s order)."""
    producer = _aiokafka_producer(broker)
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)  # nothing when no span is current
    traced = [(k, v.encode()) for k, v in carrier.items()]
    started = time.perf_counter()
    futures: list[asyncio.Future[Any]] = []
    topics: Counter_[str] = Counter_()
    for i, (topic, event, key) in enumerate(pending):
        headers = [
            ("content-type", CONTENT_TYPE_BYTES),
            ("ce_type", event.type.value.encode()),
            ("ce_id", str(event.id).encode()),
            *traced,
        ]
        futures.append(
            await producer.send(
                topic,
                encoded[i] if encoded is not None else event.to_json(),
                key=key.encode() if key is not None else event.key(),
                headers=headers,
            )
        )
        topics[topic] += 1
    failed: BaseException | None = None
    try:
        await asyncio.gather(*futures)
    except BaseException as exc:
        failed = exc
        raise
    finally:
        _count_published(broker, topics, time.perf_counter() - started, failed)


def _count_published(
    broker: KafkaBroker, topics: Counter_[str], seconds: float, failed: BaseException | None
) -> None:
    metrics = _published_metrics(broker)
    if metrics is None:
        return
    status = PublishingStatus.error if failed is not None else PublishingStatus.success
    for topic, count in topics.items():
        metrics.observe_published_message_duration(
            duration=seconds, broker="kafka", destination=topic
        )
        metrics.add_published_message(
            amount=count, status=status, broker="kafka", destination=topic
        )
        if failed is not None and isinstance(failed, Exception):
            metrics.add_published_message_exception(
                exception_type=type(failed).__name__, broker="kafka", destination=topic
            )


async def publish_event(
    broker: KafkaBroker, topic: str, event: Envelope, *, key: str | None = None
) -> None:
    """Publish one event and wait until the broker has it (acks=all).

    The message key is ``key`` when given, else the event's subject (the incident id).
    """
    await send_all(broker, [(topic, event, key)])


async def publish_events(broker: KafkaBroker, topic: str, events: list[Envelope]) -> None:
    """Publish several events in order and wait for the broker once (``send_all``)."""
    await send_all(broker, [(topic, event, None) for event in events])


class Outbox:
    """What one batch publishes: every send queued in order, the acknowledgements awaited
    together.

    Queueing in order keeps the order of events with the same key on their partition; awaiting
    all acknowledgements (acks=all) before the batch's offsets are committed means a crash
    in between republishes the same events (same ids) and nothing is lost.
    """

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker
        self._pending: list[Pending] = []

    def add(self, topic: str, event: Envelope, *, key: str | None = None) -> None:
        """Queue ``event`` for ``topic``; its key is ``key`` or the event's subject."""
        self._pending.append((topic, event, key))

    def extend(self, topic: str, events: list[Envelope]) -> None:
        for event in events:
            self.add(topic, event)

    def __len__(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Send everything queued and wait until the broker has all of it."""
        pending, self._pending = self._pending, []
        if pending:
            await send_all(self._broker, pending)


# An unauthenticated caller gets no more of the dead-letter topic than this per refusal: enough
# to see what was attempted, too little to use the topic as free storage.
UNAUTHENTICATED_SAMPLE_BYTES = 2048


class DeadLetters:
    """Keeps every refused payload: a dead-letter event with the reason, and a metric.

    What is kept holds no secret: routing keys, tokens, passwords, signatures and Authorization
    values are redacted from the payload and the headers first; a body refused for its
    credentials (``kind="auth"``) is kept only as a short sample."""

    def __init__(
        self, broker: KafkaBroker, settings: Settings, service: str, registry: CollectorRegistry
    ) -> None:
        self._broker = broker
        self._topic = settings.topic(Topic.DEADLETTER)
        self._service = service
        self._count = Counter(
            "baton_deadletter",
            "Payloads refused and kept in the dead-letter topic",
            ["service", "reason"],
            registry=registry,
        )

    async def send(
        self,
        *,
        reason: str,
        kind: str,
        origin: str,
        payload: bytes,
        now: datetime,
        headers: dict[str, str] | None = None,
    ) -> None:
        kept = redact_payload(payload)
        if kind == "auth":
            kept, note = sample(kept, UNAUTHENTICATED_SAMPLE_BYTES)
            reason += note
        event = make_event(
            DeadLetterV1(
                reason=reason,
                origin=origin,
                payload=kept.decode("utf-8", errors="replace"),
                headers=redact_headers(headers or {}),
            ),
            source=self._service,
            time=now,
        )
        await self._broker.publish(
            event.to_json(),
            self._topic,
            key=self._service.encode(),
            headers=event_headers(event),
        )
        self._count.labels(self._service, kind).inc()
        log.warning("dead-lettered", extra={"origin": origin, "reason": reason})


class PartyTopicError(RuntimeError):
    """A party topic could not be created."""


async def create_party_topics(
    settings: Settings, parties: Iterable[str], base: Topic = Topic.ASSIGNMENTS
) -> list[str]:
    """Create the parties' own ``base`` topics that do not exist yet (idempotent); returns
    every name."""
    wishes = [
        TopicWish(
            party_topic_name(settings.topic_prefix, p, base),
            PARTY_TOPIC_PARTITIONS,
            settings.router_party_topic_replication,
        )
        for p in parties
    ]
    try:  # waits for the leaders too, so the first publish to a new topic does not fail
        return await create_topics(aiokafka_kwargs(settings), wishes)
    except TopicAdminError as exc:
        raise PartyTopicError(f"party topics: {exc}") from exc
