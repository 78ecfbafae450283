"""Helpers for integration tests: documented payload shapes and topic readers."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from intake.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

from baton.stack import kafka_client, stack_credentials, stack_paths, stack_ports
from shared.db import Conn, create_pool
from shared.events import Envelope, parse_event

QUICK_REBALANCE = {
    "BATON_KAFKA_SESSION_TIMEOUT_MS": "6000",
    "BATON_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
}
"""Service environment for tests that kill an instance and wait for another to take over its
partitions, or start instances side by side: the group drops a silent member after 6 s (the
broker's default minimum) instead of 10 s, and members hear of a rebalance within 1 s instead of
3 s (a joining instance waits for them)."""


@functools.cache
def _stack_admin() -> dict[str, Any]:
    paths = stack_paths()
    return kafka_client(stack_ports(paths), stack_credentials(paths))


def kafka(bootstrap: str) -> dict[str, Any]:
    """aiokafka keywords for the local stack's broker at ``bootstrap``, as its ``admin`` (SASL/
    SCRAM; the tests look at every topic as an operator does)."""
    return {**_stack_admin(), "bootstrap_servers": bootstrap}


def alertmanager_payload(
    now: datetime,
    labels: dict[str, str] | None = None,
    fingerprint: str | None = None,
    age: timedelta = timedelta(minutes=2),
) -> dict[str, Any]:
    """Shaped like Alertmanager's documented webhook (version 4)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="PostgresDown"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "baton",
        "groupLabels": {"alertname": "PostgresDown"},
        "commonLabels": {"alertname": "PostgresDown", "service": "postgres"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels
                or {
                    "alertname": "PostgresDown",
                    "service": "postgres",
                    "instance": "srv-db-01:5432",
                    "severity": "critical",
                },
                "annotations": {"summary": "PostgreSQL main instance is down"},
                "startsAt": (now - age).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=pg_up",
                "fingerprint": fingerprint or uuid.uuid4().hex[:16],
            }
        ],
    }


class NeverArrived(AssertionError):
    """What a test waited for did not arrive in time (a failure like any assertion; tests that
    expect a missing service to stop the pipeline catch this one and nothing broader)."""


async def collect(bootstrap: str, topic: str, want: int, timeout: float = 60) -> list[Envelope]:
    """Read ``topic`` from the start until ``want`` events arrived (or fail on timeout)."""
    return await collect_until(bootstrap, topic, lambda events: len(events) >= want, timeout)


async def collect_until(
    bootstrap: str,
    topic: str,
    done: Callable[[list[Envelope]], bool],
    timeout: float = 60,
    settle: float = 0.0,
) -> list[Envelope]:
    """Read ``topic`` from the start until ``done(events)`` holds, then ``settle`` seconds more
    (anything doubled would arrive then); fail with what arrived on timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka(bootstrap),
        auto_offset_reset="earliest",
        group_id=f"probe-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    events: list[Envelope] = []

    async def read() -> None:
        for records in (await consumer.getmany(timeout_ms=300)).values():
            events.extend(parse_event(r.value) for r in records)

    try:
        async with asyncio.timeout(timeout):
            while not done(events):
                await read()
        loop = asyncio.get_running_loop()
        settle_until = loop.time() + settle
        while loop.time() < settle_until:
            await read()
    except TimeoutError:
        got = [(e.type.value, e.subject) for e in events]
        raise NeverArrived(f"{topic}: condition not met by {len(events)} events: {got}") from None
    finally:
        await consumer.stop()
    return events


async def read_topic(bootstrap: str, topic: str) -> list[Envelope]:
    """Everything on ``topic`` now: each partition read from its start to the end offset it had
    when called, in partition then offset order. No consumer group and no quiet spell to wait
    out; once the writers are done (their input consumed, see ``wait_consumed``, or their
    processes stopped) it is all they wrote."""
    consumer = AIOKafkaConsumer(topic, **kafka(bootstrap), auto_offset_reset="earliest")
    await consumer.start()  # no group: every partition assigned
    by_partition: dict[int, list[Envelope]] = {}
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))

        async def short() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        async with asyncio.timeout(60):
            while await short():
                for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                    wanted = [r for r in records if r.offset < ends[tp]]
                    by_partition.setdefault(tp.partition, []).extend(
                        parse_event(r.value) for r in wanted
                    )
    finally:
        await consumer.stop()
    return [e for _, events in sorted(by_partition.items()) for e in events]


ALERT_PATH_READS: dict[str, dict[str, str | tuple[str, ...]]] = {
    "intake": {"intake.raw": "alerts.raw", "intake.alerts": "alerts"},
    "sla-clock": {"sla-clock": "incidents"},
    "router": {"router": "incidents", "router-sla": "sla"},
    "reporting": {"reporting": ("incidents", "assignments", "sla")},
}
"""Per service: its consumer groups on the alert path and the topics each reads (unprefixed).
Left out: intake's commands (the shared topic and every party's inbox) and sla-clock's
check-ins."""


def alert_path_reads(prefix: str, services: list[str]) -> dict[str, str | tuple[str, ...]]:
    """``services``' consumer groups and their topics on the alert path: with ``wait_consumed``,
    a proof that these services have handled every alert and event they were given."""
    return {
        f"{prefix}{group}": f"{prefix}{topics}"
        if isinstance(topics, str)
        else tuple(f"{prefix}{t}" for t in topics)
        for name, groups in ALERT_PATH_READS.items()
        if name in services
        for group, topics in groups.items()
    }


async def wait_consumed(
    bootstrap: str, reads: Mapping[str, str | Sequence[str]], timeout: float = 60
) -> None:
    """Poll until each consumer group of ``reads`` (group -> its topic or topics) has committed
    the end offset of every partition of its topics: all input handled, and since services
    publish before they commit, every output of that input is on its topic. Replaces "sleep,
    then look again".

    Each round reads every group's commits first and the end offsets after: a round in which
    all are caught up saw no record arrive between the two readings and every group done with
    all it had, so with no input from outside the groups' services are idle — together, whatever
    the order of ``reads``."""
    names = {
        group: [topics] if isinstance(topics, str) else list(topics)
        for group, topics in reads.items()
    }
    admin = AIOKafkaAdminClient(**kafka(bootstrap))
    probe = AIOKafkaConsumer(**kafka(bootstrap))
    await admin.start()
    await probe.start()
    behind: dict[str, list[tuple[str, int]]] = {}
    try:
        async with asyncio.timeout(timeout):
            described = await admin.describe_topics(
                sorted({t for ts in names.values() for t in ts})
            )
            parts = [
                TopicPartition(t["topic"], p["partition"])
                for t in described
                for p in t["partitions"]
            ]
            # assigned for the metadata, paused so that no fetch holds up the offset requests
            probe.assign(parts)
            probe.pause(*parts)
            tps = {group: [tp for tp in parts if tp.topic in ts] for group, ts in names.items()}
            while True:
                commits = await asyncio.gather(
                    *(admin.list_consumer_group_offsets(group) for group in reads)
                )
                ends = await probe.end_offsets([tp for group in reads for tp in tps[group]])
                behind = {}
                for group, committed in zip(reads, commits, strict=True):
                    done = {tp: max(meta.offset, 0) for tp, meta in committed.items()}
                    lagging = [
                        (f"{tp.topic}[{tp.partition}]", ends[tp] - done.get(tp, 0))
                        for tp in tps[group]
                        if ends[tp] > done.get(tp, 0)
                    ]
                    if lagging:
                        behind[group] = lagging
                if not behind:
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"consumers still behind after {timeout} s: {behind}") from None
    finally:
        await probe.stop()
        await admin.close()


async def timers_fired(dsn: str, table: str, by: datetime, timeout: float = 60) -> None:
    """Poll until no timer of ``table`` (``sla_clock.timers``, ``sla_clock.checkin_timers``)
    due by ``by`` is left unfired. sla-clock publishes before it marks a timer fired, so from
    here on its topics hold every event of those timers."""
    conn = await asyncpg.connect(dsn)
    pending = None
    try:
        async with asyncio.timeout(timeout):
            while pending != 0:
                pending = await conn.fetchval(
                    f"SELECT count(*) FROM {table} WHERE fired_at IS NULL AND due <= $1",
                    by,
                )
                if pending:
                    await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{pending} timers of {table} due by {by} still unfired") from None
    finally:
        await conn.close()


T = TypeVar("T")


async def reporting_holds(
    dsn: str,
    read: Callable[[Conn], Awaitable[T]],
    ready: Callable[[T], bool],
    timeout: float = 60,
) -> T:
    """What ``read`` finds in reporting's database once ``ready`` holds for it, read every
    0.2 s; TimeoutError after ``timeout`` seconds."""
    pool = await create_pool(dsn, "reporting")
    try:
        async with asyncio.timeout(timeout):
            while True:
                async with pool.acquire() as conn:
                    found = await read(conn)
                if ready(found):
                    return found
                await asyncio.sleep(0.2)
    finally:
        await pool.close()


async def polled(
    check: Callable[[], Awaitable[Any]],
    failure: str | Callable[[], str],
    timeout: float = 60,
    every: float = 0.1,
) -> Any:
    """``check()``'s first truthy answer, asked every ``every`` seconds; AssertionError with
    ``failure`` (a message, or what makes one from the state last seen) after ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                found = await check()
                if found:
                    return found
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(failure if isinstance(failure, str) else failure()) from None


def hmac_signed(secret: str, body: bytes) -> dict[str, str]:
    """The headers of a JSON ``body`` signed now with ``secret``, as a sender without a token
    (Zabbix' media type) sends it."""
    stamp = int(time.time())
    return {
        "content-type": "application/json",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: sign(secret, stamp, body),
    }


async def until(what: str, check: Callable[[], Awaitable[Any]], timeout: float = 90) -> Any:
    """``check()``'s first truthy answer, asked every half second; NeverArrived(``what``) if
    none comes within ``timeout`` seconds (for facts read over HTTP, not from topics)."""
    for _ in range(int(timeout / 0.5)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.5)
    raise NeverArrived(what)
