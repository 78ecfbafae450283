"""Intake's shell: HTTP receivers, the raw-alerts, alert and command consumers, and the tick
that opens incidents for alerts still firing when their maintenance window ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pydantic import ValidationError

from intake import pagerduty, store
from intake.auth import Authenticator
from intake.correlation import Graph, alert_key
from intake.formats import FORMATS
from intake.guard import Refusal, fit_for_dead_letter, parse_json
from intake.incidents import Match, apply_action, handle_alert, verdict
from intake.receivers import SERVICE, Intake, alert_events, build_router
from shared.contract import Contract
from shared.contract.model import MaintenanceWindow
from shared.db import mark_processed
from shared.events import (
    Alert,
    AlertReceivedV1,
    Envelope,
    EventType,
    PartyActionV1,
    make_event,
    parse_event,
    stable_id,
)
from shared.kafka import message_topic, publish_event
from shared.service import Runtime, create_app
from shared.settings import Settings
from shared.topics import Topic

log = logging.getLogger(SERVICE)
FORMAT_HEADER = "format"
ACTION_POLL_SECONDS = 0.02


def approved_window(contract: Contract, object_id: str, at: datetime) -> MaintenanceWindow | None:
    """The approved maintenance window covering the object at ``at`` (unapproved ones count
    for nothing: the contract says a window needs the customer's approval)."""
    window = contract.maintenance_at(object_id, at)
    return window if window is not None and window.approved_by is not None else None


def decode_raw(
    body: bytes, fmt: str, *, contract: Contract, at: datetime, unique: str, settings: Settings
) -> list[Alert]:
    """The alerts of one raw-topic record, or a ``Refusal`` naming what was wrong."""
    limit = settings.intake_max_body_bytes
    if len(body) > limit:
        raise Refusal(413, f"(body): {len(body)} bytes, the limit is {limit}", kind="size")
    if fmt not in FORMATS:
        raise Refusal(
            422,
            f"headers.{FORMAT_HEADER}: expected one of {', '.join(FORMATS)}, got {fmt!r}",
            kind="format",
        )
    doc = parse_json(body, settings.intake_max_json_depth)
    try:
        return FORMATS[fmt].decode(doc, contract, at, unique)
    except ValidationError as exc:
        raise Refusal.invalid(exc) from None


def wire(rt: Runtime, router: APIRouter) -> None:
    settings, broker, contract = rt.settings, rt.broker, rt.contract
    graph = Graph(contract)
    topics = {
        "alerts": settings.topic(Topic.ALERTS),
        "commands": settings.topic(Topic.COMMANDS),
        "incidents": settings.topic(Topic.INCIDENTS),
    }
    raw_topic = settings.topic(Topic.ALERTS_RAW)
    window = timedelta(seconds=settings.intake_correlation_window_seconds)
    opened = Counter(
        "baton_incidents_opened", "Incidents opened", ["layer", "priority"], registry=rt.registry
    )
    closed = Counter(
        "baton_incidents_closed", "Incidents closed on customer confirmation", registry=rt.registry
    )
    held = Counter(
        "baton_alerts_in_maintenance",
        "Firing alerts held back by an approved maintenance window",
        registry=rt.registry,
    )
    outcomes = Counter(
        "baton_alerts_outcome",
        "What each alert did: opened, deduplicated, correlated, recovered, ignored",
        ["outcome"],
        registry=rt.registry,
    )

    async def publish(kind: str, event: Envelope, key: str | None) -> None:
        await publish_event(broker, topics[kind], event, key=key)

    async def await_outcome(command_id: uuid.UUID) -> tuple[int, str] | None:
        """The commands consumer's verdict (whichever instance decides), or None when it takes
        longer than ``intake_action_wait_seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.intake_action_wait_seconds
        while True:
            async with rt.pool.acquire() as conn:
                found = await store.outcome(conn, command_id)
            if found is not None or loop.time() >= deadline:
                return found
            await asyncio.sleep(ACTION_POLL_SECONDS)

    async def record_change(
        change: pagerduty.ChangeEvent, object_id: str | None, now: datetime
    ) -> None:
        async with rt.pool.acquire() as conn:
            await store.record_change(
                conn,
                stable_id("change", change.model_dump_json()),
                object_id=object_id,
                summary=change.payload.summary,
                source=change.payload.source,
                at=change.payload.timestamp or now,
                event=change.model_dump(mode="json", exclude={"routing_key"}),
            )

    async def list_changes(object_id: str) -> list[dict[str, Any]]:
        async with rt.pool.acquire() as conn:
            return await store.changes(conn, object_id)

    ix = Intake(
        settings=settings,
        contract=contract,
        graph=graph,
        clock=rt.clock,
        registry=rt.registry,
        dead_letters=rt.dead_letters,
        publish=publish,
        auth=Authenticator(settings),
        await_outcome=await_outcome,
        record_change=record_change,
        list_changes=list_changes,
    )

    def adopt(new: Contract) -> None:
        """A newly published contract: new alerts and actions are judged by it."""
        ix.contract, ix.graph = new, Graph(new)

    rt.on_contract(adopt)
    router.include_router(build_router(ix))

    # ---------------------------------------------------------------- raw alerts (Kafka)

    @broker.subscriber(
        raw_topic,
        group_id=settings.group("intake.raw"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=500,
    )
    async def on_raw(msg: KafkaMessage) -> None:
        """Foreign payloads from producers that speak Kafka; the ``format`` header names one
        of the receivers' formats. A batch at a time: every alert published (acks=all) before
        the batch's offsets are committed; ids derive from each record's coordinates, so a
        redelivered batch republishes the same events."""
        records = msg.raw_message
        assert isinstance(records, tuple)
        publishing = []
        for record in records:
            unique = f"{record.topic}:{record.partition}:{record.offset}"
            at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            body: bytes = record.value or b""
            headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
            fmt = headers.get(FORMAT_HEADER, "")
            try:
                alerts = decode_raw(
                    body, fmt, contract=ix.contract, at=at, unique=unique, settings=settings
                )
            except Refusal as refusal:
                kept, note = fit_for_dead_letter(body)
                await rt.dead_letters.send(
                    reason=refusal.reason + note,
                    kind=refusal.kind,
                    origin=f"kafka:{record.topic}",
                    payload=kept,
                    now=rt.clock.now(),
                    headers={"source": fmt or "(none)", "record": unique},
                )
                continue
            ids = [stable_id("raw", unique, i) for i in range(len(alerts))]
            for event, alert in zip(alert_events(alerts, at, ids), alerts, strict=True):
                key = alert_key(ix.graph, alert.object_id, alert.fingerprint)
                publishing.append(publish("alerts", event, key))
        await asyncio.gather(*publishing)

    # ---------------------------------------------------------------- alerts → incidents

    @broker.subscriber(
        topics["alerts"],
        group_id=settings.group("intake.alerts"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_alert(msg: KafkaMessage) -> None:
        event = await rt.parse(msg, EventType.ALERT_RECEIVED)
        if event is None:
            return
        assert isinstance(event.data, AlertReceivedV1)
        alert, at = event.data.alert, event.data.received_at
        firing = alert.status == "firing"
        async with rt.pool.acquire() as conn, conn.transaction():
            if not await mark_processed(conn, "alerts", event.id):
                return
            related = (
                ix.graph.related(alert.object_id) if firing and alert.object_id else frozenset()
            )
            found, match = await store.find_for_alert(
                conn,
                alert.fingerprint,
                alert.object_id if firing else None,
                related,
                at - window if window else None,
            )
            if match != Match.FINGERPRINT and alert.object_id:
                if firing and (held_by := approved_window(ix.contract, alert.object_id, at)):
                    await store.hold(conn, alert, held_by.id, at, msg.body)
                    held.inc()
                    log.info(
                        "alert held: maintenance window",
                        extra={"object": alert.object_id, "window": held_by.id},
                    )
                    return
                if not firing and await store.release(conn, alert.fingerprint):
                    outcomes.labels("recovered_in_maintenance").inc()
                    return
            state, out = handle_alert(event, found, ix.contract, ix.graph, rt.clock.now())
            for e in out:
                await publish_event(broker, topics["incidents"], e)
            if state is not None:
                await store.save(conn, state)
        outcome = {
            Match.NONE: "opened" if state else "ignored",
            Match.FINGERPRINT: "deduplicated",
            Match.OBJECT: "same_object",
            Match.RELATED: "correlated",
        }[match]
        outcomes.labels(outcome).inc()
        if state is not None and found is None:
            opened.labels(state.layer or "none", state.priority).inc()
            log.info("incident opened", extra={"incident": state.id, "object": state.object_id})

    # ---------------------------------------------------------------- commands

    @broker.subscriber(
        topics["commands"],
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
                reason = f"subject: no incident {command.subject!r}"
                await store.record_outcome(conn, command.id, command.subject or "", 404, reason)
                await rt.dead_letters.send(
                    reason=reason,
                    kind="unknown_incident",
                    origin=f"kafka:{message_topic(msg)}",
                    payload=msg.body,
                    now=rt.clock.now(),
                )
                return
            assert isinstance(command.data, PartyActionV1)
            status, reason = verdict(command.data, incident, ix.contract)
            state, events = apply_action(command, incident, ix.contract, rt.clock.now())
            for event in events:
                await publish_event(broker, topics["incidents"], event)
            await store.save(conn, state)
            await store.record_outcome(conn, command.id, incident.id, status, reason)
        if any(e.type == EventType.INCIDENT_CLOSED for e in events):
            closed.inc()


async def release_ended_windows(rt: Runtime, graph: Graph) -> int:
    """Alerts held by a maintenance window that has ended and still firing: republish each
    one (dated now, a deterministic id) so that it opens its incident the normal way. The
    row lock and the delete in one transaction fence the firing: two instances never both
    release one alert, and a crash before commit republishes the same event id."""
    now = rt.clock.now()
    released = 0
    async with rt.pool.acquire() as conn, conn.transaction():
        for fingerprint, object_id, raw in await store.held(conn):
            if approved_window(rt.contract, object_id, now) is not None:
                continue
            original = parse_event(raw)
            assert isinstance(original.data, AlertReceivedV1)
            alert = original.data.alert
            alert = alert.model_copy(
                update={
                    "starts_at": now,
                    "annotations": {
                        **alert.annotations,
                        "baton_maintenance_fired_at": alert.starts_at.isoformat(),
                    },
                }
            )
            event = make_event(
                EventType.ALERT_RECEIVED,
                AlertReceivedV1(alert=alert, received_at=now),
                source=SERVICE,
                time=now,
                event_id=stable_id("maintenance-ended", original.id),
            )
            await publish_event(
                rt.broker,
                rt.settings.topic(Topic.ALERTS),
                event,
                key=alert_key(graph, object_id, fingerprint),
            )
            await store.release(conn, fingerprint)
            released += 1
    return released


def build_app() -> FastAPI:
    ticking: list[asyncio.Task[None]] = []

    async def tick(rt: Runtime) -> None:
        while True:
            await asyncio.sleep(rt.settings.intake_tick_seconds)
            try:  # the graph of the contract in force now (it may have been republished)
                released = await release_ended_windows(rt, Graph(rt.contract))
            except Exception:
                log.exception("maintenance tick failed; retrying at the next tick")
            else:
                if released:
                    log.info("maintenance ended: alerts released", extra={"count": released})

    async def on_start(rt: Runtime) -> None:
        ticking.append(asyncio.create_task(tick(rt), name="intake-maintenance-tick"))

    async def on_stop(_: Runtime) -> None:
        for task in ticking:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ticking.clear()

    return create_app(
        SERVICE,
        wire,
        schema="intake",
        migrations=Path(__file__).parent / "migrations",
        on_start=on_start,
        on_stop=on_stop,
    )


__all__ = ["Refusal", "build_app", "fit_for_dead_letter", "release_ended_windows", "wire"]
