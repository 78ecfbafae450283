"""Router's shell: consumes incidents, publishes assignments."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from router.routing import assign
from shared.db import mark_processed
from shared.events import AssignmentIssuedV1, EventType
from shared.kafka import publish_event
from shared.service import Runtime, create_app
from shared.topics import Topic

SERVICE = "router"
log = logging.getLogger(SERVICE)


def wire(rt: Runtime, _: APIRouter) -> None:
    settings, broker = rt.settings, rt.broker
    assignments_topic = settings.topic(Topic.ASSIGNMENTS)
    issued = Counter(
        "baton_assignments", "Assignments issued", ["party", "role"], registry=rt.registry
    )

    @broker.subscriber(
        settings.topic(Topic.INCIDENTS),
        group_id=settings.group(SERVICE),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_incident(msg: KafkaMessage) -> None:
        event = await rt.parse(msg)
        if event is None:
            return
        if event.type != EventType.INCIDENT_OPENED:
            return
        async with rt.pool.acquire() as conn, conn.transaction():
            if not await mark_processed(conn, "incidents", event.id):
                return
            for assignment in assign(event, rt.contract, rt.clock.now()):
                data = assignment.data
                assert isinstance(data, AssignmentIssuedV1)
                await publish_event(broker, assignments_topic, assignment)
                await conn.execute(
                    "INSERT INTO assignments(incident_id, role, party, event_id, issued_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    assignment.subject,
                    data.role.value,
                    data.party,
                    assignment.id,
                    assignment.time,
                )
                issued.labels(data.party, data.role.value).inc()
        log.info("assigned", extra={"incident": event.subject})


def build_app() -> FastAPI:
    return create_app(
        SERVICE, wire, schema="router", migrations=Path(__file__).parent / "migrations"
    )
