"""Router's shell: incidents and SLA events in, assignments, checks, handovers and escalations
out; the state of each incident's route in PostgreSQL.

Each input is handled in one transaction: the processed-event record, the pure function's
result published (with ids derived from the input), the new state saved, the timers synced. A
tick calls a party's backup contacts when its assignment stays unacknowledged; it is fenced the
way sla-clock's is: the route row is locked, the timer row re-checked and locked with
``SKIP LOCKED``, and marked fired in the same transaction as the escalation.

Each router event also writes, in its transaction, the messages it makes for people
(``notify``: who, over which channel, what) into ``router.notifications``; a delivery loop of
its own sends them and the webhook pushes outside any transaction (``outbox``, ADR 31).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter, Gauge

from router import notify, problems, store, webhook
from router import outbox as notification_outbox
from router.delivery import Delivery
from router.escalation import on_ack_overdue, on_delivery_failed, on_sla, recipients
from router.routing import (
    RouteState,
    contract_for,
    on_action,
    on_closed,
    on_origin_moved,
    on_reclassified,
    open_route,
)
from shared import links
from shared.contract.versions import ContractVersions
from shared.contract.view import ContractView
from shared.db import Conn, mark_processed_many
from shared.events import (
    AssignmentEscalatedV3,
    AssignmentIssuedV3,
    Envelope,
    EscalationReason,
    EventType,
    IncidentOpenedV1,
    OriginMovedV1,
    ProblemCloseRequestedV1,
)
from shared.kafka import Outbox, publish_events
from shared.service import Runtime, Service, create_app
from shared.topics import Topic

SERVICE = "router"
log = logging.getLogger(SERVICE)
INCIDENT_INPUTS = frozenset(
    {
        EventType.INCIDENT_OPENED,
        EventType.ACTION_ACCEPTED,
        EventType.ORIGIN_MOVED,
        EventType.INCIDENT_RECLASSIFIED,
        EventType.INCIDENT_CLOSED,
        EventType.ACCESS_REQUEST,
    }
)
SLA_INPUTS = frozenset(
    {
        EventType.SLA_WARNING,
        EventType.SLA_BREACHED,
        EventType.SLA_OVERDUE,
        EventType.SLA_CLOCK_RECOMPUTED,
        EventType.UPDATE_DUE,  # the coordinator reminded (ADR 47)
        EventType.UPDATE_OVERDUE,  # told when late, and the levels that name it (ADR 54)
    }
)


PROBLEM_INPUTS = frozenset({EventType.PROBLEM_CLOSE_REQUESTED})


class RouterService(Service):
    def __init__(self) -> None:
        self._http: httpx.AsyncClient | None = None

    def wire(self, rt: Runtime, _: APIRouter) -> None:
        self.rt = rt
        # every version adopted: an open incident answers to its own (routing.contract_for)
        self.contracts = ContractVersions(rt.contract)
        rt.on_contract(self.contracts.adopt)
        self.delivery = Delivery(rt.broker, rt.settings)
        self.issued = Counter(
            "baton_assignments", "Assignments issued", ["party", "role"], registry=rt.registry
        )
        self.pushed = Counter(
            "baton_router_webhook_pushes",
            "Webhook pushes to parties, by outcome",
            ["party", "outcome"],
            registry=rt.registry,
        )
        self.sent = Counter(
            "baton_router_events",
            "Router events published (checks, handovers, escalations, assignments)",
            ["type"],
            registry=rt.registry,
        )
        self._wire_notifications(rt)
        rt.batch_subscriber(rt.settings.topic(Topic.INCIDENTS), group=SERVICE)(self.on_incidents)
        rt.batch_subscriber(
            rt.settings.topic(Topic.SLA),
            group=f"{SERVICE}-sla",
        )(self.on_sla_events)
        rt.batch_subscriber(
            rt.settings.topic(Topic.PROBLEMS),
            group=f"{SERVICE}-problems",
        )(self.on_problem_requests)

    async def on_problem_requests(self, msg: KafkaMessage) -> None:
        """Requests to close problem records (ADR 48), one transaction per batch: each decided
        against the problem as the batch left it; the events published before the commit."""
        rt = self.rt
        requests = await self._parse_batch(msg, PROBLEM_INPUTS, f"{SERVICE}-problems")
        if not requests:
            return
        now = rt.clock.now()
        outbox, staged = Outbox(rt.broker), store.Staged()
        async with rt.pool.acquire() as conn, conn.transaction():
            fresh = await mark_processed_many(conn, "problems", [e.id for e in requests])
            for event in requests:
                if event.id not in fresh:
                    continue
                fresh.discard(event.id)
                request = event.data_as(ProblemCloseRequestedV1)
                found = await store.problem(conn, request.problem_id)
                if found is None:
                    await rt.dead_letters.send(
                        reason=f"problem_id: no problem {request.problem_id!r}",
                        kind="problem",
                        origin=rt.settings.topic(Topic.PROBLEMS),
                        payload=event.to_json(),
                        now=now,
                    )
                    continue
                problem, out = problems.close(found, request, rt.contract, now)
                if problem != found:
                    await store.save_problem(conn, problem)
                state = await store.load(conn, out[0].subject or "")
                if state is None:
                    await self.delivery.stage(outbox, out, problem.coordinator)
                else:
                    await self._stage(outbox, staged, out, state)
            await asyncio.gather(staged.write(conn), outbox.flush())

    def _wire_notifications(self, rt: Runtime) -> None:
        settings = rt.settings
        self.sender = notification_outbox.Sender(
            {k: v.get_secret_value() for k, v in settings.notify_senders.items()},
            settings.notify_send_timeout_seconds,
            logging_as=(settings.log_level, settings.log_format),
        )
        secret = settings.links_secret[0].get_secret_value() if settings.links_secret else None
        base = settings.links_base_url.rstrip("/")
        self.links = notify.Links(
            (lambda claims: f"{base}/v1/links/{links.sign(secret, claims)}") if secret else None,
            timedelta(hours=settings.links_ttl_hours),
        )
        self.worker = notification_outbox.Worker(
            rt,
            self.sender,
            counted=Counter(
                "baton_notifications",
                "Messages to people, by channel kind and outcome (sent, retried, failed)",
                ["channel", "outcome"],
                registry=rt.registry,
            ),
            oldest=Gauge(
                "baton_notifications_oldest_unsent_seconds",
                "Age of the oldest notification not yet sent (0: none waiting)",
                registry=rt.registry,
            ),
            publish=lambda events: publish_events(
                rt.broker, rt.settings.topic(Topic.ASSIGNMENTS), events
            ),
        )

    def _notices(self, event: Envelope, state: RouteState) -> list[notify.Notice]:
        return notify.notices(
            event, state, self.rt.view, senders=self.sender.kinds, links=self.links
        )

    async def _publish(self, conn: Conn, out: list[Envelope], state: RouteState) -> None:
        """Publish one incident's events (waiting for the broker) and write their rows."""
        if not out:
            return
        outbox, staged = Outbox(self.rt.broker), store.Staged()
        await self._stage(outbox, staged, out, state)
        await asyncio.gather(outbox.flush(), staged.write(conn))

    async def _stage(
        self, outbox: Outbox, staged: store.Staged, out: list[Envelope], state: RouteState
    ) -> None:
        """Queue one incident's events on ``outbox`` and their rows on ``staged``."""
        if not out:
            return
        coordinator = state.coordinator
        await self.delivery.stage(outbox, out, coordinator)
        for event in out:
            self._stage_pushes(staged, event, coordinator)
            staged.notices.extend(self._notices(event, state))
            self.sent.labels(event.type.value).inc()
            data = event.data
            if isinstance(data, AssignmentIssuedV3):
                staged.assignments.append(
                    (event.subject, data.role.value, data.party, event.id, event.time)
                )
                self.issued.labels(data.party, data.role.value).inc()

    def _stage_pushes(self, staged: store.Staged, event: Envelope, coordinator: str) -> None:
        rt = self.rt
        data = event.data
        for party in recipients(event, coordinator):
            url = webhook.endpoint(rt.contract, party)
            if url is None or party not in rt.settings.router_webhook_secrets:
                continue
            if (
                isinstance(data, AssignmentEscalatedV3)
                and data.reason == EscalationReason.DELIVERY_FAILED
                and data.party == party
            ):
                continue  # its endpoint is the one that failed: Kafka only
            staged.pushes.append(
                (event.id, party, event.subject, url, event.to_json(), rt.clock.now())
            )

    async def push_due(self) -> int:
        """Push every webhook delivery that fell due; returns how many were delivered.

        The notification worker's manner (ADR 31): the due rows are claimed with a lease in
        one committed statement, posted concurrently with no transaction or lock held, and
        each outcome recorded in its own transaction."""
        rt = self.rt
        if self._http is None:
            return 0
        now = rt.clock.now()
        base = timedelta(seconds=rt.settings.router_webhook_backoff_seconds)
        async with rt.pool.acquire() as conn:
            rows = await store.claim_deliveries(conn, now, now + notification_outbox.LEASE)
        if not rows:
            return 0
        errors = await asyncio.gather(
            *(self._post(r["party"], r["url"], r["body"], r["event_id"]) for r in rows)
        )
        now = rt.clock.now()
        async with rt.pool.acquire() as conn:
            for row, error in zip(rows, errors, strict=True):
                attempts = row["attempts"]  # counted by the claim
                async with conn.transaction():
                    if error is None:
                        await store.delivered(conn, row["event_id"], row["party"], now, attempts)
                    elif attempts < rt.settings.router_webhook_max_attempts:
                        await store.retry_later(
                            conn,
                            row["event_id"],
                            row["party"],
                            attempts=attempts,
                            next_at=webhook.next_attempt(now, attempts, base),
                            error=error,
                        )
                    else:
                        await self._give_up(conn, row, attempts, error)
        return sum(1 for e in errors if e is None)

    async def _post(self, party: str, url: str, body: bytes, event_id: object) -> str | None:
        """None when the endpoint took it (2xx), else what went wrong."""
        assert self._http is not None
        secret = self.rt.settings.router_webhook_secrets.get(party)
        if secret is None:
            return "no webhook secret configured for the party"
        signed = webhook.headers(
            secret.get_secret_value(), self.rt.clock.now(), str(event_id), body
        )
        try:
            response = await webhook.post(
                self._http, url, body, signed, party=party, event_id=str(event_id)
            )
        except httpx.HTTPError as exc:
            self.pushed.labels(party, "error").inc()
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            self.pushed.labels(party, "delivered").inc()
            return None
        self.pushed.labels(party, "refused").inc()
        return f"HTTP {response.status_code}"

    async def _give_up(self, conn: Conn, row: Any, attempts: int, error: str) -> None:
        rt = self.rt
        now = rt.clock.now()
        await store.given_up(
            conn, row["event_id"], row["party"], attempts=attempts, now=now, error=error
        )
        await rt.dead_letters.send(
            reason=f"webhook push to {row['party']} failed {attempts} times: {error}",
            kind="webhook",
            origin=row["url"],
            payload=bytes(row["body"]),
            now=now,
        )
        state = await store.load(conn, row["incident_id"])
        if state is None:
            return
        await self.contracts.sync(conn)
        state, out = on_delivery_failed(
            state,
            self._view(state, None),
            party=row["party"],
            event_id=row["event_id"],
            reason=error,
            now=now,
        )
        await self._publish(conn, out, state)

    async def on_incidents(self, msg: KafkaMessage) -> None:
        """A batch of incident events: one transaction, each event decided in turn against
        the route as the batch left it, all events published together before the commit."""
        events = await self._parse_batch(msg, INCIDENT_INPUTS, SERVICE)
        if events:
            await self._handle(events, "incidents", self._decide_incident)

    async def on_sla_events(self, msg: KafkaMessage) -> None:
        events = await self._parse_batch(msg, SLA_INPUTS, f"{SERVICE}-sla")
        if events:
            await self._handle(events, "sla", self._decide_sla)

    async def _parse_batch(
        self, msg: KafkaMessage, kinds: frozenset[EventType], consumer: str
    ) -> list[Envelope]:
        events = []
        for record in self.rt.records(msg, consumer):
            event = await self.rt.parse_record(record)
            if event is not None and event.type in kinds:
                events.append(event)
        return events

    def _view(self, state: RouteState | None, event: Envelope | None) -> ContractView:
        """The view of the incident's own version, or of the one in force
        (``routing.contract_for``): the shell picks it, the pure cores take it."""
        return ContractView.of(contract_for(state, event, self.rt.contract, self.contracts.known))

    def _decide_incident(
        self, state: RouteState | None, event: Envelope, now: datetime
    ) -> tuple[RouteState, list[Envelope]] | None:
        view = self._view(state, event)
        if event.type == EventType.INCIDENT_OPENED:
            if state is not None:
                return None  # routed already (the open event is never re-emitted with a new id)
            return open_route(event, view, now)
        if state is None:
            log.warning(
                "no route for incident", extra={"incident": event.subject, "type": event.type}
            )
            return None
        if event.type == EventType.ACTION_ACCEPTED:
            return on_action(state, event, view, now)
        if event.type == EventType.ORIGIN_MOVED:
            return on_origin_moved(state, event, view, now)
        if event.type == EventType.INCIDENT_RECLASSIFIED:
            state = on_reclassified(state, event, view)
        elif event.type == EventType.INCIDENT_CLOSED:
            state = on_closed(state)
        return state, []  # an access request: the route stands, the contacts are told

    def _decide_sla(
        self, state: RouteState | None, event: Envelope, now: datetime
    ) -> tuple[RouteState, list[Envelope]] | None:
        if state is None:
            log.warning(
                "SLA event for an incident without a route", extra={"incident": event.subject}
            )
            return None
        if event.type == EventType.UPDATE_DUE:
            return state, []  # the coordinator is reminded (notify.py); no route change
        return on_sla(state, event, self._view(state, event), now)

    async def _handle(
        self,
        events: list[Envelope],
        consumer: str,
        decide: Callable[
            [RouteState | None, Envelope, datetime], tuple[RouteState, list[Envelope]] | None
        ],
    ) -> None:
        rt = self.rt
        now = rt.clock.now()
        outbox, staged = Outbox(rt.broker), store.Staged()
        routed: list[tuple[str | None, int]] = []
        async with rt.pool.acquire() as conn, conn.transaction():
            fresh = await mark_processed_many(conn, consumer, [e.id for e in events])
            await self.contracts.sync(conn)
            routes = await store.load_many(conn, sorted({e.subject or "" for e in events}))
            changed: dict[str, RouteState] = {}
            for event in events:
                if event.id not in fresh:
                    continue
                fresh.discard(event.id)  # the same event twice in one batch counts once
                decided = decide(routes.get(event.subject or ""), event, now)
                if decided is None:
                    continue
                state, out = decided
                routes[state.incident_id] = changed[state.incident_id] = state
                await self._stage(outbox, staged, out, state)
                staged.notices.extend(self._notices(event, state))  # restored: confirm asked
                if out:
                    routed.append((event.subject, len(out)))
                if consumer == "incidents":
                    told = await self._count_problem(conn, event, state, now)
                    await self._stage(outbox, staged, told, state)
            if consumer == "sla":
                staged.notices = notify.last_reissue_only(staged.notices)
            # rows written while the events go out; both before the commit (a crash in between
            # replays the batch, which republishes the same ids)
            await asyncio.gather(self._write(conn, list(changed.values()), staged), outbox.flush())
            rt.crash_point(SERVICE if consumer == "incidents" else f"{SERVICE}-sla")
        for incident, count in routed:
            log.info("routed", extra={"incident": incident, "events": count})

    async def _count_problem(
        self, conn: Conn, event: Envelope, state: RouteState, now: datetime
    ) -> list[Envelope]:
        """An incident opened on, or moved to, an origin counts there; recurring ones open a
        problem record or link to the open one (``router/problems.py``, ADR 48)."""
        data = event.data
        if isinstance(data, IncidentOpenedV1) and data.object_id:
            object_id, opened_at = data.object_id, data.opened_at
        elif isinstance(data, OriginMovedV1) and data.to_object:
            object_id, opened_at = data.to_object, state.opened_at
        else:
            return []
        origin, _ = problems.origin_of(self.rt.contract, object_id)  # an object, or its group
        history = await store.count_on_origin(conn, state.incident_id, origin, opened_at)
        closed = await store.closed_problem_incidents(conn, origin)
        history = [h for h in history if h.incident_id not in closed]  # a closed one counts no more
        found = await store.open_problem(conn, origin)
        problem, out = problems.decide(
            found, history, state.incident_id, self.rt.view, now, object_id=object_id
        )
        if problem is not None and problem != found:
            await store.save_problem(conn, problem)
        return out

    @staticmethod
    async def _write(conn: Conn, states: list[RouteState], staged: store.Staged) -> None:
        await store.save_many(conn, states)  # the routes first: ack timers reference them
        await staged.write(conn)

    async def tick_once(self) -> int:
        """Call the backup contacts of every party whose assignment is overdue; how many."""
        rt = self.rt
        now = rt.clock.now()
        async with rt.pool.acquire() as conn:
            due = await store.due_ack_timers(conn, now)
            fired = 0
            for row in due:
                async with conn.transaction():
                    # routes row first, then the timer row: the handlers' lock order
                    state = await store.load(conn, row["incident_id"])
                    locked = await store.lock_ack_timer(conn, row["incident_id"], row["party"], now)
                    if state is None or not locked:
                        continue  # another instance fired it, or it was acknowledged meanwhile
                    await self.contracts.sync(conn)
                    view = self._view(state, None)
                    state, out = on_ack_overdue(state, row["party"], view, now)
                    await self._publish(conn, out, state)
                    await store.ack_timer_fired(conn, row["incident_id"], row["party"], now)
                    await store.save(conn, state)
                    fired += len(out)
        return fired

    async def on_start(self, rt: Runtime) -> None:
        await self.delivery.ensure(rt.contract.parties)
        self._http = httpx.AsyncClient(timeout=5.0)
        for party in rt.contract.parties:
            if (
                webhook.endpoint(rt.contract, party)
                and party not in rt.settings.router_webhook_secrets
            ):
                log.warning("webhook endpoint without a secret: not pushed", extra={"party": party})
        rt.tick("router-tick", rt.settings.router_tick_seconds, ("escalation tick", self.tick_once))
        # people and webhooks are sent to from one loop of its own, outside any transaction:
        # a slow SMTP relay or endpoint never delays an escalation
        rt.tick(
            "router-delivery",
            min(rt.settings.notify_tick_seconds, rt.settings.router_tick_seconds),
            ("notifications", self.worker.round),
            ("webhook push", self.push_due),
        )

    async def on_stop(self, rt: Runtime) -> None:
        self.sender.close()
        if self._http is not None:
            await self._http.aclose()


def build_app() -> FastAPI:
    return create_app(
        SERVICE, RouterService(), schema="router", migrations=Path(__file__).parent / "migrations"
    )
