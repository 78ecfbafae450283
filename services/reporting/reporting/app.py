"""Reporting's shell: records every event, serves the read side over HTTP."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Query
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

from reporting.projection import project, record, sla_compliance
from shared.kafka import message_topic
from shared.service import Runtime, create_app
from shared.topics import Topic

SERVICE = "reporting"
log = logging.getLogger(SERVICE)
Status = Literal["open", "acknowledged", "restored", "closed"]


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
    )
    async def on_event(msg: KafkaMessage) -> None:
        topic = message_topic(msg)
        event = await rt.parse(msg)
        if event is None:
            return
        async with rt.pool.acquire() as conn, conn.transaction():
            if await record(conn, topic, event):
                await project(conn, event)

    @router.get("/v1/incidents", tags=["incidents"])
    async def list_incidents(
        status: Status | None = None,
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Incidents, newest first."""
        async with rt.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM incidents WHERE ($1::text IS NULL OR status = $1)"
                " ORDER BY opened_at DESC LIMIT $2",
                status,
                limit,
            )
        return [_row(r) for r in rows]

    @router.get("/v1/reports/sla", tags=["reports"])
    async def sla_report(month: str) -> dict[str, Any]:
        """SLA compliance for clocks started in ``month`` (YYYY-MM), per contractor (the
        incident's primary party), category, priority and clock."""
        period = _month(month)
        async with rt.pool.acquire() as conn:
            rows = await sla_compliance(conn, period)
        return {"month": month, "rows": rows}

    @router.get("/v1/incidents/{incident_id}", tags=["incidents"])
    async def get_incident(incident_id: str) -> dict[str, Any]:
        """One incident with its full timeline and, once closed, its closure report."""
        async with rt.pool.acquire() as conn:
            incident = await conn.fetchrow("SELECT * FROM incidents WHERE id = $1", incident_id)
            if incident is None:
                raise HTTPException(404, f"incident_id: no incident {incident_id!r}")
            timeline = await conn.fetch(
                "SELECT event_id, topic, type, source, time, data FROM incident_events"
                " WHERE incident_id = $1 ORDER BY time, recorded_at",
                incident_id,
            )
            report = await conn.fetchrow(
                "SELECT * FROM closure_reports WHERE incident_id = $1", incident_id
            )
        return {
            "incident": _row(incident),
            "timeline": [_row(r) for r in timeline],
            "closure_report": _row(report) if report else None,
        }


def _month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC).date()
    except ValueError:
        raise HTTPException(422, f"month: expected YYYY-MM, got {value!r}") from None


def build_app() -> FastAPI:
    return create_app(
        SERVICE, wire, schema="reporting", migrations=Path(__file__).parent / "migrations"
    )
