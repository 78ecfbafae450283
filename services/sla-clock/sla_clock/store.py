"""sla-clock's PostgreSQL rows: incident records, durable timers, the clocks read model.

Only data moves here; every decision is in ``timeline`` and ``decide``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import orjson

from shared.db import Conn
from shared.events import ClockKind
from sla_clock.cadence import UpdateTimer
from sla_clock.decide import Timer
from sla_clock.timeline import BREACH, ClockState, ClockView, IncidentRecord


async def load(conn: Conn, incident_id: str) -> IncidentRecord | None:
    """The incident's record, locked for this transaction."""
    raw = await conn.fetchval(
        "SELECT record FROM incident_clocks WHERE incident_id = $1 FOR UPDATE", incident_id
    )
    return None if raw is None else IncidentRecord.model_validate_json(raw)


async def load_many(conn: Conn, incident_ids: list[str]) -> dict[str, IncidentRecord]:
    """The records of ``incident_ids`` that exist, locked for this transaction."""
    rows = await conn.fetch(
        "SELECT incident_id, record FROM incident_clocks WHERE incident_id = ANY($1::text[])"
        " ORDER BY incident_id FOR UPDATE",
        incident_ids,
    )
    return {r["incident_id"]: IncidentRecord.model_validate_json(r["record"]) for r in rows}


Saved = tuple[IncidentRecord, dict[ClockKind, ClockView], list[Timer], int]
"""An incident's record, its clocks, its due timers, and its incidents-topic partition."""


async def save_many(conn: Conn, items: list[Saved]) -> None:
    """Store the records, reschedule their pending timers, refresh their clocks' read model.

    Fired timers are never rewritten (``ON CONFLICT DO NOTHING``): a threshold fires once.
    All timer rows are locked (deleted) before any clocks row, the order the tick locks them.
    """
    if not items:
        return
    await conn.executemany(
        "INSERT INTO incident_clocks(incident_id, record, facts) VALUES ($1, $2::jsonb, $3)"
        " ON CONFLICT (incident_id) DO UPDATE SET record = EXCLUDED.record,"
        " facts = EXCLUDED.facts, updated_at = now()",
        [(r.incident_id, r.model_dump_json(), len(r.facts)) for r, _, _, _ in items],
    )
    await conn.execute(
        "DELETE FROM timers WHERE incident_id = ANY($1::text[]) AND fired_at IS NULL",
        sorted(r.incident_id for r, _, _, _ in items),
    )
    timers = [(t, part) for _, _, ts, part in items for t in ts]
    if timers:
        await conn.executemany(
            "INSERT INTO timers(incident_id, clock, threshold, due, deadline, remaining, party,"
            " priority, category, part) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT DO NOTHING",
            [
                (
                    t.incident_id,
                    t.clock.value,
                    t.threshold,
                    t.due,
                    t.deadline,
                    t.remaining,
                    t.party,
                    t.priority,
                    t.category,
                    part,
                )
                for t, part in timers
            ],
        )
    clocks = [(record, clock, v) for record, views, _, _ in items for clock, v in views.items()]
    if clocks:
        await conn.executemany(
            "INSERT INTO clocks(incident_id, clock, started_at, target, deadline, calendar,"
            " priority, party, status, category, elapsed, paused, pause_reason, margin,"
            " stopped_at, met, paused_by_reason, paused_by_party) VALUES ($1, $2, $3, $4, $5,"
            " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb, $18::jsonb)"
            " ON CONFLICT (incident_id, clock) DO UPDATE SET"
            " started_at = EXCLUDED.started_at, target = EXCLUDED.target,"
            " deadline = EXCLUDED.deadline, calendar = EXCLUDED.calendar,"
            " priority = EXCLUDED.priority, status = EXCLUDED.status,"
            " category = EXCLUDED.category, elapsed = EXCLUDED.elapsed,"
            " paused = EXCLUDED.paused, pause_reason = EXCLUDED.pause_reason,"
            " margin = EXCLUDED.margin, stopped_at = EXCLUDED.stopped_at, met = EXCLUDED.met,"
            " paused_by_reason = EXCLUDED.paused_by_reason,"
            " paused_by_party = EXCLUDED.paused_by_party",
            [
                (
                    record.incident_id,
                    clock.value,
                    v.started_at,
                    v.policy.target,
                    v.deadline,
                    v.policy.calendar,
                    v.policy.priority,
                    record.party,
                    v.status.value,
                    v.policy.category.value,
                    v.elapsed,
                    v.paused,
                    v.open_pause.reason if v.open_pause else None,
                    v.margin if v.status == ClockState.STOPPED else None,
                    v.stopped_at,
                    v.met if v.status == ClockState.STOPPED else None,
                    _seconds(v.paused_by("reason")),
                    _seconds(v.paused_by("party")),
                )
                for record, clock, v in clocks
            ],
        )


def _seconds(by: dict[str, timedelta]) -> str:
    return orjson.dumps({k: v.total_seconds() for k, v in by.items()}).decode()


async def due_timers(conn: Conn, now: datetime, limit: int, partitions: list[int]) -> list[Timer]:
    """Pending timers of ``partitions`` due by ``now``, locked; rows another transaction holds
    are skipped (and a row fired meanwhile no longer matches ``fired_at IS NULL``)."""
    rows = await conn.fetch(
        "SELECT incident_id, clock, threshold, due, deadline, remaining, party, priority,"
        " category FROM timers WHERE fired_at IS NULL AND due <= $1 AND part = ANY($3::int[])"
        " ORDER BY due LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
        partitions,
    )
    return [
        Timer(
            incident_id=r["incident_id"],
            clock=ClockKind(r["clock"]),
            threshold=r["threshold"],
            due=r["due"],
            deadline=r["deadline"],
            remaining=r["remaining"],
            party=r["party"],
            priority=r["priority"],
            category=r["category"],
        )
        for r in rows
    ]


async def mark_fired(conn: Conn, fired: list[tuple[Timer, uuid.UUID]], now: datetime) -> None:
    await conn.executemany(
        "UPDATE timers SET fired_at = $4, event_id = $5"
        " WHERE incident_id = $1 AND clock = $2 AND threshold = $3",
        [(t.incident_id, t.clock.value, t.threshold, now, eid) for t, eid in fired],
    )
    breached = [(t.incident_id, t.clock.value) for t, _ in fired if t.threshold == BREACH]
    if breached:
        await conn.executemany(
            "UPDATE clocks SET breached = true WHERE incident_id = $1 AND clock = $2", breached
        )


async def open_clocks(conn: Conn) -> list[dict[str, object]]:
    """Every clock not stopped, for the metrics after a restart."""
    rows = await conn.fetch(
        "SELECT incident_id, clock, status, deadline, target, elapsed, calendar, pause_reason,"
        " priority, party FROM clocks WHERE status <> 'stopped'"
    )
    return [dict(r) for r in rows]


# --------------------------------------------------------------------------- update cadence


async def save_update_timers(conn: Conn, items: list[tuple[str, list[UpdateTimer], int]]) -> None:
    """Reschedule the pending update timers of each (incident, timers, partition); fired rows
    stay fired (ADR 47)."""
    if not items:
        return
    await conn.execute(
        "DELETE FROM update_timers WHERE incident_id = ANY($1::text[]) AND fired_at IS NULL",
        sorted(incident for incident, _, _ in items),
    )
    rows = [
        (
            t.incident_id,
            t.seq,
            t.kind,
            t.due,
            t.update_due,
            t.every,
            t.last_update_at,
            t.coordinator,
            t.priority,
            part,
        )
        for _, timers, part in items
        for t in timers
    ]
    if rows:
        await conn.executemany(
            "INSERT INTO update_timers(incident_id, seq, kind, due, update_due, every,"
            " last_update_at, coordinator, priority, part)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            rows,
        )


async def due_update_timers(
    conn: Conn, now: datetime, limit: int, partitions: list[int]
) -> list[UpdateTimer]:
    """Pending update timers of ``partitions`` due by ``now``, locked (``SKIP LOCKED``)."""
    rows = await conn.fetch(
        "SELECT incident_id, seq, kind, due, update_due, every, last_update_at, coordinator,"
        " priority FROM update_timers WHERE fired_at IS NULL AND due <= $1"
        " AND part = ANY($3::int[]) ORDER BY due LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
        partitions,
    )
    return [
        UpdateTimer(
            incident_id=r["incident_id"],
            seq=r["seq"],
            kind=r["kind"],
            due=r["due"],
            update_due=r["update_due"],
            every=r["every"],
            last_update_at=r["last_update_at"],
            coordinator=r["coordinator"],
            priority=r["priority"],
        )
        for r in rows
    ]


async def mark_update_timers_fired(
    conn: Conn, fired: list[tuple[UpdateTimer, uuid.UUID]], now: datetime
) -> None:
    await conn.executemany(
        "UPDATE update_timers SET fired_at = $4, event_id = $5"
        " WHERE incident_id = $1 AND seq = $2 AND kind = $3",
        [(t.incident_id, t.seq, t.kind, now, eid) for t, eid in fired],
    )
