"""What reporting's documents read from PostgreSQL: the facts of one incident's closure report
and of one month's service report.

Only data moves here: one query per part of a document, each over the read model and the audit
trail that ``store`` keeps. How the documents read is decided in ``closure_report`` and
``monthly_report``, which are pure functions of these facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from reporting.store import JSON_COLUMNS, month_bounds, problems_of_month, sla_compliance
from shared.db import Conn
from shared.events import EventType


def _row(record: Any) -> dict[str, Any]:
    out = dict(record)
    for key in JSON_COLUMNS & out.keys():
        if isinstance(out[key], str):
            out[key] = orjson.loads(out[key])
    return out


async def _rows(conn: Conn, query: str, *args: Any) -> list[dict[str, Any]]:
    return [_row(r) for r in await conn.fetch(query, *args)]


# --------------------------------------------------------------------------- closure report


@dataclass(frozen=True, slots=True)
class ClosureFacts:
    incident: dict[str, Any]
    report: dict[str, Any] | None
    clocks: list[dict[str, Any]]
    events: list[dict[str, Any]]
    changes: list[dict[str, Any]] = field(default_factory=list)
    """What changed on the origin and what it depends on before the first alert (ADR 46)."""


async def closure_facts(conn: Conn, incident_id: str) -> ClosureFacts | None:
    incident = await conn.fetchrow("SELECT * FROM incidents WHERE id = $1", incident_id)
    if incident is None:
        return None
    report = await conn.fetchrow(
        "SELECT * FROM closure_reports WHERE incident_id = $1", incident_id
    )
    clocks = await conn.fetch(
        "SELECT * FROM sla_clocks WHERE incident_id = $1 ORDER BY started_at, clock", incident_id
    )
    events = await conn.fetch(
        "SELECT incident_id, type, source, time, data FROM incident_events"
        " WHERE incident_id = $1 ORDER BY time, recorded_at",
        incident_id,
    )
    return ClosureFacts(
        incident=_row(incident),
        report=_row(report) if report else None,
        clocks=[_row(c) for c in clocks],
        events=[_row(e) for e in events],
    )


# --------------------------------------------------------------------------- monthly report


@dataclass(frozen=True, slots=True)
class MonthlyFacts:
    month: date
    compliance: list[dict[str, Any]]
    breaches: list[dict[str, Any]]
    pause_events: list[dict[str, Any]]
    weeks: list[dict[str, Any]]
    top_objects: list[dict[str, Any]]
    top_origins: list[dict[str, Any]]
    outside: list[dict[str, Any]]
    missed: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    overdue_updates: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


async def monthly_facts(conn: Conn, month: date) -> MonthlyFacts:
    """Every part of ``month``'s report, one query each, in the report's order."""
    start, end = month_bounds(month)
    return MonthlyFacts(
        month=month,
        compliance=[dict(r) for r in await sla_compliance(conn, month)],
        breaches=await breaches(conn, start, end),
        pause_events=await pause_events(conn, start, end),
        weeks=await weeks(conn, start, end),
        top_objects=await top_objects(conn, start, end),
        top_origins=await top_origins(conn, start, end),
        outside=await outside(conn, start, end),
        missed=await missed(conn, start, end),
        totals=await totals(conn, start, end),
        overdue_updates=await overdue_updates(conn, start, end),
        problems=await problems_of_month(conn, month),
    )


async def breaches(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The clocks started in the month that breached or stopped late, with their cause."""
    return await _rows(
        conn,
        "SELECT c.incident_id, c.clock, c.deadline, c.breached_at, c.stopped_at, i.summary,"
        " i.priority, i.category, i.object_id, i.origin_object,"
        " coalesce(i.primary_party, '(unassigned)') AS party, r.cause"
        " FROM sla_clocks c JOIN incidents i ON i.id = c.incident_id"
        " LEFT JOIN closure_reports r ON r.incident_id = c.incident_id"
        " WHERE c.started_at >= $1 AND c.started_at < $2"
        " AND (c.breached_at IS NOT NULL OR c.met = false)"
        " ORDER BY c.deadline",
        start,
        end,
    )


async def pause_events(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The pauses, resumes, answers and access requests of the incidents opened in the month."""
    return await _rows(
        conn,
        "SELECT e.incident_id, e.type, e.time, e.data FROM incident_events e"
        " JOIN incidents i ON i.id = e.incident_id"
        " WHERE i.opened_at >= $1 AND i.opened_at < $2 AND e.type = ANY($3::text[])"
        " ORDER BY e.time, e.recorded_at",
        start,
        end,
        [
            EventType.SLA_CLOCK_PAUSED.value,
            EventType.SLA_CLOCK_RESUMED.value,
            EventType.ACCESS_REQUEST.value,  # the month's access waits (ADR 51)
            EventType.PAUSE_ANSWERED.value,  # confirmed and disputed pause time apart (ADR 50)
        ],
    )


async def weeks(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Incidents, MTTA and MTTR per week (weeks start on Monday)."""
    return await _rows(
        conn,
        "SELECT date_trunc('week', opened_at AT TIME ZONE 'UTC')::date AS week,"
        " count(*) AS incidents,"
        " avg(extract(epoch FROM acknowledged_at - opened_at)) AS mtta,"
        " avg(extract(epoch FROM restored_at - first_alert_at)) AS mttr"
        " FROM incidents WHERE opened_at >= $1 AND opened_at < $2 GROUP BY 1 ORDER BY 1",
        start,
        end,
    )


async def top_objects(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        "SELECT object_id, count(*) AS incidents FROM incidents"
        " WHERE opened_at >= $1 AND opened_at < $2 AND object_id IS NOT NULL"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
        start,
        end,
    )


async def top_origins(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        "SELECT origin_object, origin_layer, count(*) AS incidents FROM incidents"
        " WHERE opened_at >= $1 AND opened_at < $2 AND origin_object IS NOT NULL"
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10",
        start,
        end,
    )


async def outside(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        "SELECT id, opened_at, summary, alert_count, status FROM incidents"
        " WHERE opened_at >= $1 AND opened_at < $2 AND outside_perimeter ORDER BY opened_at",
        start,
        end,
    )


async def missed(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The month's incidents raised by the check-in watchdog: it raises a missed run as an
    alert fingerprinted checkin:<object>/<duty>."""
    return await _rows(
        conn,
        "SELECT DISTINCT ON (i.id, f.fp) i.id, i.opened_at, i.object_id, i.status, f.fp"
        " FROM incidents i JOIN incident_events e ON e.incident_id = i.id"
        " CROSS JOIN LATERAL (SELECT jsonb_array_elements_text(CASE"
        "   WHEN jsonb_typeof(e.data->'fingerprints') = 'array' THEN e.data->'fingerprints'"
        "   ELSE jsonb_build_array(e.data->>'fingerprint') END) AS fp) f"
        " WHERE i.opened_at >= $1 AND i.opened_at < $2 AND e.type = ANY($3::text[])"
        " AND f.fp LIKE 'checkin:%' ORDER BY i.id, f.fp",
        start,
        end,
        [EventType.INCIDENT_OPENED.value, EventType.ALERT_ATTACHED.value],
    )


async def totals(conn: Conn, start: datetime, end: datetime) -> dict[str, Any]:
    """The month's headline: incidents opened, closed, MTTA and MTTR."""
    row = await conn.fetchrow(
        "SELECT count(*) AS incidents, count(*) FILTER (WHERE status = 'closed') AS closed,"
        " avg(extract(epoch FROM acknowledged_at - opened_at)) AS mtta,"
        " avg(extract(epoch FROM restored_at - first_alert_at)) AS mttr"
        " FROM incidents WHERE opened_at >= $1 AND opened_at < $2",
        start,
        end,
    )
    return dict(row) if row else {}


async def overdue_updates(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """sla-clock's overdue customer updates of the month, per coordinator (ADR 47)."""
    return await _rows(
        conn,
        "SELECT data->>'coordinator' AS coordinator, data->>'priority' AS priority,"
        " count(*) AS overdue FROM incident_events WHERE type = $3 AND time >= $1 AND time < $2"
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
        start,
        end,
        EventType.UPDATE_OVERDUE.value,
    )
