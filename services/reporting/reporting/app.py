"""Reporting's shell: records every event, serves the read side over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Gauge

from reporting.access import LIST_INCIDENTS, Reader, may_see, reader
from reporting.clocks import clock_reading
from reporting.document_routes import add_document_routes
from reporting.projection import project, record_many, sla_compliance
from shared.events import Envelope
from shared.instants import parse_month
from shared.service import Runtime, create_app
from shared.topics import Topic

SERVICE = "reporting"
log = logging.getLogger(SERVICE)
IncidentStatus = Literal["open", "acknowledged", "restored", "closed"]


JSON_COLUMNS = {
    "actions_taken",
    "provider_participants",
    "customer_participants",
    "data",
    "objects",
    "scope",
}


def _value(key: str, value: Any) -> Any:
    """JSON columns decoded, intervals as seconds; everything else as asyncpg gives it."""
    if isinstance(value, str) and key in JSON_COLUMNS:
        return orjson.loads(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _row(row: Any) -> dict[str, Any]:
    return {key: _value(key, value) for key, value in dict(row).items()}


def wire(rt: Runtime, router: APIRouter) -> None:
    settings = rt.settings
    topics = [settings.topic(t) for t in (Topic.INCIDENTS, Topic.ASSIGNMENTS, Topic.SLA)]

    @rt.broker.subscriber(
        *topics,
        group_id=settings.group(SERVICE),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=settings.consumer_batch_max_records,
        batch_timeout_ms=settings.consumer_batch_max_wait_ms,
    )
    async def on_events(msg: KafkaMessage) -> None:
        """A batch in one transaction: the whole batch appended to the audit trail in one
        statement (its conflict check is the processed-event record), then each new event
        projected in partition order; the offsets are committed after the commit."""
        events: list[tuple[str, Envelope]] = []
        for record in rt.records(msg, "reporting"):
            event = await rt.parse_record(record)
            if event is not None:
                events.append((record.topic, event))
        if not events:
            return
        async with rt.pool.acquire() as conn, conn.transaction():
            # an incident's events come from three topics, whose partitions another instance
            # may hold: serialise on the incident, so each projection sees the other's rows
            await conn.execute(
                "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(i) AS h"
                " FROM unnest($1::text[]) AS i ORDER BY h) AS locks",
                sorted({e.subject or "" for _, e in events}),
            )
            fresh = await record_many(conn, events)
            for _, event in events:
                if event.id in fresh:
                    fresh.discard(event.id)  # the same event twice in one batch counts once
                    await project(conn, event)

    def get_reader(request: Request) -> Reader:
        return reader(request, rt.settings, rt.contract)

    @router.get("/v1/incidents", tags=["incidents"])
    async def list_incidents(
        request: Request,
        status: IncidentStatus | None = None,
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Incidents, newest first (a contractor's token: those it is or was assigned to)."""
        who = get_reader(request)
        async with rt.pool.acquire() as conn:
            rows = await conn.fetch(
                LIST_INCIDENTS,
                status,
                limit,
                who.party,
            )
        return [_row(r) for r in rows]

    @router.get("/v1/reports/sla", tags=["reports"])
    async def sla_report(month: str, request: Request) -> dict[str, Any]:
        """SLA compliance for clocks started in ``month`` (YYYY-MM), per contractor (the
        incident's primary party), category, priority and clock (a contractor: its rows)."""
        who = get_reader(request)
        period = _month(month)
        async with rt.pool.acquire() as conn:
            rows = await sla_compliance(conn, period)
        if who.party is not None:  # a contractor: its own rows only
            rows = [r for r in rows if r.get("party") == who.party]
        return {"month": month, "rows": rows}

    add_document_routes(rt, router, get_reader)

    @router.get("/v1/incidents/{incident_id}", tags=["incidents"])
    async def get_incident(incident_id: str, request: Request) -> dict[str, Any]:
        """One incident: each SLA clock's target, deadline (UTC and the object's local time),
        state and remaining time or margin; the full timeline; once closed, its closure
        report. An incident a contractor's token may not see is answered 404, as if it did not
        exist."""
        who = get_reader(request)
        async with rt.pool.acquire() as conn:
            incident = await conn.fetchrow("SELECT * FROM incidents WHERE id = $1", incident_id)
            if incident is None or not await may_see(conn, who, incident_id):
                raise HTTPException(404, f"incident_id: no incident {incident_id!r}")
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
        where = incident["origin_object"] or incident["object_id"]
        now = rt.clock.now()
        return {
            "incident": _row(incident),
            "clocks": [
                clock_reading(dict(c), where, rt.view, now).model_dump(mode="json") for c in clocks
            ],
            "timeline": [_row(r) for r in timeline],
            "closure_report": _row(report) if report else None,
        }


def _month(value: str) -> date:
    try:
        return parse_month(value)
    except ValueError as exc:
        raise HTTPException(422, f"month: {exc}") from None


REFRESH_SECONDS = 5.0


class BusinessGauges:
    """Open incidents and mean times to acknowledge / restore, read from the read model every
    few seconds (a scrape never waits on the database)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def refresh(self, rt: Runtime) -> None:
        async with rt.pool.acquire() as conn:
            open_rows = await conn.fetch(
                "SELECT priority, coalesce(layer, 'none') AS layer,"
                " coalesce(primary_party, 'none') AS party, count(*) AS n FROM incidents"
                " WHERE status <> 'closed' GROUP BY 1, 2, 3"
            )
            means = await conn.fetchrow(
                "SELECT avg(extract(epoch FROM acknowledged_at - opened_at)) AS mtta,"
                " avg(extract(epoch FROM restored_at - first_alert_at)) AS mttr FROM incidents"
                " WHERE opened_at > now() - interval '30 days'"
            )
        self.open.clear()
        for r in open_rows:
            self.open.labels(r["priority"], r["layer"], r["party"]).set(r["n"])
        if means is not None:  # an aggregate always returns its one row
            self.mtta.set(float(means["mtta"] or 0))
            self.mttr.set(float(means["mttr"] or 0))

    async def _loop(self, rt: Runtime) -> None:
        while True:
            try:
                await self.refresh(rt)
            except Exception:  # a failed round is retried at the next one
                log.exception("business gauges refresh failed")
            await asyncio.sleep(REFRESH_SECONDS)

    async def start(self, rt: Runtime) -> None:
        self.open = Gauge(
            "baton_incidents_open",
            "Incidents not yet closed",
            ["priority", "layer", "party"],
            registry=rt.registry,
        )
        self.mtta = Gauge(
            "baton_mtta_seconds", "Mean time to acknowledge, last 30 days", registry=rt.registry
        )
        self.mttr = Gauge(
            "baton_mttr_seconds",
            "Mean time from first alert to restoration, last 30 days",
            registry=rt.registry,
        )
        self._task = asyncio.create_task(self._loop(rt), name="business-gauges")

    async def stop(self, rt: Runtime) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def build_app() -> FastAPI:
    gauges = BusinessGauges()
    return create_app(
        SERVICE,
        wire,
        schema="reporting",
        migrations=Path(__file__).parent / "migrations",
        on_start=gauges.start,
        on_stop=gauges.stop,
    )
