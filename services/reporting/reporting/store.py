"""Reporting's PostgreSQL rows: the audit trail, the read model (how each event changes the
incident row and when a closure report is due) and the queries the API reads (the documents'
own queries are in ``document_facts``).

Only data moves here; what a reader may see is decided in ``access``, how a document reads in
``closure_report`` and ``monthly_report``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from reporting import changes
from reporting.clocks import ROW_COLUMNS, project_clock
from shared.contract import Contract
from shared.db import Conn
from shared.events import (
    ActionKind,
    AlertAttachedV1,
    AlertCorrelatedV1,
    AlertResolvedV2,
    AssignmentIssuedV3,
    AssignmentRole,
    ChangeRecordedV1,
    Envelope,
    EventType,
    HandoverV2,
    IncidentActionAcceptedV3,
    IncidentClosedV1,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    OriginMovedV1,
    ProblemClosedV1,
    ProblemLinkedV1,
    ProblemOpenedV2,
)

JSON_COLUMNS = frozenset(
    {"actions_taken", "provider_participants", "customer_participants", "data", "objects", "scope"}
)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """A calendar month in UTC, as the SLA report counts it."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


async def record_many(conn: Conn, events: list[tuple[str, Envelope]]) -> set[uuid.UUID]:
    """Append a batch of (topic, event) to the audit trail in one statement; returns the ids
    that were not there yet."""
    rows = await conn.fetch(
        "INSERT INTO incident_events(event_id, incident_id, topic, type, source, time, data)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::timestamptz[], $7::jsonb[]) ON CONFLICT DO NOTHING RETURNING event_id",
        [e.id for _, e in events],
        [e.subject for _, e in events],
        [topic for topic, _ in events],
        [e.type.value for _, e in events],
        [e.source for _, e in events],
        [e.time for _, e in events],
        [orjson.dumps(e.data.model_dump(mode="json")).decode() for _, e in events],
    )
    return {r["event_id"] for r in rows}


async def project(conn: Conn, event: Envelope) -> None:
    """Apply the event to the read model; events that change nothing there are only recorded."""
    projector = PROJECTORS.get(event.type)
    if projector is not None:
        await projector(conn, event.subject, event.data)


async def _incident_opened(conn: Conn, incident: str | None, data: IncidentOpenedV1) -> None:
    await conn.execute(
        "INSERT INTO incidents(id, object_id, layer, category, priority, status, summary,"
        " outside_perimeter, first_alert_at, opened_at, origin_object, origin_layer, objects)"
        " VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $2, $3,"
        " CASE WHEN $2::text IS NULL THEN '[]'::jsonb ELSE jsonb_build_array($2::text) END)"
        " ON CONFLICT DO NOTHING",
        incident,
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
        incident,
        EventType.ASSIGNMENT_ISSUED.value,
    )


async def _alert_attached(conn: Conn, incident: str | None, data: AlertAttachedV1) -> None:
    # an alert firing again: monitoring no longer says the incident recovered
    await conn.execute(
        "UPDATE incidents SET alert_count = alert_count + 1, monitoring_recovered_at = CASE"
        " WHEN $2 THEN NULL ELSE monitoring_recovered_at END WHERE id = $1",
        incident,
        data.status == "firing",
    )


async def _action_accepted(
    conn: Conn, incident: str | None, data: IncidentActionAcceptedV3
) -> None:
    if data.action == ActionKind.ACKNOWLEDGE:
        await conn.execute(
            "UPDATE incidents SET acknowledged_at = coalesce(acknowledged_at, $2),"
            " status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END"
            " WHERE id = $1",
            incident,
            data.at,
        )
    elif data.action == ActionKind.RESTORED:
        await conn.execute(
            "UPDATE incidents SET restored_at = $2, status = 'restored' WHERE id = $1",
            incident,
            data.at,
        )
    elif data.action == ActionKind.REJECT:  # the customer says it is not restored
        await conn.execute(
            "UPDATE incidents SET restored_at = NULL, status = 'acknowledged' WHERE id = $1",
            incident,
        )
    elif data.action == ActionKind.REOPEN:
        await conn.execute(
            "UPDATE incidents SET restored_at = NULL, closed_at = NULL,"
            " status = 'acknowledged' WHERE id = $1",
            incident,
        )
        await conn.execute("DELETE FROM closure_reports WHERE incident_id = $1", incident)


async def _incident_closed(conn: Conn, incident: str | None, data: IncidentClosedV1) -> None:
    await _close(conn, incident or "", data)


async def _alert_correlated(conn: Conn, incident: str | None, data: AlertCorrelatedV1) -> None:
    await conn.execute(
        "UPDATE incidents SET alert_count = alert_count + 1, objects = $2::jsonb,"
        " scope = $3::jsonb, origin_object = $4, origin_layer = $5,"
        " monitoring_recovered_at = NULL WHERE id = $1",
        incident,
        orjson.dumps(data.objects).decode(),
        orjson.dumps(data.scope).decode(),
        data.origin_object,
        data.origin_layer.value if data.origin_layer else None,
    )


async def _origin_moved(conn: Conn, incident: str | None, data: OriginMovedV1) -> None:
    await conn.execute(
        "UPDATE incidents SET origin_object = $2, origin_layer = $3, objects = $4::jsonb,"
        " scope = $5::jsonb WHERE id = $1",
        incident,
        data.to_object,
        data.to_layer.value if data.to_layer else None,
        orjson.dumps(data.objects).decode(),
        orjson.dumps(data.scope).decode(),
    )


async def _alert_resolved(conn: Conn, incident: str | None, data: AlertResolvedV2) -> None:
    """monitoring's word, once every alert of the incident is resolved; it does not close"""
    recovered = data.all_recovered is not False  # v1 did not say: as before, its own word
    await conn.execute(
        "UPDATE incidents SET monitoring_recovered_at = $2 WHERE id = $1",
        incident,
        data.resolved_at if recovered else None,
    )


async def _incident_reclassified(
    conn: Conn, incident: str | None, data: IncidentReclassifiedV1
) -> None:
    await conn.execute(
        "UPDATE incidents SET priority = $2, category = $3 WHERE id = $1",
        incident,
        data.priority,
        data.category.value,
    )


async def _handover(conn: Conn, incident: str | None, data: HandoverV2) -> None:
    await conn.execute(
        "UPDATE incidents SET primary_party = $2, layer = $3 WHERE id = $1",
        incident,
        data.to_party,
        data.to_layer.value,
    )


async def _assignment_issued(conn: Conn, incident: str | None, data: AssignmentIssuedV3) -> None:
    if data.role not in (AssignmentRole.PRIMARY, AssignmentRole.COORDINATOR):
        return  # the first-line desk is told, it owns nothing (ADR 25): the timeline shows it
    column = "primary_party" if data.role == AssignmentRole.PRIMARY else "coordinator"
    await conn.execute(
        f"UPDATE incidents SET {column} = $2, contract_version = $3 WHERE id = $1",  # noqa: S608
        incident,
        data.party,
        data.contract_version,
    )


async def contract_version(conn: Conn, incident_id: str) -> str | None:
    """The contract version an incident runs under, as its last assignment said."""
    found: str | None = await conn.fetchval(
        "SELECT contract_version FROM incidents WHERE id = $1", incident_id
    )
    return found


async def _sla_clock(conn: Conn, incident: str | None, data: Any) -> None:
    """One of sla-clock's clock events on its ``sla_clocks`` row, through the pure
    ``clocks.project_clock`` (the same function the cascade property test drives)."""
    before = await conn.fetchrow(
        "SELECT * FROM sla_clocks WHERE incident_id = $1 AND clock = $2 FOR UPDATE",
        incident,
        data.clock.value,
    )
    after = project_clock(dict(before) if before is not None else None, data)
    if after is None:
        return
    names = ", ".join(ROW_COLUMNS)
    places = ", ".join(f"${i}" for i in range(3, len(ROW_COLUMNS) + 3))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in ROW_COLUMNS)
    await conn.execute(
        f"INSERT INTO sla_clocks(incident_id, clock, {names}) VALUES ($1, $2, {places})"  # noqa: S608
        f" ON CONFLICT (incident_id, clock) DO UPDATE SET {updates}",
        incident,
        data.clock.value,
        *(after[c] for c in ROW_COLUMNS),
    )


Projector = Callable[[Conn, str | None, Any], Awaitable[None]]
PROJECTORS: dict[EventType, Projector] = {
    EventType.INCIDENT_OPENED: _incident_opened,
    EventType.ALERT_ATTACHED: _alert_attached,
    EventType.ACTION_ACCEPTED: _action_accepted,
    EventType.INCIDENT_CLOSED: _incident_closed,
    EventType.ALERT_CORRELATED: _alert_correlated,
    EventType.ORIGIN_MOVED: _origin_moved,
    EventType.ALERT_RESOLVED: _alert_resolved,
    EventType.INCIDENT_RECLASSIFIED: _incident_reclassified,
    EventType.HANDOVER: _handover,
    EventType.ASSIGNMENT_ISSUED: _assignment_issued,
    EventType.SLA_CLOCK_STARTED: _sla_clock,
    EventType.SLA_CLOCK_STOPPED: _sla_clock,
    EventType.SLA_BREACHED: _sla_clock,
    EventType.SLA_CLOCK_PAUSED: _sla_clock,
    EventType.SLA_CLOCK_RESUMED: _sla_clock,
    EventType.SLA_CLOCK_RECOMPUTED: _sla_clock,
}


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
    start, end = month_bounds(month)
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


# --------------------------------------------------------------------------- the read API


# An incident a party is or was assigned to: its primary party or coordinator in the read model,
# or named by any of the router's events on it (assignment, check, handover, escalation).
VISIBLE_TO = """(
    $PARTY::text IS NULL
    OR i.primary_party = $PARTY OR i.coordinator = $PARTY
    OR EXISTS (
        SELECT 1 FROM incident_events e
        WHERE e.incident_id = i.id AND e.type LIKE 'baton.assignment.%'
          AND (e.data->>'party' = $PARTY OR e.data->>'to_party' = $PARTY)
    )
)"""


def visible(param: int) -> str:
    """The SQL condition on incidents ``i`` for the reader's party bound at ``$param``."""
    return VISIBLE_TO.replace("$PARTY", f"${param}")


_LIST_INCIDENTS = (
    "SELECT * FROM incidents i WHERE ($1::text IS NULL OR status = $1) AND VISIBLE"
    " ORDER BY opened_at DESC LIMIT $2"
).replace("VISIBLE", visible(3))
_ASSIGNED = "SELECT true FROM incidents i WHERE i.id = $1 AND VISIBLE".replace(
    "VISIBLE", visible(2)
)


async def incidents(conn: Conn, status: str | None, limit: int, party: str | None) -> list[Any]:
    """Incidents, newest first, with ``status`` (None: any) that ``party`` is or was assigned
    to (None: every incident)."""
    return await conn.fetch(_LIST_INCIDENTS, status, limit, party)


async def assigned(conn: Conn, incident_id: str, party: str) -> bool:
    """Whether ``party`` is or was assigned to the incident."""
    return bool(await conn.fetchval(_ASSIGNED, incident_id, party))


async def lock_incidents(conn: Conn, incident_ids: list[str]) -> None:
    """Serialise this transaction with any other on the same incidents (advisory locks, taken
    in one order so two batches never deadlock)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(i) AS h"
        " FROM unnest($1::text[]) AS i ORDER BY h) AS locks",
        sorted(incident_ids),
    )


@dataclass(frozen=True, slots=True)
class IncidentRows:
    """One incident as the read API shows it: its row, timeline, clocks and closure report."""

    incident: Any
    timeline: list[Any]
    clocks: list[Any]
    report: Any | None


async def incident(conn: Conn, incident_id: str) -> IncidentRows | None:
    row = await conn.fetchrow("SELECT * FROM incidents WHERE id = $1", incident_id)
    if row is None:
        return None
    timeline = await conn.fetch(
        "SELECT event_id, topic, type, source, time, data FROM incident_events"
        " WHERE incident_id = $1 ORDER BY time, recorded_at",
        incident_id,
    )
    report = await conn.fetchrow(
        "SELECT * FROM closure_reports WHERE incident_id = $1", incident_id
    )
    clocks = await conn.fetch(
        "SELECT * FROM sla_clocks WHERE incident_id = $1 ORDER BY clock DESC", incident_id
    )
    return IncidentRows(row, timeline, clocks, report)


async def open_incidents(conn: Conn) -> list[Any]:
    """Incidents not yet closed, counted per priority, layer and primary party."""
    return await conn.fetch(
        "SELECT priority, coalesce(layer, 'none') AS layer,"
        " coalesce(primary_party, 'none') AS party, count(*) AS n FROM incidents"
        " WHERE status <> 'closed' GROUP BY 1, 2, 3"
    )


async def mean_times(conn: Conn) -> tuple[float, float]:
    """Mean seconds to acknowledge and from first alert to restoration, last 30 days (0 when
    there is nothing to average)."""
    means = await conn.fetchrow(
        "SELECT avg(extract(epoch FROM acknowledged_at - opened_at)) AS mtta,"
        " avg(extract(epoch FROM restored_at - first_alert_at)) AS mttr FROM incidents"
        " WHERE opened_at > now() - interval '30 days'"
    )
    if means is None:  # an aggregate always returns its one row
        return 0.0, 0.0
    return float(means["mtta"] or 0), float(means["mttr"] or 0)


# --------------------------------------------------------------------------- changes (ADR 46)


async def record_changes(conn: Conn, changes: list[ChangeRecordedV1]) -> None:
    await conn.executemany(
        "INSERT INTO changes(id, object_id, at, summary, link, source, by_whom)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        [(c.change_id, c.object_id, c.at, c.summary, c.link, c.source, c.by) for c in changes],
    )


async def changes_on(
    conn: Conn, objects: list[str], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Changes on ``objects`` (or on every object) made in ``[start, end]``, newest first."""
    rows = await conn.fetch(
        "SELECT at, object_id, summary, link, source, by_whom FROM changes"
        " WHERE (object_id = ANY($1::text[]) OR object_id IS NULL) AND at >= $2 AND at <= $3"
        " ORDER BY at DESC, id",
        objects,
        start,
        end,
    )
    return [dict(r) for r in rows]


async def changes_list(
    conn: Conn,
    object_id: str | None,
    since: datetime | None,
    limit: int,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Change records, newest first: of one object (and those on every object) or all, made
    in ``[since, until]`` (either end open)."""
    rows = await conn.fetch(
        "SELECT id, at, object_id, summary, link, source, by_whom FROM changes"
        " WHERE ($1::text IS NULL OR object_id = $1 OR object_id IS NULL)"
        " AND ($2::timestamptz IS NULL OR at >= $2) AND ($4::timestamptz IS NULL OR at <= $4)"
        " ORDER BY at DESC, id LIMIT $3",
        object_id,
        since,
        limit,
        until,
    )
    return [dict(r) for r in rows]


async def changes_before(
    conn: Conn, contract: Contract, incident: dict[str, Any]
) -> list[dict[str, Any]]:
    """The changes in the 24 h before ``incident``'s first alert on its origin and what the
    origin depends on, nearest first: the recorded ones and the approved maintenance windows."""
    objects = changes.scope(contract, incident.get("origin_object") or incident.get("object_id"))
    first = incident["first_alert_at"]
    start, end = changes.period(first)
    recorded = await changes_on(conn, objects, start, end)
    return changes.beside(first, recorded, changes.maintenance(contract, objects, start, end))


# --------------------------------------------------------------------------- problems (ADR 48)


async def _problem_opened(conn: Conn, incident: str | None, data: ProblemOpenedV2) -> None:
    await conn.execute(
        "INSERT INTO problems(id, origin_object, layer, owner, coordinator, incidents,"
        " opened_at, fix_due, group_id) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)"
        " ON CONFLICT (id) DO NOTHING",
        data.problem_id,
        data.origin_object,
        data.layer.value if data.layer else None,
        data.owner,
        data.coordinator,
        orjson.dumps(data.incidents).decode(),
        data.opened_at,
        data.fix_due,
        data.group,
    )


async def _problem_linked(conn: Conn, incident: str | None, data: ProblemLinkedV1) -> None:
    await conn.execute(
        "UPDATE problems SET incidents = incidents || jsonb_build_array($2::text)"
        " WHERE id = $1 AND NOT incidents ? $2",
        data.problem_id,
        data.incident_id,
    )


async def _problem_closed(conn: Conn, incident: str | None, data: ProblemClosedV1) -> None:
    await conn.execute(
        "UPDATE problems SET status = 'closed', cause = $2, changed = $3::jsonb, closed_at = $4"
        " WHERE id = $1",
        data.problem_id,
        data.cause,
        orjson.dumps(data.changed).decode(),
        data.closed_at,
    )


PROJECTORS[EventType.PROBLEM_CLOSED] = _problem_closed
PROJECTORS[EventType.PROBLEM_OPENED] = _problem_opened
PROJECTORS[EventType.PROBLEM_LINKED] = _problem_linked


async def problems_of_month(conn: Conn, month: date) -> list[dict[str, Any]]:
    """The problems open at some time in ``month``: opened before its end, not closed before
    its start."""
    start, end = month_bounds(month)
    rows = await conn.fetch(
        "SELECT id, origin_object, group_id, layer, owner, coordinator, incidents, opened_at,"
        " fix_due, status, cause, closed_at FROM problems WHERE opened_at < $2"
        " AND (closed_at IS NULL OR closed_at >= $1) ORDER BY opened_at, id",
        start,
        end,
    )
    return [{**dict(r), "incidents": orjson.loads(r["incidents"])} for r in rows]


async def open_problems_by_owner(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT owner, count(*) AS n FROM problems WHERE status = 'open' GROUP BY owner"
    )
    return {r["owner"]: r["n"] for r in rows}
