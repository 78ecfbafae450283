"""Kafka topic administration in one place: wait for a broker, create the topics that are
missing, wait until each partition has a leader. Used by the local stack, the test fixtures,
the router (its party topics) and the benchmarks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.errors import for_code as kafka_error_for_code

from shared.topics import TOPIC_SPECS, TopicSpec, topic_name

log = logging.getLogger(__name__)

# The helpers take `timeout` (ASYNC109) rather than leaving it to `asyncio.timeout`: on expiry
# they say what the last failure was, which a bare cancellation cannot.


class TopicAdminError(RuntimeError):
    """A broker did not answer, or a topic could not be created or got no leader; the message
    says which."""


@dataclass(frozen=True, slots=True)
class TopicWish:
    """A topic to create; ``replication`` None takes the cluster's ``default.replication.factor``
    (1 on the one-node stack, 3 on a three-node one)."""

    name: str
    partitions: int
    replication: int | None = None
    configs: Mapping[str, str] = field(default_factory=dict)


def wishes_for(prefix: str, specs: Sequence[TopicSpec] = TOPIC_SPECS) -> list[TopicWish]:
    """Baton's topics (``shared.topics.TOPIC_SPECS``) named with ``prefix``."""
    return [
        TopicWish(
            topic_name(prefix, spec.topic),
            spec.partitions,
            configs={"cleanup.policy": "compact"} if spec.compacted else {},
        )
        for spec in specs
    ]


# A Kafka client's connection: aiokafka keywords, or a bare bootstrap list (plaintext).
KafkaClient: TypeAlias = "str | Mapping[str, Any]"


def client_kwargs(client: KafkaClient) -> dict[str, Any]:
    """AIOKafkaAdminClient keywords: a mapping as it is (bootstrap and security settings, e.g.
    ``shared.kafka.aiokafka_kwargs``), a bare ``host:port`` list as a plaintext broker."""
    return {"bootstrap_servers": client} if isinstance(client, str) else dict(client)


async def create_topics(
    client: KafkaClient,
    wishes: Sequence[TopicWish],
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[str]:
    """Create the topics of ``wishes`` that do not exist (the others are left alone), then wait
    until every partition of each has a leader. ``client``: AIOKafkaAdminClient keywords
    (``bootstrap_servers`` and, where needed, security settings). Returns every name."""
    wanted = {wish.name: wish for wish in wishes}
    admin = AIOKafkaAdminClient(**client_kwargs(client))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        todo = [wish for wish in wishes if wish.name not in existing]
        default = (
            await cluster_replication(admin)
            if any(wish.replication is None for wish in todo)
            else None
        )
        missing = [
            NewTopic(w.name, w.partitions, w.replication or default, topic_configs=dict(w.configs))
            for w in todo
        ]
        if missing:
            response = await admin.create_topics(missing, timeout_ms=int(timeout * 1000))
            for name, code, *message in response.topic_errors:
                error = kafka_error_for_code(code)
                if code != 0 and error is not TopicAlreadyExistsError:
                    detail = " ".join(str(part) for part in message if part)
                    raise TopicAdminError(
                        f"creating topic {name} failed: {error.__name__} {detail}"
                    )
            log.info("Created topics %s", ", ".join(sorted(t.name for t in missing)))
        await _wait_for_leaders(admin, wanted, timeout)
    finally:
        await admin.close()
    return list(wanted)


async def cluster_replication(admin: AIOKafkaAdminClient) -> int:
    """The cluster's ``default.replication.factor``, as a broker of it reports it.

    aiokafka's CreateTopics (v3 at most) cannot ask the broker to apply its default (-1 needs
    v4), so it is read here and named explicitly."""
    cluster = await admin.describe_cluster()
    node = str(min(broker["node_id"] for broker in cluster["brokers"]))
    key = "default.replication.factor"
    resource = ConfigResource(ConfigResourceType.BROKER, node, {key: None})
    for response in await admin.describe_configs([resource]):
        for error, message, _type, _name, entries, *_more in response.resources:
            if error:
                raise TopicAdminError(f"describing broker {node}'s {key}: {error} {message}")
            for name, value, *_flags in entries:
                if name == key:
                    return int(value)
    raise TopicAdminError(f"broker {node} did not report {key}")


async def ensure_topics(
    client: KafkaClient,
    prefix: str,
    specs: Sequence[TopicSpec] = TOPIC_SPECS,
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[str]:
    """Baton's topics under ``prefix`` (the local stack, the tests); ``client`` as for
    ``create_topics``."""
    return await create_topics(client, wishes_for(prefix, specs), timeout)


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient,
    wanted: Mapping[str, TopicWish],
    timeout: float,  # noqa: ASYNC109
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        described = await admin.describe_topics(list(wanted))
        pending = [
            t["topic"]
            for t in described
            if t["error_code"] != 0
            or not t["partitions"]
            or any(p["leader"] < 0 for p in t["partitions"])
        ]
        if not pending:
            break
        if loop.time() >= deadline:
            raise TopicAdminError(f"topics without a leader after {timeout:.0f} s: {pending}")
        await asyncio.sleep(0.2)
    for topic in described:
        expected = wanted[topic["topic"]].partitions
        if len(topic["partitions"]) != expected:
            log.warning(
                "topic %s has %d partitions, the spec says %d (not changed automatically)",
                topic["topic"], len(topic["partitions"]), expected,
            )  # fmt: skip


async def wait_kafka(
    client: KafkaClient,
    timeout: float = 60.0,  # noqa: ASYNC109
    *,
    alive: Callable[[], bool] | None = None,
    brokers: int = 1,
) -> None:
    """Return once the broker (``client`` as for ``create_topics``) answers a metadata request
    listing ``brokers`` brokers (a cluster's metadata lists only those that are up and not
    fenced).

    Raises TopicAdminError after ``timeout`` seconds, naming the last failure, or at once when
    ``alive()`` says the broker process is gone.
    """
    kwargs = client_kwargs(client)
    servers = kwargs["bootstrap_servers"]
    bootstrap = servers if isinstance(servers, str) else ",".join(servers)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error = "no answer"
    while True:
        # A plain TCP probe first: aiokafka logs every refused connection as an error.
        if not await _accepts_connections(bootstrap):
            last_error = "connection refused"
        else:
            admin = AIOKafkaAdminClient(**kwargs, request_timeout_ms=5_000)
            try:
                await admin.start()
                cluster = await admin.describe_cluster()
                listed = len(cluster.get("brokers") or ())
                if listed >= brokers:
                    return
                last_error = f"metadata lists {listed} of {brokers} brokers"
            except KafkaError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            finally:
                await admin.close()
        if alive is not None and not alive():
            raise TopicAdminError(f"the Kafka process exited before {bootstrap} became ready")
        if loop.time() >= deadline:
            raise TopicAdminError(
                f"Kafka at {bootstrap} not ready in {timeout:.0f} s: {last_error}"
            )
        await asyncio.sleep(0.2)


async def _accepts_connections(bootstrap: str) -> bool:
    """Whether any ``host:port`` of a bootstrap list accepts a TCP connection."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            async with asyncio.timeout(1.0):
                _, writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except (OSError, TimeoutError):
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False
