"""The watchdog's PostgreSQL rows: check-in states, their timers, the pings with their logs.

Only data moves here; every decision is in ``watchdog``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from shared.db import Conn
from shared.events import CheckinPingV1
from sla_clock.timer_port import table
from sla_clock.watchdog import Outcome, State, Timer

CHECKIN_TIMERS = table(Timer, "checkin_timers", ("key", "kind", "expected_at"))
"""Each check-in's missed and timed-out instants (ADR 16); they raise alerts, not events."""


async def load(conn: Conn, key: str) -> State | None:
    """The key's state, locked for this transaction."""
    return (await load_many(conn, [key])).get(key)


async def load_many(conn: Conn, keys: list[str]) -> dict[str, State]:
    """The states of ``keys`` that exist, locked for this transaction in one order.

    The keys are locked whether their row exists or not (an advisory lock per key): a first
    ping and the tick's plan of a newly watched key both start from "no row", and without the
    lock the later commit overwrote the earlier one's state (a ``fail`` ping lost to a plan)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext('checkin:' || k) AS h"
        " FROM unnest($1::text[]) AS k ORDER BY h) AS locks",
        keys,
    )
    rows = await conn.fetch(
        "SELECT key, schedule, watch_since, expected_at, last_success, last_ping_at,"
        " last_ping_kind, last_exit_status, started_at, down"
        " FROM checkins WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE",
        keys,
    )
    return {r["key"]: State(**r) for r in rows}


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


async def record_pings(conn: Conn, pings: list[tuple[uuid.UUID, CheckinPingV1]]) -> set[uuid.UUID]:
    """Keep the pings with their logs in one statement; the ids not recorded before (a
    redelivery, or a repeat inside the batch, is not new)."""
    rows = await conn.fetch(
        "INSERT INTO checkin_pings (event_id, key, at, kind, exit_status, body)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[],"
        " $5::int[], $6::text[]) ON CONFLICT DO NOTHING RETURNING event_id",
        [eid for eid, _ in pings],
        [p.key for _, p in pings],
        [p.at for _, p in pings],
        [p.kind for _, p in pings],
        [p.exit_status for _, p in pings],
        [p.body for _, p in pings],
    )
    return {r["event_id"] for r in rows}


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
