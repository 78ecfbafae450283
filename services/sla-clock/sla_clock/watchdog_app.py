"""The check-in watchdog's shell inside sla-clock (ADR 16): pings in, missed runs out as alerts.

- HTTP ``/ping/<key>[/start|/fail|/log|/<exit status>]`` (GET, POST or HEAD; healthchecks.io's
  protocol) publishes a ``baton.checkin.ping`` to the checkins topic, keyed by the check-in key,
  and answers 200 once the broker has it; runs that speak Kafka write the same event there.
- The checkins consumer takes a batch (ADR 10): one transaction for its pings with their
  processed records (the ping rows, keyed by event id, written in one statement), the states
  locked in key order, each ping applied in topic order (state, timers), and the batch's
  resolved/failed alerts published together before the commit.
- The tick fires due timers of the partitions this instance owns and has caught up on, locked
  ``FOR UPDATE SKIP LOCKED`` and marked fired in the same transaction as the publish.

Alerts go to the raw alerts topic in Baton's generic format: intake stays the one writer of the
incidents topic, and correlation, maintenance and routing treat them like any monitoring alert.
The check-in key is a capability: an HMAC of the check-in's name under ``BATON_CHECKIN_SECRET``
(ADR 35), never logged, put in a metric, an alert or a dead letter by this service; logs name
the check-in as ``object/duty``. ``/v1/checkins`` answers reader tokens only (a contractor: the
check-ins that are its duty or its layer's).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson
from aiokafka.partitioner import murmur2
from fastapi import APIRouter, Request, Response
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from shared.checkins import Expectation, by_key
from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import CheckinPingV1, EventType, make_event, parse_event
from shared.http import describe
from shared.kafka import event_headers
from shared.readers import Reader, reader
from shared.redact import REDACTED
from shared.service import Runtime
from shared.topics import TOPIC_SPECS, Topic
from sla_clock import watchdog_store as store
from sla_clock.ownership import Ownership
from sla_clock.timer_port import drain
from sla_clock.watchdog import Outcome, Ping, PingKind, on_ping, on_timer, plan

SERVICE = "sla-clock"
log = logging.getLogger("sla-clock.watchdog")
MAX_BODY = 10_000
"""Bytes of a ping's body kept as the run's log; the rest is not even read."""
KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
KEY_IN_TEXT = re.compile(rb'("key"\s*:\s*")[^"]*')
PARTITIONS = next(s.partitions for s in TOPIC_SPECS if s.topic is Topic.CHECKINS)
FIRE_BATCH = 100


def partition_of(key: str) -> int:
    """The checkins-topic partition Kafka's default partitioner gives ``key``."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % PARTITIONS


class Watchdog:
    def __init__(self) -> None:
        self._replan = True

    def wire(self, rt: Runtime, router: APIRouter) -> None:
        self.rt = rt
        self.topic = rt.settings.topic(Topic.CHECKINS)
        self.alerts_topic = rt.settings.topic(Topic.ALERTS_RAW)
        self.expected: dict[str, Expectation] = by_key(rt.contract, self.secrets())
        rt.on_contract(self._adopt)
        self.ownership = Ownership(lambda: self.subscriber.consumer)
        self.subscriber = rt.batch_subscriber(
            self.topic,
            group=f"{SERVICE}.checkins",
            listener=self.ownership,
        )
        self.subscriber(self.on_messages)
        counter = partial(Counter, labelnames=["checkin", "kind"], registry=rt.registry)
        self.pings = counter("baton_checkin_pings", "Check-in pings applied, by check-in and kind")
        self.fired = counter("baton_checkin_fired", "Missed or timed-out runs reported as alerts")
        gauge = partial(Gauge, labelnames=["checkin", "object", "duty"], registry=rt.registry)
        self.last_success = gauge(
            "baton_checkin_last_success_timestamp_seconds",
            "When the check-in's last successful run reported (0: never)",
        )
        self.next_expected = gauge(
            "baton_checkin_next_expected_timestamp_seconds", "When the run awaited now is expected"
        )
        self.deadline = gauge(
            "baton_checkin_deadline_timestamp_seconds",
            "Expected time + grace of the run awaited now: past it, the run is overdue",
        )
        self.overdue = gauge(
            "baton_checkin_overdue_seconds",
            "How long past expected time + grace the awaited run is (0: not overdue)",
        )
        self.down = gauge(
            "baton_checkin_down",
            "1 while the check-in's last run was missed or failed (an alert is firing)",
        )
        self._routes(router)

    def secrets(self) -> list[str]:
        return [s.get_secret_value() for s in self.rt.settings.checkin_secret or ()]

    def current(self) -> dict[str, Expectation]:
        """Each watched expectation by its current key (without the keys of a rotated-out
        secret, which ``expected`` still accepts)."""
        return {e.key: e for e in self.expected.values()}

    def _adopt(self, contract: Contract) -> None:
        self.expected = by_key(contract, self.secrets())
        self._replan = True

    # ------------------------------------------------------------------ HTTP

    def _routes(self, router: APIRouter) -> None:
        async def ping(key: str, request: Request) -> Response:
            """A run finished well (healthchecks.io: success). The body is kept as its log."""
            return await self.receive(key, "success", None, request)

        async def ping_signal(key: str, signal: str, request: Request) -> Response:
            """``start``, ``fail``, ``log``, or the run's exit status 0-255 (0 = success)."""
            if signal in {"start", "fail", "log"}:
                kind: PingKind = signal  # type: ignore[assignment]
                return await self.receive(key, kind, None, request)
            if signal.isdigit() and len(signal) <= 3 and int(signal) <= 255:
                status = int(signal)
                kind = "success" if status == 0 else "fail"
                return await self.receive(key, kind, status, request)
            return Response("not found", status_code=404, media_type="text/plain")

        @router.get("/v1/checkins", tags=["check-ins"])
        async def checkins(request: Request) -> list[dict[str, Any]]:
            """Each watched expected event by ``object/duty`` (never by key): the run awaited,
            its deadline, the last successful run, the last ping, and whether it is overdue or
            failing now. A reader token is required (``BATON_REPORTING_READER_TOKENS``); a
            contractor's shows the check-ins that are its duty or its layer's."""
            who = reader(request, self.rt.settings, self.rt.contract)
            return await self.status(who)

        for method in ("GET", "POST", "HEAD"):
            for path, handler in (("/ping/{key}", ping), ("/ping/{key}/{signal}", ping_signal)):
                router.add_api_route(
                    path,
                    handler,
                    methods=[method],
                    tags=["check-ins"],
                    operation_id=f"{handler.__name__}_{method.lower()}",
                    response_class=Response,
                    responses={
                        200: {"description": "OK: the ping is stored"},
                        404: {"description": "not found: no such check-in key"},
                        503: {"description": "the broker is unavailable; retry"},
                    },
                )

    async def receive(
        self, key: str, kind: PingKind, exit_status: int | None, request: Request
    ) -> Response:
        if not KEY.match(key) or key not in self.expected:
            return Response("not found", status_code=404, media_type="text/plain")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk[: MAX_BODY - len(body)])
            if len(body) >= MAX_BODY:
                break
        now = self.rt.clock.now()
        exp = self.expected[key]
        event = make_event(
            CheckinPingV1(
                key=exp.key,  # a key of a rotated-out secret reports to the current one
                kind=kind,
                exit_status=exit_status,
                at=now,
                body=bytes(body).decode("utf-8", errors="replace")[:MAX_BODY],
            ),
            source=f"{SERVICE}/ping",
            time=now,
        )
        settings = self.rt.settings
        try:
            # bounded like intake's receivers: a frozen broker is a fast 503, not a hang
            async with asyncio.timeout(settings.publish_timeout_seconds):
                await self.rt.broker.publish(
                    event.to_json(), self.topic, key=exp.key.encode(), headers=event_headers(event)
                )
        except Exception:  # the broker is gone or silent: say so fast, the run retries its ping
            log.exception("ping not stored", extra={"checkin": exp.name})
            return Response(
                "unavailable: the ping may have been kept; retry it",
                status_code=503,
                headers={"Retry-After": str(settings.retry_after_seconds)},
                media_type="text/plain",
            )
        return Response("OK", media_type="text/plain")

    # ------------------------------------------------------------------ Kafka

    async def on_messages(self, msg: KafkaMessage) -> None:
        """One batch of the checkins topic: one transaction, one offset commit (ADR 10)."""
        records = self.rt.records(msg, f"{SERVICE}.checkins")
        pings = [
            ping
            for record in records
            if (ping := await self._parse(record.value or b"", record.topic)) is not None
        ]
        if pings:
            await self.apply(pings)
        # reached only when the batch committed: its offsets are about to be committed
        for record in records:
            self.ownership.processed(record.partition, record.offset)

    async def _parse(self, value: bytes, topic: str) -> tuple[uuid.UUID, CheckinPingV1] | None:
        reason = ""
        try:
            event = parse_event(value)
            if event.type is not EventType.CHECKIN_PING:
                reason = f"type: expected {EventType.CHECKIN_PING.value}, got {event.type.value}"
            else:
                data = event.data_as(CheckinPingV1)
                if (exp := self.expected.get(data.key)) is not None:
                    return event.id, data.model_copy(update={"key": exp.key})
                reason = "key: unknown check-in key"
        except ValidationError as exc:
            reason = describe(exc)
        except ValueError as exc:
            reason = str(exc)
        await self.rt.dead_letters.send(
            reason=reason,
            kind="schema",
            origin=f"kafka:{topic}",
            payload=_without_key(value),
            now=self.rt.clock.now(),
        )
        return None

    async def apply(self, pings: list[tuple[uuid.UUID, CheckinPingV1]]) -> None:
        """Apply ``pings`` in order in one transaction; a ping seen before (a redelivery, or a
        repeat inside the batch) is skipped. The alerts are acknowledged before the commit."""
        rt = self.rt
        now = rt.clock.now()
        alerts: list[dict[str, Any]] = []
        applied: list[CheckinPingV1] = []
        async with rt.pool.acquire() as conn, conn.transaction():
            # a run cannot report from the future
            timed = [
                (eid, data.model_copy(update={"at": min(data.at, now)})) for eid, data in pings
            ]
            fresh = await store.record_pings(conn, timed)
            states = await store.load_many(conn, sorted({data.key for _, data in timed}))
            for event_id, data in timed:
                if event_id not in fresh:
                    continue
                fresh.discard(event_id)  # a message repeated inside the batch counts once
                exp = self.expected[data.key]
                state = states.get(data.key)
                if state is None:
                    first = plan(rt.contract, exp, None, data.at)
                    await self._save(conn, exp, first)
                    state = first.state
                ping = Ping(kind=data.kind, at=data.at, exit_status=data.exit_status, log=data.body)
                outcome = on_ping(rt.contract, exp, state, ping)
                await self._save(conn, exp, outcome)
                states[data.key] = outcome.state
                alerts.extend(outcome.alerts)
                applied.append(data)
            await self._publish(alerts)
            rt.crash_point(f"{SERVICE}.checkins")
        for data in applied:
            name = self.expected[data.key].name
            self.pings.labels(name, data.kind).inc()
            log.info("ping", extra={"checkin": name, "kind": data.kind})

    async def _save(self, conn: Any, exp: Expectation, outcome: Outcome) -> None:
        await store.save(conn, outcome, name=exp.name, part=partition_of(exp.key), grace=exp.grace)

    async def _publish(self, alerts: Sequence[dict[str, Any]]) -> None:
        """One generic-format message per alert, keyed by its fingerprint, queued in order and
        acknowledged together. The alert's ``starts_at`` is the moment of contract time it
        stands for (expected time + grace)."""
        futures = [
            await self.rt.broker.publish(
                orjson.dumps({"alerts": [alert]}),
                self.alerts_topic,
                key=str(alert["fingerprint"]).encode(),
                headers={"format": "generic", "content-type": "application/json"},
                no_confirm=True,
            )
            for alert in alerts
        ]
        await asyncio.gather(*futures)

    # ------------------------------------------------------------------ tick

    async def tick_once(self) -> int:
        """Plan new or changed schedules, fire due timers, refresh the metrics."""
        if self._replan:
            await self.replan()
        fired = await drain(self._fire_batch, FIRE_BATCH)
        await self.refresh_metrics()
        return fired

    async def replan(self) -> None:
        """Start watching what the contract in force expects and is not watched yet (or whose
        schedule changed); each key in its own transaction, under its row lock."""
        rt = self.rt
        now = rt.clock.now()
        async with rt.pool.acquire() as conn:
            known = await store.known(conn)
            for key, exp in list(self.current().items()):
                if known.get(key) == exp.fingerprint_of_schedule():
                    continue
                async with conn.transaction():
                    state = await store.load(conn, key)
                    outcome = plan(rt.contract, exp, state, now)
                    if outcome.state != state:
                        await self._save(conn, exp, outcome)
        self._replan = False

    async def _fire_batch(self, limit: int) -> int:
        rt = self.rt
        ready = self.ownership.ready()
        if not ready:
            return 0
        now = rt.clock.now()
        async with rt.pool.acquire() as conn, conn.transaction():
            due = await store.CHECKIN_TIMERS.due(conn, now, partitions=ready, limit=limit)
            for timer in due:
                exp = self.current().get(timer.key)
                state = await store.load(conn, timer.key)
                if exp is not None and state is not None:
                    outcome = on_timer(rt.contract, exp, state, timer)
                    await self._publish(outcome.alerts)
                    await self._save(conn, exp, outcome)
                    if outcome.alerts:
                        self.fired.labels(exp.name, timer.kind).inc()
                        log.info(
                            "run missed" if timer.kind == "missed" else "run timed out",
                            extra={"checkin": exp.name, "expected": timer.expected_at.isoformat()},
                        )
            # a key no longer in the contract: its timer is spent without an alert
            await store.CHECKIN_TIMERS.mark_fired(conn, [(t, None) for t in due], now)
        return len(due)

    def visible(self, who: Reader, exp: Expectation) -> bool:
        """A contractor sees the check-ins that are its duty or whose object is its layer's."""
        if who.party is None or exp.party == who.party:
            return True
        obj = self.rt.contract.object(exp.object_id)
        return (
            obj is not None
            and ContractView.of(self.rt.contract).primary_for(obj.layer) == who.party
        )

    async def status(self, who: Reader) -> list[dict[str, Any]]:
        async with self.rt.pool.acquire() as conn:
            rows = await store.snapshot(conn)
        now = self.rt.clock.now()
        names = {e.name: e for e in self.expected.values()}
        out = []
        for row in rows:
            exp = names.get(row["name"])
            if exp is None or not self.visible(who, exp):
                continue
            expected = row["expected_at"]
            deadline = expected + exp.grace if expected else None
            out.append(
                {
                    "checkin": exp.name,
                    "object": exp.object_id,
                    "duty": exp.duty.value,
                    "expected_at": expected,
                    "deadline": deadline,
                    "last_success": row["last_success"],
                    "last_ping_at": row["last_ping_at"],
                    "last_ping_kind": row["last_ping_kind"],
                    "failing": row["down"],
                    "overdue_seconds": max((now - deadline).total_seconds(), 0.0)
                    if deadline
                    else 0.0,
                }
            )
        return out

    async def refresh_metrics(self) -> None:
        async with self.rt.pool.acquire() as conn:
            rows = await store.snapshot(conn)
        names = {e.name: e for e in self.expected.values()}
        now = self.rt.clock.now()
        for row in rows:
            exp = names.get(row["name"])
            if exp is None:
                continue
            labels = (exp.name, exp.object_id, exp.duty.value)
            success = row["last_success"]
            self.last_success.labels(*labels).set(success.timestamp() if success else 0)
            expected = row["expected_at"]
            self.next_expected.labels(*labels).set(expected.timestamp() if expected else 0)
            self.deadline.labels(*labels).set((expected + exp.grace).timestamp() if expected else 0)
            late = (now - (expected + exp.grace)).total_seconds() if expected else 0.0
            self.overdue.labels(*labels).set(max(late, 0.0))
            self.down.labels(*labels).set(1 if row["down"] else 0)


def _without_key(value: bytes) -> bytes:
    """The refused ping with its check-in key replaced: a key is a capability, and a dead
    letter is read by operators (an unknown key may be a mistyped real one)."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return KEY_IN_TEXT.sub(rb"\1[redacted]", value)
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict) and "key" in doc["data"]:
        doc["data"]["key"] = REDACTED
    return orjson.dumps(doc)
