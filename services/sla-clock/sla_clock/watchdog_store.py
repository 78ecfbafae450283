"""The watchdog's PostgreSQL rows: check-in states, their timers, the pings with their logs.

Only data moves here; every decision is in ``watchdog``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from shared.db import Conn
from sla_clock.watchdog import Outcome, State, Timer


def _state(row: Any) -> State:
    return State(
        key=row["key"],
        schedule=row["schedule"],
        watch_since=row["watch_since"],
        expected_at=row["expected_at"],
        last_success=row["last_success"],
        last_ping_at=row["last_ping_at"],
        last_ping_kind=row["last_ping_kind"],
        last_exit_status=row["last_exit_status"],
        started_at=row["started_at"],
        down=row["down"],
    )


async def load(conn: Conn, key: str) -> State | None:
    """The key's state, locked for this transaction."""
    row = await conn.fetchrow(
        "SELECT key, schedule, watch_since, expected_at, last_success, last_ping_at,"
        " last_ping_kind, last_exit_status, started_at, down"
        " FROM checkins WHERE key = $1 FOR UPDATE",
        key,
    )
    return None if row is None else _state(row)


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
        await conn.execute(
            "DELETE FROM checkin_timers WHERE key = $1 AND kind = ANY($2::text[])"
            " AND fired_at IS NULL",
            s.key,
            list(outcome.cancel),
        )
    if outcome.timers:
        await conn.executemany(
            "INSERT INTO checkin_timers (key, kind, expected_at, due, part)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            [(t.key, t.kind, t.expected_at, t.due, part) for t in outcome.timers],
        )


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


async def due_timers(conn: Conn, now: datetime, limit: int, parts: list[int]) -> list[Timer]:
    rows = await conn.fetch(
        "SELECT key, kind, expected_at, due FROM checkin_timers"
        " WHERE fired_at IS NULL AND due <= $1 AND part = ANY($3::int[])"
        " ORDER BY due LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
        parts,
    )
    return [Timer(r["key"], r["kind"], r["expected_at"], r["due"]) for r in rows]


async def mark_fired(conn: Conn, timer: Timer, now: datetime) -> None:
    await conn.execute(
        "UPDATE checkin_timers SET fired_at = $4 WHERE key = $1 AND kind = $2 AND expected_at = $3",
        timer.key,
        timer.kind,
        timer.expected_at,
        now,
    )


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
