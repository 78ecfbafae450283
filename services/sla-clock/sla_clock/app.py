"""SLA clock's shell: consumes incidents, keeps clocks in PostgreSQL, ticks for deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from shared.db import mark_processed
from shared.events import (
    Clock,
    EventType,
    IncidentActionAcceptedV1,
    IncidentOpenedV1,
    SlaClockStartedV1,
)
from shared.kafka import publish_event
from shared.service import Runtime, create_app
from shared.topics import Topic
from sla_clock.clocks import STOPS, RunningClock, breach, start_clocks, stop_clock

SERVICE = "sla-clock"
log = logging.getLogger(SERVICE)


class SlaService:
    def __init__(self) -> None:
        self._ticker: asyncio.Task[None] | None = None

    def wire(self, rt: Runtime, _: APIRouter) -> None:
        self.rt = rt
        self.topic = rt.settings.topic(Topic.SLA)
        self.started = Counter(
            "baton_sla_clocks_started", "SLA clocks started", ["clock"], registry=rt.registry
        )
        self.breaches = Counter(
            "baton_sla_breaches",
            "SLA deadlines breached",
            ["clock", "party", "priority"],
            registry=rt.registry,
        )
        rt.broker.subscriber(
            rt.settings.topic(Topic.INCIDENTS),
            group_id=rt.settings.group(SERVICE),
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )(self.on_incident)

    async def on_incident(self, msg: KafkaMessage) -> None:
        rt = self.rt
        event = await rt.parse(msg)
        if event is None:
            return
        if event.type not in (EventType.INCIDENT_OPENED, EventType.ACTION_ACCEPTED):
            return
        now = rt.clock.now()
        async with rt.pool.acquire() as conn, conn.transaction():
            if not await mark_processed(conn, "incidents", event.id):
                return
            if event.type == EventType.INCIDENT_OPENED:
                opened = event.data
                assert isinstance(opened, IncidentOpenedV1)
                party = (
                    rt.contract.primary_party(opened.layer)
                    if opened.layer
                    else rt.contract.coordinator
                )
                for started in start_clocks(event, rt.contract, now):
                    data = started.data
                    assert isinstance(data, SlaClockStartedV1)
                    await publish_event(rt.broker, self.topic, started)
                    await conn.execute(
                        "INSERT INTO clocks(incident_id, clock, started_at, target, deadline,"
                        " calendar, priority, party) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                        " ON CONFLICT DO NOTHING",
                        started.subject,
                        data.clock.value,
                        data.started_at,
                        data.target,
                        data.deadline,
                        data.calendar,
                        opened.priority,
                        party,
                    )
                    self.started.labels(data.clock.value).inc()
                return
            accepted = event.data
            assert isinstance(accepted, IncidentActionAcceptedV1)
            clock = STOPS.get(accepted.action)
            if clock is None:
                return
            row = await conn.fetchrow(
                "SELECT deadline FROM clocks WHERE incident_id = $1 AND clock = $2"
                " AND stopped_at IS NULL FOR UPDATE",
                event.subject,
                clock.value,
            )
            if row is None:
                return
            stopped = stop_clock(
                event, RunningClock(event.subject or "", clock, row["deadline"]), now
            )
            await publish_event(rt.broker, self.topic, stopped)
            await conn.execute(
                "UPDATE clocks SET stopped_at = $3, met = $4 WHERE incident_id = $1 AND clock = $2",
                event.subject,
                clock.value,
                accepted.at,
                accepted.at <= row["deadline"],
            )

    async def tick_once(self) -> int:
        """Emit a breach for every running clock whose deadline has passed; returns how many."""
        rt = self.rt
        now = rt.clock.now()
        fired = 0
        async with rt.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT incident_id, clock, deadline, priority, party FROM clocks"
                " WHERE stopped_at IS NULL AND NOT breached AND deadline <= $1"
                " ORDER BY deadline LIMIT 500 FOR UPDATE SKIP LOCKED",
                now,
            )
            for row in rows:
                running = RunningClock(row["incident_id"], Clock(row["clock"]), row["deadline"])
                await publish_event(rt.broker, self.topic, breach(running, now))
                await conn.execute(
                    "UPDATE clocks SET breached = true WHERE incident_id = $1 AND clock = $2",
                    row["incident_id"],
                    row["clock"],
                )
                self.breaches.labels(row["clock"], row["party"], row["priority"]).inc()
                fired += 1
        return fired

    async def _tick_forever(self) -> None:
        while True:
            try:
                await self.tick_once()
            except Exception:  # the ticker must outlive a failed round; it retries next tick
                log.exception("tick failed")
            await asyncio.sleep(self.rt.settings.sla_tick_seconds)

    async def on_start(self, rt: Runtime) -> None:
        self._ticker = asyncio.create_task(self._tick_forever(), name="sla-tick")

    async def on_stop(self, rt: Runtime) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker


def build_app() -> FastAPI:
    service = SlaService()
    return create_app(
        SERVICE,
        service.wire,
        schema="sla_clock",
        migrations=Path(__file__).parent / "migrations",
        on_start=service.on_start,
        on_stop=service.on_stop,
    )
