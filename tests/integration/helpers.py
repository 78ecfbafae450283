"""Helpers for integration tests: documented payload shapes and topic readers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer

from shared.events import Envelope, parse_event


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


async def collect(bootstrap: str, topic: str, want: int, timeout: float = 60) -> list[Envelope]:
    """Read ``topic`` from the start until ``want`` events arrived (or fail on timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"probe-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    events: list[Envelope] = []
    try:
        async with asyncio.timeout(timeout):
            while len(events) < want:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    events.extend(parse_event(r.value) for r in records)
    except TimeoutError:
        raise AssertionError(f"{topic}: got {len(events)} of {want} events: {events}") from None
    finally:
        await consumer.stop()
    return events


async def collect_until(
    bootstrap: str, topic: str, done: Callable[[list[Envelope]], bool], timeout: float = 60
) -> list[Envelope]:
    """Read ``topic`` from the start until ``done(events)`` holds (or fail on timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"probe-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    events: list[Envelope] = []
    try:
        async with asyncio.timeout(timeout):
            while not done(events):
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    events.extend(parse_event(r.value) for r in records)
    except TimeoutError:
        raise AssertionError(f"{topic}: condition not met by {len(events)} events") from None
    finally:
        await consumer.stop()
    return events
