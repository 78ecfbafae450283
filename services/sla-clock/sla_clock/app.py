"""SLA clock's shell: consumes incidents, keeps clocks and timers in PostgreSQL, ticks for them.

Per incident event, one transaction: record the event as processed, load the incident's record
(locked), fold it before and after the new fact (``decide.apply``), publish the clock events
(deterministic ids), store the record and reschedule its pending timers, commit. The tick fires
due timers in its own transactions: lock them (``FOR UPDATE SKIP LOCKED``, so two instances never
fire one row), publish the warning or breach, mark them fired, commit. A crash before the commit
repeats the same event ids; consumers drop the repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from fastapi import APIRouter, FastAPI
from faststream.kafka.annotations import KafkaMessage

from shared.calendar import BusinessCalendar
from shared.clock import SystemClock
from shared.contract import Contract
from shared.contract.versions import ContractVersions
from shared.contract.view import ContractView
from shared.db import Conn, mark_processed_many
from shared.events import (
    ClockKind,
    Envelope,
    EventType,
    SlaClockStartedV1,
    SlaClockStoppedV1,
)
from shared.kafka import Outbox, key_partition
from shared.service import Runtime, Service, create_app
from shared.settings import Settings
from shared.topics import Topic
from sla_clock import access_timers, store
from sla_clock.cadence import UpdateTimer, fire_update, update_timers
from sla_clock.decide import apply, fire, timers
from sla_clock.metrics import OpenClock, SlaMetrics, at_risk, build_metrics
from sla_clock.ownership import Ownership
from sla_clock.simclock import clock_from
from sla_clock.timeline import BREACH, ClockState, IncidentRecord, Rules, ended_pauses, fold
from sla_clock.timer_port import TimerTable, drain
from sla_clock.watchdog_app import Watchdog

SERVICE = "sla-clock"
HANDLED = frozenset(
    {
        EventType.INCIDENT_OPENED,
        EventType.ACTION_ACCEPTED,
        EventType.INCIDENT_RECLASSIFIED,
        EventType.ORIGIN_MOVED,  # moves the party the clocks are labelled with
        EventType.ACCESS_REQUEST,  # late access or approval pauses recovery (ADR 50)
    }
)
log = logging.getLogger(SERVICE)
T = TypeVar("T")


class SlaService(Service):
    def wire(self, rt: Runtime, router: APIRouter) -> None:
        self.rt = rt
        self.watchdog = Watchdog()
        self.watchdog.wire(rt, router)
        # every version seen, by hash: an open incident's clocks keep the version they started
        # under; stored so that a restart still knows the versions the topic no longer has
        self.contracts = ContractVersions(rt.contract)
        self.rules = Rules(rt.view, self.contracts.known)
        # a contract published later (or found on the topic at start) replaces the rules the
        # handlers and the tick read; registered here, before the lifespan reads the topic
        rt.on_contract(self.adopt)
        self.topic = rt.settings.topic(Topic.SLA)
        self.metrics: SlaMetrics = build_metrics(rt.registry, rt.clock.now, self.calendar)
        self.ownership = Ownership(
            lambda: self.subscriber.consumer,
            assigned=self.load_open_clocks,
            revoked=self.metrics.open.drop,
        )
        self.subscriber = rt.batch_subscriber(
            rt.settings.topic(Topic.INCIDENTS),
            group=SERVICE,
            listener=self.ownership,
        )
        self.subscriber(self.on_incidents)

    async def load_open_clocks(self, partitions: list[int], count: int) -> None:
        """The open clocks of the incidents of ``partitions``, gained at a rebalance, as the
        database has them: each instance's gauges count the clocks of the partitions it owns,
        so the dashboards' ``sum()`` over instances counts each clock once (ADR 67)."""
        async with self.rt.pool.acquire() as conn:
            rows = await store.open_clocks(conn)
        for row in rows:
            incident_id = str(row["incident_id"])
            part = key_partition(incident_id.encode(), count) if count else 0
            if part not in partitions:
                continue
            clock = ClockKind(str(row["clock"]))
            self.metrics.open.clocks[(incident_id, clock)] = OpenClock(
                status=ClockState(str(row["status"])),
                reason=str(row["pause_reason"] or ""),
                deadline=row["deadline"],  # type: ignore[arg-type]
                target=row["target"],  # type: ignore[arg-type]
                elapsed=row["elapsed"],  # type: ignore[arg-type]
                calendar=str(row["calendar"]),
                at_risk_share=at_risk(self.rules.view.thresholds[clock]),
                priority=str(row["priority"]),
                party=str(row["party"]),
                part=part,
            )

    def adopt(self, contract: Contract) -> None:
        self.contracts.adopt(contract)
        self.rules = Rules(ContractView.of(contract), self.contracts.known)

    async def versions(self, conn: Conn) -> None:
        """Store the versions adopted since the last batch; load the stored ones once."""
        await self.contracts.sync(conn)

    def calendar(self, calendar_id: str) -> BusinessCalendar:
        """A calendar of the contract in force (the metrics ask at scrape time)."""
        return self.rules.view.calendar(calendar_id)

    async def on_incidents(self, msg: KafkaMessage) -> None:
        """One batch of the incidents topic: one transaction, one offset commit.

        A failure rolls the whole batch back and seeks every partition to its first record
        (``NACK_ON_ERROR``); the replay repeats the same event ids.
        """
        records = self.rt.records(msg, SERVICE)
        events: list[tuple[Envelope, int]] = []
        for record in records:
            event = await self.rt.parse_record(record)
            if event is not None and event.type in HANDLED and event.subject:
                events.append((event, record.partition))
        if events:
            await self.handle(events)
        # reached only when the handling did not raise: the offsets are about to be committed
        for record in records:
            self.ownership.processed(record.partition, record.offset)

    async def handle(self, events: list[tuple[Envelope, int]]) -> None:
        rt = self.rt
        now = rt.clock.now()
        out: list[Envelope] = []
        async with rt.pool.acquire() as conn, conn.transaction():
            await self.versions(conn)
            fresh = await mark_processed_many(conn, "incidents", [e.id for e, _ in events])
            subjects = sorted({e.subject or "" for e, _ in events if e.id in fresh})
            before: dict[str, IncidentRecord] = await store.load_many(conn, subjects)
            current: dict[str, IncidentRecord | None] = dict(before)
            parts: dict[str, int] = {}
            for event, part in events:
                if event.id not in fresh:
                    continue
                fresh.discard(event.id)  # a message repeated inside the batch counts once
                subject = event.subject or ""
                if event.type == EventType.ACCESS_REQUEST:
                    after, emitted = await access_timers.on_event(
                        conn,
                        record=current.get(subject),
                        event=event,
                        part=part,
                        rules=self.rules,
                        now=now,
                    )
                else:
                    after, emitted = apply(current.get(subject), event, self.rules, now)
                if after is None or after == current.get(subject):
                    continue
                current[subject] = after
                parts[subject] = part
                out.extend(emitted)
            saved: list[store.Saved] = []
            cadence: list[tuple[str, list[UpdateTimer], int]] = []
            for subject, part in parts.items():
                record = current[subject]
                assert record is not None
                views = fold(record, self.rules)
                saved.append((record, views, timers(record, views, self.rules), part))
                cadence.append((subject, update_timers(record, views, self.rules), part))
            # publish (waiting for acks=all) while the rows are written; both finish before the
            # commit, so a crash in between replays the batch and republishes the same ids
            await asyncio.gather(self.save(conn, saved, cadence), self.publish(out))
            rt.crash_point(SERVICE)
        for record, views, _, part in saved:
            self.metrics.open.update(
                record.incident_id,
                views,
                priority=record.priority,
                party=record.party,
                part=part,
            )
            old = before.get(record.incident_id)
            if old is not None:
                for clock, pause in ended_pauses(fold(old, self.rules), views):
                    self.metrics.paused_seconds.labels(clock.value, pause.reason, pause.party).inc(
                        pause.excluded.total_seconds()
                    )
        for e in out:
            if isinstance(e.data, SlaClockStartedV1):
                self.metrics.started.labels(e.data.clock.value).inc()
            elif isinstance(e.data, SlaClockStoppedV1):
                self.metrics.stopped.labels(e.data.clock.value, str(e.data.met).lower()).inc()

    @staticmethod
    async def save(
        conn: Conn, saved: list[store.Saved], cadence: list[tuple[str, list[UpdateTimer], int]]
    ) -> None:
        """The records, their clock timers, then their update timers (the tick's lock order)."""
        await store.save_many(conn, saved)
        await store.save_update_timers(conn, cadence)

    async def publish(self, events: list[Envelope]) -> None:
        """Publish ``events`` in order (per incident, on its partition) and wait for the broker
        once."""
        outbox = Outbox(self.rt.broker)
        outbox.extend(self.topic, events)
        await outbox.flush()

    async def tick_once(self) -> int:
        """Fire every SLA timer that fell due, in batches; returns how many fired."""
        return await drain(self._fire_batch, self.rt.settings.sla_fire_batch)

    async def fire_access(self) -> int:
        """Pause the clocks of incidents whose access request's lead time passed unanswered."""
        ready = self.ownership.ready()
        if not ready:
            return 0
        now = self.rt.clock.now()
        async with self.rt.pool.acquire() as conn, conn.transaction():
            saved, out = await access_timers.fire_due(
                conn,
                now=now,
                limit=self.rt.settings.sla_fire_batch,
                partitions=ready,
                rules=self.rules,
            )
            if saved:
                await asyncio.gather(store.save_many(conn, saved), self.publish(out))
        return len(saved)

    async def _fire_due(
        self,
        table: TimerTable[T],
        fire_one: Callable[[T, datetime], Envelope],
        limit: int,
        then: Callable[[Conn, list[T]], Awaitable[None]] | None = None,
    ) -> tuple[list[T], datetime]:
        """One batch of ``table``'s due timers of the partitions owned and caught up on: locked,
        their events published, marked fired with the events' ids (and ``then``), committed."""
        ready = self.ownership.ready()
        now = self.rt.clock.now()
        if not ready:
            return [], now
        async with self.rt.pool.acquire() as conn, conn.transaction():
            due = await table.due(conn, now, partitions=ready, limit=limit)
            if not due:
                return [], now
            events = [fire_one(t, now) for t in due]
            await self.publish(events)
            await table.mark_fired(conn, [(t, e.id) for t, e in zip(due, events, strict=True)], now)
            if then is not None:
                await then(conn, due)
        return due, now

    async def _fire_batch(self, limit: int) -> int:
        due, now = await self._fire_due(store.SLA_TIMERS, fire, limit, store.mark_breached)
        for t in due:
            self.metrics.fire_lag.observe(max((now - t.due).total_seconds(), 0.0))
            if t.threshold == BREACH:
                self.metrics.breaches.labels(t.clock.value, t.party, t.priority).inc()
            else:
                self.metrics.warnings.labels(t.clock.value, str(t.threshold)).inc()
        return len(due)

    async def updates_once(self) -> int:
        """Fire every update reminder and overdue that fell due (ADR 47); returns how many."""
        return await drain(self._fire_updates, self.rt.settings.sla_fire_batch)

    async def _fire_updates(self, limit: int) -> int:
        due, _ = await self._fire_due(store.UPDATE_TIMERS, fire_update, limit)
        for t in due:
            self.metrics.updates.labels(t.kind, t.coordinator, t.priority).inc()
        return len(due)

    async def on_start(self, rt: Runtime) -> None:
        rt.tick(
            "sla-tick",
            rt.settings.sla_tick_seconds,
            ("tick", self.tick_once),
            ("access tick", self.fire_access),
            ("update cadence", self.updates_once),
            ("check-in tick", self.watchdog.tick_once),
        )


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_app(
        SERVICE,
        SlaService(),
        schema="sla_clock",
        migrations=Path(__file__).parent / "migrations",
        settings=settings,
        clock=clock_from(settings, SystemClock()),
    )
