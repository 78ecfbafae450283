"""Intake's incident state in PostgreSQL (schema ``intake``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson

from intake.decide import OpenIncidents
from intake.incidents import IncidentState
from shared.db import Conn
from shared.events import Alert, IncidentStatus


def _state(row: Any) -> IncidentState | None:
    return IncidentState.model_validate_json(row["state"]) if row else None


async def open_for_batch(conn: Conn, fingerprints: list[str], objects: list[str]) -> OpenIncidents:
    """The incidents holding any of ``fingerprints`` and the open ones on any of ``objects``,
    locked in id order (one statement, so two instances never deadlock on them)."""
    rows = await conn.fetch(
        "SELECT id, state FROM incidents WHERE id IN"
        " (SELECT incident_id FROM open_fingerprints WHERE fingerprint = ANY($1::text[]))"
        " OR (status <> 'closed' AND (object_id = ANY($2::text[]) OR objects && $2::text[]))"
        " ORDER BY id FOR UPDATE",
        fingerprints,
        objects,
    )
    owners = await conn.fetch(
        "SELECT fingerprint, incident_id FROM open_fingerprints"
        " WHERE fingerprint = ANY($1::text[])",
        fingerprints,
    )
    return OpenIncidents(
        {r["id"]: IncidentState.model_validate_json(r["state"]) for r in rows},
        {r["fingerprint"]: r["incident_id"] for r in owners},
    )


async def save_many(conn: Conn, incidents: OpenIncidents) -> None:
    """Write the incidents a batch of alerts changed."""
    await save_states(conn, list(incidents.changed.values()), incidents.loaded)


async def save_states(
    conn: Conn, states: list[IncidentState], before: dict[str, IncidentState]
) -> None:
    """Write changed incidents (``before``: as they were read): rows upserted, the fingerprint
    index kept, set-based."""
    if not states:
        return
    await conn.executemany(
        "INSERT INTO incidents(id, object_id, status, opened_at, state, objects, last_alert_at)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)"
        " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state,"
        " objects = EXCLUDED.objects, last_alert_at = EXCLUDED.last_alert_at",
        [
            (
                s.id,
                s.object_id,
                s.status.value,
                s.opened_at,
                s.model_dump_json(),
                s.failing,
                s.last_alert_at,
            )
            for s in states
        ],
    )
    closed = [s.id for s in states if s.status == IncidentStatus.CLOSED]
    if closed:
        await conn.execute(
            "DELETE FROM open_fingerprints WHERE incident_id = ANY($1::text[])", closed
        )
    new: list[tuple[str, str]] = []
    for s in states:
        if s.status == IncidentStatus.CLOSED:
            continue
        old = before.get(s.id)
        indexed = old.alerts if old is not None and old.status != IncidentStatus.CLOSED else {}
        new.extend((fp, s.id) for fp in s.alerts if fp not in indexed)
    if new:
        await conn.execute(
            "INSERT INTO open_fingerprints(fingerprint, incident_id)"
            " SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            [fp for fp, _ in new],
            [i for _, i in new],
        )


async def held_among(conn: Conn, fingerprints: list[str]) -> set[str]:
    """Which of ``fingerprints`` a maintenance window holds."""
    rows = await conn.fetch(
        "SELECT fingerprint FROM maintenance_alerts WHERE fingerprint = ANY($1::text[])",
        fingerprints,
    )
    return {r["fingerprint"] for r in rows}


async def load_many(conn: Conn, incident_ids: list[str]) -> dict[str, IncidentState]:
    """The incidents among ``incident_ids`` that exist, locked in id order."""
    rows = await conn.fetch(
        "SELECT id, state FROM incidents WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
        incident_ids,
    )
    return {r["id"]: IncidentState.model_validate_json(r["state"]) for r in rows}


Verdict = tuple[uuid.UUID, str, int, str, str, str]
"""(command id, incident, status, reason, party, digest of the action)"""


async def record_outcomes(conn: Conn, outcomes: list[Verdict]) -> None:
    """The verdicts on a batch of commands."""
    if outcomes:
        await conn.executemany(
            "INSERT INTO command_outcomes(command_id, incident_id, status, reason, party, digest)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            outcomes,
        )


async def load(conn: Conn, incident_id: str) -> IncidentState | None:
    """The incident, locked for the rest of the transaction."""
    row = await conn.fetchrow("SELECT state FROM incidents WHERE id = $1 FOR UPDATE", incident_id)
    return _state(row)


async def save(conn: Conn, state: IncidentState) -> None:
    await conn.execute(
        "INSERT INTO incidents(id, object_id, status, opened_at, state, objects, last_alert_at)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)"
        " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state,"
        " objects = EXCLUDED.objects, last_alert_at = EXCLUDED.last_alert_at",
        state.id,
        state.object_id,
        state.status.value,
        state.opened_at,
        state.model_dump_json(),
        state.failing,
        state.last_alert_at,
    )
    if state.status == IncidentStatus.CLOSED:
        await conn.execute("DELETE FROM open_fingerprints WHERE incident_id = $1", state.id)
    else:
        await conn.executemany(
            "INSERT INTO open_fingerprints(fingerprint, incident_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            [(fp, state.id) for fp in state.alerts],
        )


# ------------------------------------------------------------------ maintenance windows


async def hold(conn: Conn, alert: Alert, window_id: str, at: datetime, event: bytes) -> None:
    """Keep a firing alert that arrived inside an approved maintenance window."""
    await conn.execute(
        "INSERT INTO maintenance_alerts(fingerprint, object_id, window_id, received_at, event)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (fingerprint) DO UPDATE"
        " SET window_id = EXCLUDED.window_id",
        alert.fingerprint,
        alert.object_id,
        window_id,
        at,
        event.decode(),
    )


async def release(conn: Conn, fingerprint: str) -> bool:
    """Forget a held alert (it recovered inside its window); False if none was held."""
    status: str = await conn.execute(
        "DELETE FROM maintenance_alerts WHERE fingerprint = $1", fingerprint
    )
    return status.endswith(" 1")


async def held(conn: Conn, limit: int = 100) -> list[tuple[str, str, bytes]]:
    """Held alerts, locked for this transaction (others skip them): fingerprint, object, event."""
    rows = await conn.fetch(
        "SELECT fingerprint, object_id, event::text AS event FROM maintenance_alerts"
        " ORDER BY received_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return [(r["fingerprint"], r["object_id"], r["event"].encode()) for r in rows]


async def record_change(
    conn: Conn,
    change_id: uuid.UUID,
    *,
    object_id: str | None,
    summary: str,
    source: str | None,
    at: datetime,
    event: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO object_changes(id, object_id, summary, source, at, event)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING",
        change_id,
        object_id,
        summary,
        source,
        at,
        orjson.dumps(event).decode(),
    )


async def changes(conn: Conn, object_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The most recent change events recorded on an object, newest first."""
    rows = await conn.fetch(
        "SELECT summary, source, at, event::text AS event FROM object_changes"
        " WHERE object_id = $1 ORDER BY at DESC LIMIT $2",
        object_id,
        limit,
    )
    return [
        {
            "summary": r["summary"],
            "source": r["source"],
            "at": r["at"].isoformat(),
            "links": [link["href"] for link in orjson.loads(r["event"]).get("links", [])],
        }
        for r in rows
    ]


# ------------------------------------------------------------------ command verdicts


async def outcome(conn: Conn, command_id: uuid.UUID, party: str) -> tuple[int, str, str] | None:
    """The verdict on ``party``'s command ``command_id``: status, reason, the action's digest."""
    row = await conn.fetchrow(
        "SELECT status, reason, digest FROM command_outcomes WHERE command_id = $1 AND party = $2",
        command_id,
        party,
    )
    return (int(row["status"]), str(row["reason"]), str(row["digest"])) if row else None


async def first_use(conn: Conn, signature: str, expires_at: datetime, now: datetime) -> bool:
    """Record ``signature`` until ``expires_at``; False when it was recorded before and has not
    expired (a replayed request). Expired signatures are dropped on the way."""
    await conn.execute("DELETE FROM seen_signatures WHERE expires_at < $1", now)
    inserted = await conn.fetchval(
        "INSERT INTO seen_signatures(signature, expires_at) VALUES ($1, $2)"
        " ON CONFLICT (signature) DO NOTHING RETURNING true",
        signature,
        expires_at,
    )
    return bool(inserted)
