"""Intake's incident state in PostgreSQL (schema ``intake``)."""

from __future__ import annotations

from intake.incidents import IncidentState, Status
from shared.db import Conn


async def find_open(conn: Conn, fingerprint: str, object_id: str | None) -> IncidentState | None:
    """The open incident an alert belongs to: same fingerprint, else same object. Locks it."""
    row = await conn.fetchrow(
        "SELECT i.state FROM open_fingerprints f JOIN incidents i ON i.id = f.incident_id"
        " WHERE f.fingerprint = $1 FOR UPDATE OF i",
        fingerprint,
    )
    if row is None and object_id is not None:
        row = await conn.fetchrow(
            "SELECT state FROM incidents WHERE object_id = $1 AND status <> 'closed'"
            " ORDER BY opened_at DESC LIMIT 1 FOR UPDATE",
            object_id,
        )
    return IncidentState.model_validate_json(row["state"]) if row else None


async def load(conn: Conn, incident_id: str) -> IncidentState | None:
    row = await conn.fetchrow("SELECT state FROM incidents WHERE id = $1 FOR UPDATE", incident_id)
    return IncidentState.model_validate_json(row["state"]) if row else None


async def save(conn: Conn, state: IncidentState) -> None:
    await conn.execute(
        "INSERT INTO incidents(id, object_id, status, opened_at, state)"
        " VALUES ($1, $2, $3, $4, $5::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state",
        state.id,
        state.object_id,
        state.status.value,
        state.opened_at,
        state.model_dump_json(),
    )
    if state.status == Status.CLOSED:
        await conn.execute("DELETE FROM open_fingerprints WHERE incident_id = $1", state.id)
    else:
        await conn.executemany(
            "INSERT INTO open_fingerprints(fingerprint, incident_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            [(fp, state.id) for fp in state.alerts],
        )
