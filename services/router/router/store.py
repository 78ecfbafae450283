"""router's PostgreSQL rows: each incident's route, its acknowledgement timers, the assignments
issued and the webhook deliveries to push.

Only data moves here; every decision is in ``routing``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson

from router import outbox
from router.notify import Notice
from router.problems import OriginIncident, Problem
from router.routing import RouteState
from shared.db import Conn, lock_incident_documents


async def load(conn: Conn, incident_id: str | None) -> RouteState | None:
    raw = await conn.fetchval(
        "SELECT state FROM routes WHERE incident_id = $1 FOR UPDATE", incident_id
    )
    return RouteState.model_validate_json(raw) if raw is not None else None


async def save(conn: Conn, state: RouteState) -> None:
    await conn.execute(
        "INSERT INTO routes(incident_id, state, contract_version, primary_party, coordinator)"
        " VALUES ($1, $2::jsonb, $3, $4, $5) ON CONFLICT (incident_id) DO UPDATE SET"
        " state = excluded.state, primary_party = excluded.primary_party, updated_at = now()",
        state.incident_id,
        state.model_dump_json(),
        state.contract_version,
        state.primary,
        state.coordinator,
    )
    # the timers follow the state: pending ones added, dropped ones (acknowledged) removed
    await conn.execute(
        "DELETE FROM ack_timers WHERE incident_id = $1 AND fired_at IS NULL"
        " AND NOT (party = ANY($2::text[]))",
        state.incident_id,
        list(state.ack_due),
    )
    for party, due in state.ack_due.items():
        await conn.execute(
            "INSERT INTO ack_timers(incident_id, party, due_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (incident_id, party) DO NOTHING",
            state.incident_id,
            party,
            due,
        )


async def load_many(conn: Conn, incident_ids: list[str]) -> dict[str, RouteState]:
    """The routes of ``incident_ids`` that exist, locked in id order."""
    return await lock_incident_documents(conn, "routes", "state", incident_ids, RouteState)


async def save_many(conn: Conn, states: list[RouteState]) -> None:
    """``save`` for a batch of routes, set-based."""
    if not states:
        return
    await conn.executemany(
        "INSERT INTO routes(incident_id, state, contract_version, primary_party, coordinator)"
        " VALUES ($1, $2::jsonb, $3, $4, $5) ON CONFLICT (incident_id) DO UPDATE SET"
        " state = excluded.state, primary_party = excluded.primary_party, updated_at = now()",
        [
            (s.incident_id, s.model_dump_json(), s.contract_version, s.primary, s.coordinator)
            for s in states
        ],
    )
    # pending timers of the batch's routes that their state no longer has (acknowledged)
    pairs = [(s.incident_id, p) for s in states for p in s.ack_due]
    await conn.execute(
        "DELETE FROM ack_timers t WHERE t.incident_id = ANY($1::text[]) AND t.fired_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS k(i, p)"
        " WHERE k.i = t.incident_id AND k.p = t.party)",
        [s.incident_id for s in states],
        [i for i, _ in pairs],
        [p for _, p in pairs],
    )
    if pairs:
        await conn.execute(
            "INSERT INTO ack_timers(incident_id, party, due_at)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])"
            " ON CONFLICT (incident_id, party) DO NOTHING",
            [i for i, _ in pairs],
            [p for _, p in pairs],
            [s.ack_due[p] for s in states for p in s.ack_due],
        )


class Staged:
    """The database rows a batch's router events add beside their publication: assignments
    and webhook deliveries, written set-based before the commit."""

    def __init__(self) -> None:
        self.assignments: list[tuple[object, ...]] = []
        self.pushes: list[tuple[object, ...]] = []
        self.notices: list[Notice] = []

    async def write(self, conn: Conn) -> None:
        if self.assignments:
            await conn.executemany(
                "INSERT INTO assignments(incident_id, role, party, event_id, issued_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (incident_id, role) DO UPDATE"
                " SET party = excluded.party, event_id = excluded.event_id,"
                " issued_at = excluded.issued_at",
                self.assignments,
            )
        if self.pushes:
            await conn.executemany(
                "INSERT INTO webhook_deliveries(event_id, party, incident_id, url, body, next_at)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                self.pushes,
            )
        await outbox.write(conn, self.notices)


async def claim_deliveries(
    conn: Conn, now: datetime, lease_until: datetime, limit: int = 50
) -> list[Any]:
    """Take up to ``limit`` due webhook deliveries (oldest first; rows another instance holds
    are skipped): one more attempt counted, due again at ``lease_until`` should this instance
    die before recording the outcome. Committed on return."""
    return await conn.fetch(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = $2"
        " WHERE (event_id, party) IN (SELECT event_id, party FROM webhook_deliveries"
        " WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= $1"
        " ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *",
        now,
        lease_until,
        limit,
    )


async def delivered(conn: Conn, event_id: object, party: str, now: datetime, attempts: int) -> None:
    await conn.execute(
        "UPDATE webhook_deliveries SET delivered_at = $3, attempts = $4"
        " WHERE event_id = $1 AND party = $2",
        event_id, party, now, attempts,
    )  # fmt: skip


async def retry_later(
    conn: Conn, event_id: object, party: str, *, attempts: int, next_at: datetime, error: str
) -> None:
    await conn.execute(
        "UPDATE webhook_deliveries SET attempts = $3, next_at = $4,"
        " last_error = $5 WHERE event_id = $1 AND party = $2",
        event_id, party, attempts, next_at, error,
    )  # fmt: skip


async def given_up(
    conn: Conn, event_id: object, party: str, *, attempts: int, now: datetime, error: str
) -> None:
    await conn.execute(
        "UPDATE webhook_deliveries SET attempts = $3, failed_at = $4, last_error = $5"
        " WHERE event_id = $1 AND party = $2",
        event_id, party, attempts, now, error,
    )  # fmt: skip


async def due_ack_timers(conn: Conn, now: datetime, limit: int = 200) -> list[Any]:
    """Acknowledgement timers due at ``now`` and not fired, earliest first."""
    return await conn.fetch(
        "SELECT incident_id, party FROM ack_timers WHERE fired_at IS NULL"
        " AND due_at <= $1 ORDER BY due_at LIMIT $2",
        now,
        limit,
    )


async def lock_ack_timer(conn: Conn, incident_id: str, party: str, now: datetime) -> bool:
    """Lock the timer if it is still due and unfired and no other instance holds it."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM ack_timers WHERE incident_id = $1 AND party = $2"
            " AND fired_at IS NULL AND due_at <= $3 FOR UPDATE SKIP LOCKED",
            incident_id,
            party,
            now,
        )
    )


async def ack_timer_fired(conn: Conn, incident_id: str, party: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE ack_timers SET fired_at = $3 WHERE incident_id = $1 AND party = $2",
        incident_id,
        party,
        now,
    )


# --------------------------------------------------------------------------- problems (ADR 48)


async def count_on_origin(
    conn: Conn, incident_id: str, origin: str, opened_at: datetime
) -> list[OriginIncident]:
    """Record that ``incident_id`` counts on ``origin`` (a moved origin replaces the earlier
    one) and return the origin's incidents, the origin locked for this transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('problem:' || $1))", origin)
    await conn.execute(
        "INSERT INTO origin_incidents(incident_id, origin, opened_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (incident_id) DO UPDATE SET origin = EXCLUDED.origin",
        incident_id,
        origin,
        opened_at,
    )
    rows = await conn.fetch(
        "SELECT incident_id, origin, opened_at FROM origin_incidents WHERE origin = $1"
        " ORDER BY opened_at, incident_id",
        origin,
    )
    return [OriginIncident(r["incident_id"], r["origin"], r["opened_at"]) for r in rows]


async def open_problem(conn: Conn, origin: str) -> Problem | None:
    raw = await conn.fetchval(
        "SELECT record FROM problems WHERE origin = $1 AND status = 'open'", origin
    )
    return None if raw is None else _problem(raw)


def _problem(raw: str) -> Problem:
    doc = orjson.loads(raw)
    return Problem(
        **{
            **doc,
            "opened_at": datetime.fromisoformat(doc["opened_at"]),
            "fix_due": datetime.fromisoformat(doc["fix_due"]),
        }
    )


async def save_problem(conn: Conn, problem: Problem) -> None:
    record = orjson.dumps(asdict(problem)).decode()
    await conn.execute(
        "INSERT INTO problems(id, origin, status, record) VALUES ($1, $2, $3, $4::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, record = EXCLUDED.record",
        problem.id,
        problem.origin,
        problem.status,
        record,
    )


async def problem(conn: Conn, problem_id: str) -> Problem | None:
    """The problem record ``problem_id``, locked for this transaction."""
    raw = await conn.fetchval("SELECT record FROM problems WHERE id = $1 FOR UPDATE", problem_id)
    return None if raw is None else _problem(raw)


async def closed_problem_incidents(conn: Conn, origin: str) -> set[str]:
    """The incidents of ``origin``'s closed problems: they count towards no new one."""
    rows = await conn.fetch(
        "SELECT record FROM problems WHERE origin = $1 AND status = 'closed'", origin
    )
    return {i for r in rows for i in orjson.loads(r["record"])["incidents"]}
