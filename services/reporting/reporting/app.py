"""Reporting's shell: records every event, serves the read side over HTTP, and keeps the business
gauges (open incidents, MTTA, MTTR) fresh with a tick."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from faststream.kafka.annotations import KafkaMessage

from reporting import access_view, gauges, store
from reporting.access import Reader, may_see, reader
from reporting.clocks import clock_reading
from reporting.document_routes import add_document_routes
from reporting.gauges import BusinessGauges
from shared.contract import Contract
from shared.contract.versions import ContractVersions
from shared.contract.view import ContractView
from shared.db import Conn
from shared.events import ChangeRecordedV1, Envelope, IncidentStatus
from shared.instants import Instant, parse_month
from shared.service import Runtime, Service, create_app
from shared.topics import Topic

SERVICE = "reporting"
log = logging.getLogger(SERVICE)


def _value(key: str, value: Any) -> Any:
    """JSON columns decoded, intervals as seconds; everything else as asyncpg gives it."""
    if isinstance(value, str) and key in store.JSON_COLUMNS:
        return orjson.loads(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _row(row: Any) -> dict[str, Any]:
    return {key: _value(key, value) for key, value in dict(row).items()}


def _month(value: str) -> date:
    try:
        return parse_month(value)
    except ValueError as exc:
        raise HTTPException(422, f"month: {exc}") from None


GAUGE_SECONDS = 5.0
"""How often the business gauges are read from the read model (a scrape never waits on it)."""


class ReportingService(Service):
    def wire(self, rt: Runtime, router: APIRouter) -> None:
        self.rt = rt
        settings = rt.settings
        # every version seen: an incident's documents use the version it runs under (ADR 37)
        self.contracts = ContractVersions(rt.contract)
        rt.on_contract(self.contracts.adopt)
        self.gauges = BusinessGauges()
        rt.registry.register(self.gauges)
        self.incidents_topic = settings.topic(Topic.INCIDENTS)
        self.subscriber = rt.batch_subscriber(
            *(settings.topic(t) for t in (Topic.INCIDENTS, Topic.ASSIGNMENTS, Topic.SLA)),
            group=SERVICE,
        )
        self.subscriber(self.on_events)
        rt.batch_subscriber(
            settings.topic(Topic.CHANGES),
            group=f"{SERVICE}.changes",
        )(self.on_changes)
        router.add_api_route(
            "/v1/incidents", self.list_incidents, methods=["GET"], tags=["incidents"]
        )
        router.add_api_route("/v1/changes", self.list_changes, methods=["GET"], tags=["changes"])
        router.add_api_route("/v1/reports/sla", self.sla_report, methods=["GET"], tags=["reports"])
        add_document_routes(rt, router, self.reader, self.contract_of)
        router.add_api_route(
            "/v1/incidents/{incident_id}", self.get_incident, methods=["GET"], tags=["incidents"]
        )

    async def on_events(self, msg: KafkaMessage) -> None:
        """A batch in one transaction: the whole batch appended to the audit trail in one
        statement (its conflict check is the processed-event record), then the new events
        projected in partition order (``store.project_many``); the offsets are committed after
        the commit."""
        rt = self.rt
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
            await store.lock_incidents(conn, list({e.subject or "" for _, e in events}))
            await self.contracts.sync(conn)
            fresh = await store.record_many(conn, events)
            projected = []
            for _, event in events:
                if event.id in fresh:
                    fresh.discard(event.id)  # the same event twice in one batch counts once
                    projected.append(event)
            await store.project_many(conn, projected)

    async def on_changes(self, msg: KafkaMessage) -> None:
        """A batch of change records (ADR 46), kept in one statement; a repeat is the same row."""
        rt = self.rt
        found = []
        for record in rt.records(msg, "reporting"):
            event = await rt.parse_record(record)
            if event is not None and isinstance(event.data, ChangeRecordedV1):
                found.append(event.data)
        if found:
            async with rt.pool.acquire() as conn:
                await store.record_changes(conn, found)

    async def list_changes(
        self,
        request: Request,
        object_id: str | None = Query(None, alias="object", max_length=200),
        since: Instant | None = None,
        until: Instant | None = None,
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Change records, newest first: of one object (and those on every object, contract
        publications), made since an instant and/or until one (both included). An operator's
        or the customer's token."""
        who = self.reader(request)
        if who.party is not None:
            raise HTTPException(403, "reader: the change history is the operator's and customer's")
        async with self.rt.pool.acquire() as conn:
            rows = await store.changes_list(conn, object_id, since, limit, until)
        return [_row(r) for r in rows]

    async def contract_of(self, conn: Conn, incident_id: str) -> Contract:
        """The contract version ``incident_id`` runs under, else the one in force (an incident
        stored before versions were kept, or a version this service never saw)."""
        await self.contracts.sync(conn)
        version = await store.contract_version(conn, incident_id)
        return self.contracts.by_version(version) or self.rt.contract

    def reader(self, request: Request) -> Reader:
        return reader(request, self.rt.settings, self.rt.contract)

    async def list_incidents(
        self,
        request: Request,
        status: IncidentStatus | None = None,
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Incidents, newest first (a contractor's token: those it is or was assigned to)."""
        who = self.reader(request)
        async with self.rt.pool.acquire() as conn:
            rows = await store.incidents(conn, status, limit, who.party)
        return [_row(r) for r in rows]

    async def sla_report(self, month: str, request: Request) -> dict[str, Any]:
        """SLA compliance for clocks started in ``month`` (YYYY-MM), per contractor (the
        incident's primary party), category, priority and clock (a contractor: its rows)."""
        who = self.reader(request)
        period = _month(month)
        async with self.rt.pool.acquire() as conn:
            rows = await store.sla_compliance(conn, period)
        if who.party is not None:  # a contractor: its own rows only
            rows = [r for r in rows if r.get("party") == who.party]
        return {"month": month, "rows": rows}

    async def get_incident(self, incident_id: str, request: Request) -> dict[str, Any]:
        """One incident: each SLA clock's target, deadline (UTC and the object's local time),
        state and remaining time or margin; the full timeline; once closed, its closure
        report. An incident a contractor's token may not see is answered 404, as if it did not
        exist."""
        rt = self.rt
        who = self.reader(request)
        async with rt.pool.acquire() as conn:
            found = await store.incident(conn, incident_id)
            if found is None or not await may_see(conn, who, incident_id):
                raise HTTPException(404, f"incident_id: no incident {incident_id!r}")
            contract = await self.contract_of(conn, incident_id)
            view = ContractView.of(contract)
            beside = await store.changes_before(conn, contract, dict(found.incident))
        incident = found.incident
        where = incident["origin_object"] or incident["object_id"]
        now = rt.clock.now()
        return {
            "incident": _row(incident),
            "clocks": [
                clock_reading(dict(c), where, view, now).model_dump(mode="json")
                for c in found.clocks
            ],
            "timeline": [_row(r) for r in found.timeline],
            "access": access_view.listing([dict(r) for r in found.timeline]),
            "changes": [_row(r) for r in beside],
            "closure_report": _row(found.report) if found.report else None,
        }

    async def refresh_gauges(self) -> None:
        """Read the business gauges from the read model, on the one instance that shows them
        (``gauges``: the owner of the incidents topic's partition 0)."""
        consumer = self.subscriber.consumer
        if consumer is None or TopicPartition(self.incidents_topic, 0) not in consumer.assignment():
            self.gauges.reading = None
            return
        async with self.rt.pool.acquire() as conn:
            self.gauges.reading = await gauges.read(conn)

    async def on_start(self, rt: Runtime) -> None:
        rt.tick("reporting-tick", GAUGE_SECONDS, ("business gauges", self.refresh_gauges))


def build_app() -> FastAPI:
    return create_app(
        SERVICE,
        ReportingService(),
        schema="reporting",
        migrations=Path(__file__).parent / "migrations",
    )
