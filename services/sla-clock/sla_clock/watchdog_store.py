"""The watchdog's PostgreSQL rows: check-in states, their timers, the pings with their logs.

Only data moves here; every decision is in ``watchdog``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from shared.db import Conn
from sla_clock.timer_port import table
from sla_clock.watchdog import Outcome, State, Timer

CHECKIN_TIMERS = table(Timer, "checkin_timers", ("key", "kind", "expected_at"))
"""Each check-in's missed and timed-out instants (ADR 16); they raise alerts, not events."""


async def load(conn: Conn, key: str) -> State | None:
    """The key's state, locked for this transaction."""
    row = await conn.fetchrow(
        "SELECT key, schedule, watch_since, expected_at, last_success, last_ping_at,"
        " last_ping_kind, last_exit_status, started_at, down"
        " FROM checkins WHERE key = $1 FOR UPDATE",
        key,
    )
    return None if row is None else State(**row)


async def save(conn: Conn, outcome: Outcome, *, name: str, part: int, grace: timedelta) -> None:
    """Store the state, drop the superseded unfired timers, add the new ones (a timer that
    fired once is never re-created: its primary key stays)."""
    s = outcome.state
    await conn.execute(
        "INSERT INTO checkins (key, name, part, schedule, watch_since, expected_at,"
        " last_success, last_ping_at, last_ping_kind, last_exit_status, started_at, down, grace)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT (key) DO UPDATE SET name = $2, part = $3, schedule = $4,"
        " expected_at = $6, last_success = $7, last_ping_at = $8, last_ping_kind = $9,"
        " last_exit_status = $10, started_at = $11, down = $12, grace = $13",
        s.key,
        name,
        part,
        s.schedule,
        s.watch_since,
        s.expected_at,
        s.last_success,
        s.last_ping_at,
        s.last_ping_kind,
        s.last_exit_status,
        s.started_at,
        s.down,
        grace,
    )
    if outcome.cancel:
        await CHECKIN_TIMERS.cancel(conn, [s.key], kind=outcome.cancel)
    await CHECKIN_TIMERS.schedule(conn, [(t, part) for t in outcome.timers])


async def record_ping(
    conn: Conn,
    event_id: uuid.UUID,
    *,
    key: str,
    at: datetime,
    kind: str,
    exit_status: int | None,
    body: str,
) -> bool:
    """Keep the ping and its log; False if this event was recorded before (a redelivery)."""
    done = await conn.fetchval(
        "INSERT INTO checkin_pings (event_id, key, at, kind, exit_status, body)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
        event_id,
        key,
        at,
        kind,
        exit_status,
        body,
    )
    return bool(done)


async def known(conn: Conn) -> dict[str, str]:
    """Every watched key and the schedule it was planned under."""
    return {r["key"]: r["schedule"] for r in await conn.fetch("SELECT key, schedule FROM checkins")}


async def snapshot(conn: Conn) -> list[dict[str, Any]]:
    """What the metrics show per check-in (by name, never by key)."""
    rows = await conn.fetch(
        "SELECT name, expected_at, last_success, last_ping_at, last_ping_kind, down, grace"
        " FROM checkins ORDER BY name"
    )
    return [dict(r) for r in rows]
