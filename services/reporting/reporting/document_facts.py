"""What reporting's documents read from PostgreSQL: the facts of one incident's closure report
and of one month's service report.

Only data moves here: one query per part of a document, each over the read model and the audit
trail that ``store`` keeps. How the documents read is decided in ``closure_report`` and
``monthly_report``, which are pure functions of these facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
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


# Each part's query over the month [$1, $2), a third parameter where it needs one.

BREACHES = (
    # the clocks started in the month that breached or stopped late, with their cause
    "SELECT c.incident_id, c.clock, c.deadline, c.breached_at, c.stopped_at, i.summary,"
    " i.priority, i.category, i.object_id, i.origin_object,"
    " coalesce(i.primary_party, '(unassigned)') AS party, r.cause"
    " FROM sla_clocks c JOIN incidents i ON i.id = c.incident_id"
    " LEFT JOIN closure_reports r ON r.incident_id = c.incident_id"
    " WHERE c.started_at >= $1 AND c.started_at < $2"
    " AND (c.breached_at IS NOT NULL OR c.met = false)"
    " ORDER BY c.deadline"
)
PAUSE_EVENTS = (
    # the pauses, resumes, answers and access requests of the incidents opened in the month
    "SELECT e.incident_id, e.type, e.time, e.data FROM incident_events e"
    " JOIN incidents i ON i.id = e.incident_id"
    " WHERE i.opened_at >= $1 AND i.opened_at < $2 AND e.type = ANY($3::text[])"
    " ORDER BY e.time, e.recorded_at"
)
PAUSE_TYPES = [
    EventType.SLA_CLOCK_PAUSED.value,
    EventType.SLA_CLOCK_RESUMED.value,
    EventType.ACCESS_REQUEST.value,  # the month's access waits (ADR 51)
    EventType.PAUSE_ANSWERED.value,  # confirmed and disputed pause time apart (ADR 50)
]
WEEKS = (
    # incidents, MTTA and MTTR per week (weeks start on Monday)
    "SELECT date_trunc('week', opened_at AT TIME ZONE 'UTC')::date AS week,"
    " count(*) AS incidents,"
    " avg(extract(epoch FROM acknowledged_at - opened_at)) AS mtta,"
    " avg(extract(epoch FROM restored_at - first_alert_at)) AS mttr"
    " FROM incidents WHERE opened_at >= $1 AND opened_at < $2 GROUP BY 1 ORDER BY 1"
)
TOP_OBJECTS = (
    "SELECT object_id, count(*) AS incidents FROM incidents"
    " WHERE opened_at >= $1 AND opened_at < $2 AND object_id IS NOT NULL"
    " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
)
TOP_ORIGINS = (
    "SELECT origin_object, origin_layer, count(*) AS incidents FROM incidents"
    " WHERE opened_at >= $1 AND opened_at < $2 AND origin_object IS NOT NULL"
    " GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10"
)
OUTSIDE = (
    "SELECT id, opened_at, summary, alert_count, status FROM incidents"
    " WHERE opened_at >= $1 AND opened_at < $2 AND outside_perimeter ORDER BY opened_at"
)
MISSED = (
    # the month's incidents raised by the check-in watchdog: it raises a missed run as an alert
    # fingerprinted checkin:<object>/<duty>
    "SELECT DISTINCT ON (i.id, f.fp) i.id, i.opened_at, i.object_id, i.status, f.fp"
    " FROM incidents i JOIN incident_events e ON e.incident_id = i.id"
    " CROSS JOIN LATERAL (SELECT jsonb_array_elements_text(CASE"
    "   WHEN jsonb_typeof(e.data->'fingerprints') = 'array' THEN e.data->'fingerprints'"
    "   ELSE jsonb_build_array(e.data->>'fingerprint') END) AS fp) f"
    " WHERE i.opened_at >= $1 AND i.opened_at < $2 AND e.type = ANY($3::text[])"
    " AND f.fp LIKE 'checkin:%' ORDER BY i.id, f.fp"
)
MISSED_TYPES = [EventType.INCIDENT_OPENED.value, EventType.ALERT_ATTACHED.value]
TOTALS = (
    # the month's headline: incidents opened, closed, MTTA and MTTR
    "SELECT count(*) AS incidents, count(*) FILTER (WHERE status = 'closed') AS closed,"
    " avg(extract(epoch FROM acknowledged_at - opened_at)) AS mtta,"
    " avg(extract(epoch FROM restored_at - first_alert_at)) AS mttr"
    " FROM incidents WHERE opened_at >= $1 AND opened_at < $2"
)
OVERDUE_UPDATES = (
    # sla-clock's overdue customer updates of the month, per coordinator (ADR 47)
    "SELECT data->>'coordinator' AS coordinator, data->>'priority' AS priority,"
    " count(*) AS overdue FROM incident_events WHERE type = $3 AND time >= $1 AND time < $2"
    " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
)


async def monthly_facts(conn: Conn, month: date) -> MonthlyFacts:
    """Every part of ``month``'s report, one query each, in the report's order."""
    start, end = month_bounds(month)

    async def rows(query: str, *more: Any) -> list[dict[str, Any]]:
        return await _rows(conn, query, start, end, *more)

    totals = await conn.fetchrow(TOTALS, start, end)
    return MonthlyFacts(
        month=month,
        compliance=[dict(r) for r in await sla_compliance(conn, month)],
        breaches=await rows(BREACHES),
        pause_events=await rows(PAUSE_EVENTS, PAUSE_TYPES),
        weeks=await rows(WEEKS),
        top_objects=await rows(TOP_OBJECTS),
        top_origins=await rows(TOP_ORIGINS),
        outside=await rows(OUTSIDE),
        missed=await rows(MISSED, MISSED_TYPES),
        totals=dict(totals) if totals else {},
        overdue_updates=await rows(OVERDUE_UPDATES, EventType.UPDATE_OVERDUE.value),
        problems=await problems_of_month(conn, month),
    )
