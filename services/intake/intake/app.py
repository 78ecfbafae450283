"""Intake's shell: HTTP receivers, the raw-alerts, alert and command consumers, and the tick
that opens incidents for alerts still firing when their maintenance window ends."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pydantic import ValidationError

from intake import pagerduty, store
from intake.access import apply_command
from intake.actions import action_digest, hidden
from intake.auth import Authenticator, Signed
from intake.correlation import alert_key, graph_of
from intake.decide import MaintenanceMuter, Received, Release, decide, reach
from intake.formats import FORMATS
from intake.gate import SERVICE, Intake, alert_events
from intake.guard import Refusal, fit_for_dead_letter, oversized, parse_json
from intake.incidents import IncidentState
from intake.links import ServiceHost, build_link_router
from intake.receivers import build_router
from intake.verdicts import Verdicts
from shared.contract import Contract
from shared.contract.view import ContractView
from shared.db import DATABASE_UNAVAILABLE, mark_processed_many
from shared.events import (
    AccessActionV1,
    Alert,
    AlertReceivedV1,
    Envelope,
    EventType,
    PartyActionV2,
    PauseAnswerV1,
    make_event,
    parse_event,
    stable_id,
)
from shared.kafka import Outbox, Record, create_party_topics, publish_event, send_all
from shared.service import Runtime, Service, create_app
from shared.settings import Settings
from shared.topics import Topic, commands_pattern, inbox_party

log = logging.getLogger(SERVICE)
COMMANDS = (EventType.PARTY_ACTION, EventType.ACCESS_ACTION, EventType.PAUSE_ANSWER)
"""What the commands topics carry: actions, access steps (ADR 49), answers to pauses (ADR 50)."""
FORMAT_HEADER = "format"


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


def impersonation(prefix: str, topic: str, party: str) -> str | None:
    """Why a command read from ``topic`` may not act as ``party``, or None: a party's inbox
    speaks only for that party."""
    owner = inbox_party(prefix, topic)
    if owner is None or owner == party:
        return None
    return f"party: the inbox of {owner} acts only as {owner}, not as {party!r}"


def party_of(command: Envelope) -> str:
    """The party a command's verdict is recorded for (what its HTTP request waits on)."""
    action = command.data
    assert isinstance(action, PartyActionV2 | AccessActionV1 | PauseAnswerV1)
    return action.party


def accepted_at(prefix: str, topic: str, command: Envelope, now: datetime) -> datetime:
    """When intake accepted ``command``: the shared commands topic's commands carry the time
    intake's HTTP path stamped on them (no party writes that topic); a party's inbox is the
    writer's own, so its command's time is only a claim and the action happened now (ADR 34)."""
    if inbox_party(prefix, topic) is None:
        return min(command.time, now)
    return now


def scoped(prefix: str, topic: str, command: Envelope) -> Envelope:
    """``command`` with an id of its channel's own: a party chooses the ids it writes to its
    inbox, so an inbox command's id is derived from (inbox party, its id) and can never be the
    id another party's HTTP request will use (ADR 36)."""
    owner = inbox_party(prefix, topic)
    if owner is None:
        return command  # the shared topic: intake's HTTP path chose the id
    return command.model_copy(update={"id": stable_id("inbox", owner, command.id)})


class Inboxes:
    """Each party's own command inbox exists before the commands consumer subscribes (by
    pattern), and a party that a republished contract adds gets one at the next tick."""

    def __init__(self) -> None:
        self._made: frozenset[str] = frozenset()

    async def ensure(self, rt: Runtime) -> None:
        parties = frozenset(inbox_parties(rt.contract))
        if parties - self._made:
            await create_party_topics(rt.settings, sorted(parties), Topic.COMMANDS)
            self._made = parties


def inbox_parties(contract: Contract) -> list[str]:
    """Parties that act through Kafka: all but vendors, whose cases a party handles."""
    return [p for p, party in contract.parties.items() if party.kind != "vendor"]


class IntakeService(Service):
    def __init__(self) -> None:
        self.verdicts = Verdicts(self.recorded_outcome)
        self.inboxes = Inboxes()

    def wire(self, rt: Runtime, router: APIRouter) -> None:
        self.rt = rt
        settings = rt.settings
        self.topics = {
            "alerts": settings.topic(Topic.ALERTS),
            "commands": settings.topic(Topic.COMMANDS),
            "incidents": settings.topic(Topic.INCIDENTS),
            "changes": settings.topic(Topic.CHANGES),
            "problems": settings.topic(Topic.PROBLEMS),
        }
        self.window = timedelta(seconds=settings.intake_correlation_window_seconds)
        self.opened = Counter(
            "baton_incidents_opened",
            "Incidents opened",
            ["layer", "priority"],
            registry=rt.registry,
        )
        self.closed = Counter(
            "baton_incidents_closed",
            "Incidents closed on customer confirmation",
            registry=rt.registry,
        )
        self.held = Counter(
            "baton_alerts_in_maintenance",
            "Firing alerts held back by an approved maintenance window",
            registry=rt.registry,
        )
        self.outcomes = Counter(
            "baton_alerts_outcome",
            "What each alert did: opened, deduplicated, correlated, recovered, ignored, "
            "source_acknowledged",
            ["outcome"],
            registry=rt.registry,
        )
        self.intake = Intake(
            settings=settings,
            contract=rt.contract,
            graph=graph_of(rt.contract),
            clock=rt.clock,
            registry=rt.registry,
            dead_letters=rt.dead_letters,
            publish=self.publish,
            publish_many=self.publish_all,
            auth=Authenticator(settings),
            await_outcome=self.await_outcome,
            first_use=self.first_use,
            record_change=self.record_change,
            list_changes=self.list_changes,
            kafka_down=lambda: rt.health.kafka_down,
        )
        rt.on_contract(self.adopt)
        router.include_router(build_router(self.intake))
        router.include_router(build_link_router(ServiceHost(self), rt.registry))
        rt.batch_subscriber(
            settings.topic(Topic.ALERTS_RAW),
            group="intake.raw",
            max_records=500,
            batch_timeout_ms=200,
        )(self.on_raw)
        rt.batch_subscriber(self.topics["alerts"], group="intake.alerts")(self.on_alerts)
        # The shared commands topic (only intake's HTTP path writes it, after checking the
        # party's token) and every party's own inbox (only that party may write it: Kafka ACLs).
        # A command from an inbox acts as the inbox's party whatever its ``party`` field says.
        rt.batch_subscriber(
            group="intake.commands",
            pattern=commands_pattern(settings.topic_prefix),
        )(self.on_commands)

    def adopt(self, new: Contract) -> None:
        """A newly published contract: new alerts and actions are judged by it."""
        self.intake.contract, self.intake.graph = new, graph_of(new)

    @property
    def view(self) -> ContractView:
        """The view of the contract in force: new alerts are judged by it."""
        return ContractView.of(self.intake.contract)

    # ---------------------------------------------------------------- what the HTTP side asks

    async def publish(self, kind: str, event: Envelope, key: str | None) -> None:
        await publish_event(self.rt.broker, self.topics[kind], event, key=key)

    async def publish_all(self, kind: str, keyed: list[tuple[Envelope, str | None, bytes]]) -> None:
        """A request's events in one send (one acknowledgement wait, one metric update)."""
        topic = self.topics[kind]
        await send_all(
            self.rt.broker, [(topic, event, key) for event, key, _ in keyed], [b for *_, b in keyed]
        )

    async def await_outcome(self, command_id: uuid.UUID, party: str) -> tuple[int, str, str] | None:
        """The commands consumer's verdict on ``party``'s command, or None when it takes longer
        than ``intake_action_wait_seconds``: settled by this instance's consumer, else read from
        ``command_outcomes`` at a low rate (another instance decided it)."""
        try:
            return await self.verdicts.wait(
                command_id, party, self.rt.settings.intake_action_wait_seconds
            )
        except DATABASE_UNAVAILABLE as exc:
            # The command is already durable in the commands topic and is applied exactly
            # once when the database is back: the answer is 202 pending, not an error.
            log.warning("action verdict unavailable", extra={"error": repr(exc)[:200]})
            return None

    async def recorded_outcome(
        self, command_id: uuid.UUID, party: str
    ) -> tuple[int, str, str] | None:
        """The verdict recorded in ``command_outcomes`` (whichever instance decided), bounded as
        every database call is: a connection that cannot be had in time is an unavailable
        database, answered 202 pending (a frozen PostgreSQL: issue 25)."""
        async with asyncio.timeout(self.rt.settings.pg_command_timeout_seconds):
            async with self.rt.pool.acquire() as conn:
                return await store.outcome(conn, command_id, party)

    async def first_use(self, signed: Signed, now: datetime) -> bool:
        async with self.rt.pool.acquire() as conn:
            return await store.first_use(conn, signed.signature, signed.expires_at, now)

    async def record_change(
        self, change: pagerduty.ChangeEvent, object_id: str | None, now: datetime
    ) -> None:
        async with self.rt.pool.acquire() as conn:
            await store.record_change(
                conn,
                stable_id("change", change.model_dump_json()),
                object_id=object_id,
                summary=change.payload.summary,
                source=change.payload.source,
                at=change.payload.timestamp or now,
                event=change.model_dump(mode="json", exclude={"routing_key"}),
            )

    async def list_changes(self, object_id: str) -> list[dict[str, Any]]:
        async with self.rt.pool.acquire() as conn:
            return await store.changes(conn, object_id)

    # ---------------------------------------------------------------- raw alerts (Kafka)

    async def on_raw(self, msg: KafkaMessage) -> None:
        """Foreign payloads from producers that speak Kafka; the ``format`` header names one
        of the receivers' formats. A batch at a time: every alert published (acks=all) before
        the batch's offsets are committed; ids derive from each record's coordinates, so a
        redelivered batch republishes the same events."""
        rt, intake = self.rt, self.intake
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
                    body, fmt, contract=intake.contract, at=at, unique=unique, settings=rt.settings
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
            events = alert_events(alerts, at, ids)
            limit = rt.settings.intake_max_alert_bytes
            too_big = oversized([e.to_json() for e in events], limit)
            for i, size in too_big.items():  # the broker would refuse it for ever: kept apart
                kept, note = fit_for_dead_letter(events[i].to_json())
                await rt.dead_letters.send(
                    reason=f"alerts[{i}]: {size} bytes as an event, the limit is {limit}"
                    f" (intake_max_alert_bytes){note}",
                    kind="too_large",
                    origin=f"kafka:{record.topic}",
                    payload=kept,
                    now=rt.clock.now(),
                    headers={"source": fmt or "(none)", "record": unique},
                )
            for i, (event, alert) in enumerate(zip(events, alerts, strict=True)):
                if i in too_big:
                    continue
                key = alert_key(intake.graph, alert.object_id, alert.fingerprint)
                publishing.append(self.publish("alerts", event, key))
        await asyncio.gather(*publishing)

    # ---------------------------------------------------------------- alerts → incidents

    async def on_alerts(self, msg: KafkaMessage) -> None:
        """A batch of alerts in one transaction: the processed-event records, the incidents
        they can reach read and locked once, each alert decided in turn (in partition order)
        against the state the batch has built so far, the changed incidents written set-based,
        the incident events published together; the offsets are committed after all of it."""
        events: list[tuple[Envelope, bytes]] = []
        for record in self.rt.records(msg, "intake.alerts"):
            event = await self.rt.parse_record(record, EventType.ALERT_RECEIVED)
            if event is not None:
                events.append((event, record.value or b""))
        if events:
            await self.decide_alerts(events)

    async def decide_alerts(self, events: list[tuple[Envelope, bytes]]) -> None:
        """Read and lock what the batch can reach, ``decide``, write and publish."""
        rt, view = self.rt, self.view
        now = rt.clock.now()
        outbox = Outbox(rt.broker)
        async with rt.pool.acquire() as conn, conn.transaction():
            fresh = await mark_processed_many(conn, "alerts", [e.id for e, _ in events])
            todo: list[Received] = []
            for event, body in events:
                if event.id in fresh:
                    fresh.discard(event.id)  # the same event twice in one batch counts once
                    todo.append(Received(event, body))
            if not todo:
                return
            fingerprints, objects = reach(todo, view.graph)
            incidents = await store.open_for_batch(conn, fingerprints, objects)
            held = await store.held_among(conn, fingerprints)
            decision = decide(todo, incidents, view, now, held=held, window=self.window)
            for step in decision.holds:
                if isinstance(step, Release):
                    await store.release(conn, step.fingerprint)
                    continue
                await store.hold(conn, step.alert, step.window, step.at, step.body)
                self.held.inc()
                log.info(
                    "alert held: maintenance window",
                    extra={"object": step.alert.object_id, "window": step.window},
                )
            outbox.extend(self.topics["incidents"], decision.events)
            # rows written while the events go out; both finish before the commit, so a crash
            # in between replays the batch and republishes the same event ids
            await asyncio.gather(
                store.save_states(conn, decision.states, incidents.loaded), outbox.flush()
            )
            rt.crash_point("intake.alerts")
        for outcome, state, new in decision.outcomes:
            self.outcomes.labels(outcome).inc()
            if state is not None and new:
                self.opened.labels(state.layer or "none", state.priority).inc()
                log.info("incident opened", extra={"incident": state.id, "object": state.object_id})

    # ---------------------------------------------------------------- commands

    async def on_commands(self, msg: KafkaMessage) -> None:
        """A batch of party actions in one transaction, each decided in turn against the
        incident as the batch left it; verdicts recorded, events published together."""
        rt = self.rt
        commands: list[tuple[Envelope, Record]] = []
        for record in rt.records(msg, "intake.commands"):
            command = await rt.parse_record(
                record, EventType.PARTY_ACTION, EventType.ACCESS_ACTION, EventType.PAUSE_ANSWER
            )
            if command is not None:
                commands.append((scoped(rt.settings.topic_prefix, record.topic, command), record))
        if not commands:
            return
        view = self.view  # in force now: an action is judged by the contract in force
        now = rt.clock.now()
        outbox = Outbox(rt.broker)
        unknown: list[tuple[str, Record]] = []
        refused: list[tuple[str, Record]] = []
        closing = 0
        async with rt.pool.acquire() as conn, conn.transaction():
            fresh = await mark_processed_many(conn, "commands", [c.id for c, _ in commands])
            todo = [(c, r) for c, r in commands if c.id in fresh]
            seen = [(c.id, party_of(c)) for c, _ in commands if c.id not in fresh]
            incidents = await store.load_many(conn, sorted({c.subject or "" for c, _ in todo}))
            before = dict(incidents)
            changed: dict[str, IncidentState] = {}
            verdicts: list[store.Verdict] = []
            for command, record in todo:
                if command.id not in fresh:
                    continue
                fresh.discard(command.id)
                action = command.data
                assert isinstance(action, PartyActionV2 | AccessActionV1 | PauseAnswerV1)
                digest = action_digest(action)
                forged = impersonation(rt.settings.topic_prefix, record.topic, action.party)
                if forged is not None:
                    verdicts.append((command.id, command.subject or "", 403, forged, "", digest))
                    refused.append((forged, record))
                    continue
                incident = incidents.get(command.subject or "")
                if incident is None or hidden(action, incident, view):
                    reason = f"subject: no incident {command.subject!r}"
                    verdicts.append(
                        (command.id, command.subject or "", 404, reason, action.party, digest)
                    )
                    if incident is not None:  # for the operators: what it really was
                        reason = (
                            f"party: {action.party} has no part in {incident.id} (answered 404)"
                        )
                    unknown.append((reason, record))
                    continue
                at = accepted_at(rt.settings.topic_prefix, record.topic, command, now)
                state, out, (status, reason) = apply_command(command, incident, view, now, at)
                outbox.extend(self.topics["incidents"], out)
                incidents[state.id] = changed[state.id] = state
                verdicts.append((command.id, incident.id, status, reason, action.party, digest))
                closing += sum(e.type == EventType.INCIDENT_CLOSED for e in out)
            await store.record_outcomes(conn, verdicts)
            for kind, letters in (("unknown_incident", unknown), ("impersonation", refused)):
                for reason, record in letters:
                    await rt.dead_letters.send(
                        reason=reason,
                        kind=kind,
                        origin=f"kafka:{record.topic}",
                        payload=record.value or b"",
                        now=rt.clock.now(),
                    )
            await asyncio.gather(
                store.save_states(conn, list(changed.values()), before), outbox.flush()
            )
        # committed: this instance's waiting HTTP actions get their verdicts without a query
        self.verdicts.settle(((v[0], v[4]), (v[2], v[3], v[5])) for v in verdicts)
        self.verdicts.recheck(seen)
        if closing:
            self.closed.inc(closing)

    # ---------------------------------------------------------------- the tick

    async def release_ended_windows(self) -> int:
        """Alerts held by a maintenance window that has ended and still firing: republish each
        one (dated now, a deterministic id) so that it opens its incident the normal way. The
        row lock and the delete in one transaction fence the firing: two instances never both
        release one alert, and a crash before commit republishes the same event id."""
        rt = self.rt
        view = ContractView.of(rt.contract)  # in force now (it may have been republished)
        muter = MaintenanceMuter(view)
        now = rt.clock.now()
        released = 0
        async with rt.pool.acquire() as conn, conn.transaction():
            for fingerprint, object_id, raw in await store.held(conn):
                original = parse_event(raw)
                alert = original.data_as(AlertReceivedV1).alert
                if muter.mutes(alert, now) is not None:
                    continue
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
                    AlertReceivedV1(alert=alert, received_at=now),
                    source=SERVICE,
                    time=now,
                    event_id=stable_id("maintenance-ended", original.id),
                )
                await publish_event(
                    rt.broker,
                    self.topics["alerts"],
                    event,
                    key=alert_key(view.graph, object_id, fingerprint),
                )
                await store.release(conn, fingerprint)
                released += 1
        if released:
            log.info("maintenance ended: alerts released", extra={"count": released})
        return released

    async def ensure_inboxes(self) -> None:
        """Every party's command inbox: before the commands consumer subscribes, then at each
        tick for parties a republished contract adds."""
        await self.inboxes.ensure(self.rt)

    async def before_start(self, rt: Runtime) -> None:
        await self.ensure_inboxes()

    async def on_start(self, rt: Runtime) -> None:
        rt.tick(
            "intake-tick",
            rt.settings.intake_tick_seconds,
            ("party inboxes", self.ensure_inboxes),
            ("maintenance", self.release_ended_windows),
        )


def build_app() -> FastAPI:
    return create_app(
        SERVICE, IntakeService(), schema="intake", migrations=Path(__file__).parent / "migrations"
    )
