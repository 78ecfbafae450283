"""The read model: how each event changes the incident row and when a closure report is due."""

from __future__ import annotations

import orjson

from shared.db import Conn
from shared.events import (
    ActionKind,
    AlertAttachedV1,
    Envelope,
    EventType,
    IncidentActionAcceptedV1,
    IncidentClosedV1,
    IncidentOpenedV1,
)


async def record(conn: Conn, topic: str, event: Envelope) -> bool:
    """Append the event to the audit trail; False if it was already there."""
    status: str = await conn.execute(
        "INSERT INTO incident_events(event_id, incident_id, topic, type, source, time, data)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING",
        event.id,
        event.subject,
        topic,
        event.type.value,
        event.source,
        event.time,
        orjson.dumps(event.data.model_dump(mode="json")).decode(),
    )
    return status.endswith(" 1")


async def project(conn: Conn, event: Envelope) -> None:
    data = event.data
    if event.type == EventType.INCIDENT_OPENED:
        assert isinstance(data, IncidentOpenedV1)
        await conn.execute(
            "INSERT INTO incidents(id, object_id, layer, category, priority, status, summary,"
            " outside_perimeter, first_alert_at, opened_at)"
            " VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            event.subject,
            data.object_id,
            data.layer.value if data.layer else None,
            data.category.value,
            data.priority,
            data.summary,
            data.outside_perimeter,
            data.first_alert_at,
            data.opened_at,
        )
    elif event.type == EventType.ALERT_ATTACHED:
        assert isinstance(data, AlertAttachedV1)
        await conn.execute(
            "UPDATE incidents SET alert_count = alert_count + 1 WHERE id = $1", event.subject
        )
    elif event.type == EventType.ACTION_ACCEPTED:
        assert isinstance(data, IncidentActionAcceptedV1)
        if data.action == ActionKind.ACKNOWLEDGE:
            await conn.execute(
                "UPDATE incidents SET acknowledged_at = coalesce(acknowledged_at, $2),"
                " status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END"
                " WHERE id = $1",
                event.subject,
                data.at,
            )
        elif data.action == ActionKind.RESTORED:
            await conn.execute(
                "UPDATE incidents SET restored_at = $2, status = 'restored' WHERE id = $1",
                event.subject,
                data.at,
            )
    elif event.type == EventType.INCIDENT_CLOSED:
        assert isinstance(data, IncidentClosedV1)
        await _close(conn, event.subject or "", data)


async def _close(conn: Conn, incident_id: str, data: IncidentClosedV1) -> None:
    row = await conn.fetchrow(
        "UPDATE incidents SET status = 'closed', closed_at = $2 WHERE id = $1"
        " RETURNING first_alert_at, restored_at",
        incident_id,
        data.closed_at,
    )
    if row is None:
        raise LookupError(f"incident {incident_id} closed before it was recorded as opened")
    assigned = await conn.fetch(
        "SELECT DISTINCT data->>'party' AS party FROM incident_events"
        " WHERE incident_id = $1 AND type = $2",
        incident_id,
        EventType.ASSIGNMENT_ISSUED.value,
    )
    customer = sorted({data.confirmed_by})
    provider = sorted({r["party"] for r in assigned} | set(data.participants) - set(customer))
    restored = row["restored_at"]
    await conn.execute(
        "INSERT INTO closure_reports(incident_id, cause, actions_taken, started_at, restored_at,"
        " closed_at, downtime, provider_participants, customer_participants, recurrence_risk,"
        " confirmed_by) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11)"
        " ON CONFLICT DO NOTHING",
        incident_id,
        data.cause,
        orjson.dumps(data.actions_taken).decode(),
        row["first_alert_at"],
        restored,
        data.closed_at,
        (restored - row["first_alert_at"]) if restored else None,
        orjson.dumps(provider).decode(),
        orjson.dumps(customer).decode(),
        data.recurrence_risk,
        data.confirmed_by,
    )
