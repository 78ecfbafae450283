"""Helpers for integration tests: documented payload shapes and topic readers."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from baton.stack import kafka_client, stack_credentials, stack_paths, stack_ports
from shared.events import Envelope, parse_event


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


async def wait_consumed(bootstrap: str, reads: dict[str, str], timeout: float = 60) -> None:
    """Poll until each consumer group of ``reads`` (group -> topic) has committed the end offset
    of every partition of its topic: all input handled, and since services publish before they
    commit, every output of that input is on its topic. Replaces "sleep, then look again"."""
    admin = AIOKafkaAdminClient(**kafka(bootstrap))
    probe = AIOKafkaConsumer(**kafka(bootstrap))
    await admin.start()
    await probe.start()
    behind: dict[str, list[tuple[int, int]]] = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                behind = {}
                for group, topic in reads.items():
                    (described,) = await admin.describe_topics([topic])
                    tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
                    ends = await probe.end_offsets(tps)
                    committed = await admin.list_consumer_group_offsets(group)
                    lagging = [
                        (tp.partition, ends[tp] - (committed[tp].offset if tp in committed else 0))
                        for tp in tps
                        if ends[tp] > (committed[tp].offset if tp in committed else 0)
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
