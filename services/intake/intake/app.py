"""Intake's shell: HTTP receivers and the alert and command consumers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pydantic import ValidationError

from intake import store
from intake.alertmanager import AlertmanagerWebhook, normalise
from intake.incidents import apply_action, open_or_attach
from shared.db import mark_processed
from shared.events import (
    AlertReceivedV1,
    Envelope,
    EventType,
    PartyActionV1,
    make_event,
)
from shared.http import describe, validation_problem
from shared.kafka import message_topic, publish_event
from shared.service import Runtime, create_app
from shared.topics import Topic

SERVICE = "intake"
log = logging.getLogger(SERVICE)


def wire(rt: Runtime, router: APIRouter) -> None:
    settings, broker, contract = rt.settings, rt.broker, rt.contract
    alerts_topic = settings.topic(Topic.ALERTS)
    commands_topic = settings.topic(Topic.COMMANDS)
    incidents_topic = settings.topic(Topic.INCIDENTS)
    received = Counter(
        "baton_alerts_received", "Alerts accepted at intake", ["source"], registry=rt.registry
    )
    outside = Counter(
        "baton_alerts_outside_perimeter",
        "Alerts that matched no contract object",
        ["source"],
        registry=rt.registry,
    )
    opened = Counter(
        "baton_incidents_opened", "Incidents opened", ["layer", "priority"], registry=rt.registry
    )
    closed = Counter(
        "baton_incidents_closed", "Incidents closed on customer confirmation", registry=rt.registry
    )

    # ---------------------------------------------------------------- HTTP receivers

    @router.post("/v1/alerts/alertmanager", status_code=202, tags=["alerts"])
    async def alertmanager(request: Request) -> JSONResponse:
        """Prometheus Alertmanager webhook, payload version 4."""
        body = await request.body()
        now = rt.clock.now()
        try:
            webhook = AlertmanagerWebhook.model_validate_json(body)
        except ValidationError as exc:
            await rt.dead_letters.send(
                reason=describe(exc), kind="schema", origin=request.url.path, payload=body, now=now
            )
            return validation_problem(exc)
        events = []
        for alert in normalise(webhook, contract):
            events.append(
                make_event(
                    EventType.ALERT_RECEIVED,
                    AlertReceivedV1(alert=alert, received_at=now),
                    source=SERVICE,
                    time=now,
                )
            )
            received.labels(alert.source).inc()
            if alert.object_id is None:
                outside.labels(alert.source).inc()
        await asyncio.gather(
            *(publish_event(broker, alerts_topic, e, key=_alert_key(e)) for e in events)
        )
        return JSONResponse(
            {"accepted": len(events), "ids": [str(e.id) for e in events]}, status_code=202
        )

    @router.post("/v1/incidents/{incident_id}/actions", status_code=202, tags=["incidents"])
    async def action(incident_id: str, request: Request) -> JSONResponse:
        """A party reports on an incident (acknowledge, restored, confirm, note)."""
        body = await request.body()
        now = rt.clock.now()
        try:
            data = PartyActionV1.model_validate_json(body)
        except ValidationError as exc:
            await rt.dead_letters.send(
                reason=describe(exc), kind="schema", origin=request.url.path, payload=body, now=now
            )
            return validation_problem(exc)
        command = make_event(
            EventType.PARTY_ACTION, data, source=f"http:{data.party}", time=now, subject=incident_id
        )
        await publish_event(broker, commands_topic, command)
        return JSONResponse({"command_id": str(command.id)}, status_code=202)

    # ---------------------------------------------------------------- consumers

    @broker.subscriber(
        alerts_topic,
        group_id=settings.group("intake.alerts"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_alert(msg: KafkaMessage) -> None:
        event = await rt.parse(msg, EventType.ALERT_RECEIVED)
        if event is None:
            return
        assert isinstance(event.data, AlertReceivedV1)
        alert = event.data.alert
        async with rt.pool.acquire() as conn, conn.transaction():
            if not await mark_processed(conn, "alerts", event.id):
                return
            current = await store.find_open(conn, alert.fingerprint, alert.object_id)
            state, out = open_or_attach(event, current, contract, rt.clock.now())
            await publish_event(broker, incidents_topic, out)
            await store.save(conn, state)
        if current is None:
            opened.labels(state.layer or "none", state.priority).inc()
            log.info("incident opened", extra={"incident": state.id, "object": state.object_id})

    @broker.subscriber(
        commands_topic,
        group_id=settings.group("intake.commands"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_command(msg: KafkaMessage) -> None:
        command = await rt.parse(msg, EventType.PARTY_ACTION)
        if command is None:
            return
        async with rt.pool.acquire() as conn, conn.transaction():
            if not await mark_processed(conn, "commands", command.id):
                return
            incident = await store.load(conn, command.subject or "")
            if incident is None:
                await rt.dead_letters.send(
                    reason=f"subject: no incident {command.subject!r}",
                    kind="unknown_incident",
                    origin=f"kafka:{message_topic(msg)}",
                    payload=msg.body,
                    now=rt.clock.now(),
                )
                return
            state, events = apply_action(command, incident, contract, rt.clock.now())
            for event in events:
                await publish_event(broker, incidents_topic, event)
            await store.save(conn, state)
        if any(e.type == EventType.INCIDENT_CLOSED for e in events):
            closed.inc()


def _alert_key(event: Envelope) -> str:
    assert isinstance(event.data, AlertReceivedV1)
    return event.data.alert.object_id or event.data.alert.fingerprint


def build_app() -> FastAPI:
    return create_app(
        SERVICE, wire, schema="intake", migrations=Path(__file__).parent / "migrations"
    )
