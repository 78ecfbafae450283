"""sla-clock's PostgreSQL rows: incident records, durable timers, the clocks read model.

Only data moves here; every decision is in ``timeline`` and ``decide``.
"""

from __future__ import annotations

from datetime import timedelta

import orjson

from shared.db import Conn, lock_incident_documents
from shared.events import ClockKind
from sla_clock.cadence import UpdateTimer
from sla_clock.decide import Timer
from sla_clock.timeline import BREACH, ClockState, ClockView, IncidentRecord
from sla_clock.timer_port import table

SLA_TIMERS = table(
    Timer,
    "timers",
    ("incident_id", "clock", "threshold"),
    read=lambda r: Timer(**{**r, "clock": ClockKind(r["clock"])}),
    keeps_event_id=True,
)
"""The SLA thresholds of each clock (50/75/90 ... and 100 = breach)."""

UPDATE_TIMERS = table(
    UpdateTimer, "update_timers", ("incident_id", "seq", "kind"), keeps_event_id=True
)
"""The reminder and overdue instant of each open incident's next customer update (ADR 47)."""


async def load(conn: Conn, incident_id: str) -> IncidentRecord | None:
    """The incident's record, locked for this transaction."""
    raw = await conn.fetchval(
        "SELECT record FROM incident_clocks WHERE incident_id = $1 FOR UPDATE", incident_id
    )
    return None if raw is None else IncidentRecord.model_validate_json(raw)


async def load_many(conn: Conn, incident_ids: list[str]) -> dict[str, IncidentRecord]:
    """The records of ``incident_ids`` that exist, locked for this transaction in id order."""
    return await lock_incident_documents(
        conn, "incident_clocks", "record", incident_ids, IncidentRecord
    )


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
    await SLA_TIMERS.cancel(conn, [r.incident_id for r, _, _, _ in items])
    await SLA_TIMERS.schedule(conn, [(t, part) for _, _, ts, part in items for t in ts])
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


async def mark_breached(conn: Conn, fired: list[Timer]) -> None:
    """The clocks whose breach fired are breached in the read model."""
    breached = [(t.incident_id, t.clock.value) for t in fired if t.threshold == BREACH]
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
    await UPDATE_TIMERS.cancel(conn, [incident for incident, _, _ in items])
    await UPDATE_TIMERS.schedule(conn, [(t, part) for _, timers, part in items for t in timers])
