"""The read model: how each event changes the incident row and when a closure report is due."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson

from shared.db import Conn
from shared.events import (
    ActionKind,
    AlertAttachedV1,
    AssignmentIssuedV1,
    Envelope,
    EventType,
    IncidentActionAcceptedV1,
    IncidentClosedV1,
    IncidentOpenedV1,
    Role,
    SlaBreachedV1,
    SlaClockStartedV1,
    SlaClockStoppedV1,
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
        # assignments may have been recorded before the incident itself (another topic)
        await conn.execute(
            "UPDATE incidents SET"
            " primary_party = (SELECT data->>'party' FROM incident_events WHERE incident_id = $1"
            "   AND type = $2 AND data->>'role' = 'primary' ORDER BY time DESC LIMIT 1),"
            " coordinator = (SELECT data->>'party' FROM incident_events WHERE incident_id = $1"
            "   AND type = $2 AND data->>'role' = 'coordinator' ORDER BY time DESC LIMIT 1)"
            " WHERE id = $1",
            event.subject,
            EventType.ASSIGNMENT_ISSUED.value,
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
        elif data.action == ActionKind.REJECT:  # the customer says it is not restored
            await conn.execute(
                "UPDATE incidents SET restored_at = NULL, status = 'acknowledged' WHERE id = $1",
                event.subject,
            )
        elif data.action == ActionKind.REOPEN:
            await conn.execute(
                "UPDATE incidents SET restored_at = NULL, closed_at = NULL,"
                " status = 'acknowledged' WHERE id = $1",
                event.subject,
            )
            await conn.execute("DELETE FROM closure_reports WHERE incident_id = $1", event.subject)
    elif event.type == EventType.INCIDENT_CLOSED:
        assert isinstance(data, IncidentClosedV1)
        await _close(conn, event.subject or "", data)
    elif event.type == EventType.ASSIGNMENT_ISSUED:
        assert isinstance(data, AssignmentIssuedV1)
        column = "primary_party" if data.role == Role.PRIMARY else "coordinator"
        await conn.execute(
            f"UPDATE incidents SET {column} = $2 WHERE id = $1",  # noqa: S608
            event.subject,
            data.party,
        )
    elif event.type == EventType.SLA_CLOCK_STARTED:
        assert isinstance(data, SlaClockStartedV1)
        await conn.execute(
            "INSERT INTO sla_clocks(incident_id, clock, started_at, target, deadline, calendar)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (incident_id, clock) DO UPDATE"
            " SET target = EXCLUDED.target, deadline = EXCLUDED.deadline",
            event.subject,
            data.clock.value,
            data.started_at,
            data.target,
            data.deadline,
            data.calendar,
        )
    elif event.type == EventType.SLA_CLOCK_STOPPED:
        assert isinstance(data, SlaClockStoppedV1)
        await conn.execute(
            "UPDATE sla_clocks SET stopped_at = $3, met = $4, margin = $5"
            " WHERE incident_id = $1 AND clock = $2",
            event.subject,
            data.clock.value,
            data.stopped_at,
            data.met,
            data.margin,
        )
    elif event.type == EventType.SLA_BREACHED:
        assert isinstance(data, SlaBreachedV1)
        await conn.execute(
            "UPDATE sla_clocks SET breached_at = coalesce(breached_at, $3)"
            " WHERE incident_id = $1 AND clock = $2",
            event.subject,
            data.clock.value,
            data.detected_at,
        )


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


async def sla_compliance(conn: Conn, month: date) -> list[dict[str, object]]:
    """SLA compliance of clocks started in ``month``, per primary party, category, priority
    and clock. A clock is met when it stopped in time and never breached."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
    rows = await conn.fetch(
        "SELECT coalesce(i.primary_party, '(unassigned)') AS party, i.category, i.priority,"
        " c.clock, count(*) AS clocks,"
        " count(*) FILTER (WHERE c.met AND c.breached_at IS NULL) AS met,"
        " count(*) FILTER (WHERE c.breached_at IS NOT NULL OR c.met = false) AS breached,"
        " count(*) FILTER (WHERE c.stopped_at IS NULL AND c.breached_at IS NULL) AS running"
        " FROM sla_clocks c JOIN incidents i ON i.id = c.incident_id"
        " WHERE c.started_at >= $1 AND c.started_at < $2"
        " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        start,
        end,
    )
    out: list[dict[str, object]] = []
    for r in rows:
        decided = r["met"] + r["breached"]
        out.append({**dict(r), "compliance": (r["met"] / decided) if decided else None})
    return out
