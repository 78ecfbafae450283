"""The gate every body passes on intake's HTTP side: size, content type, JSON, depth, then
authentication, then the format's adapter, then a durable publish (acks=all) — any refusal
answered with a status and a reason naming the field, the payload kept in the dead-letter topic.

``Intake`` is what the routes depend on (not the running service), so that tests drive them
in-process with fakes for Kafka and PostgreSQL; ``Gate`` is the work they share.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import ValidationError

from intake import pagerduty
from intake.auth import Authenticator, Signed, replayed
from intake.correlation import Graph, alert_key
from intake.formats import Decode
from intake.guard import (
    Refusal,
    check_content_type,
    check_length,
    dead_letter_parts,
    fit_for_dead_letter,
    oversized,
    parse_json,
    read_limited,
)
from shared.clock import Clock
from shared.contract import Contract
from shared.events import (
    Alert,
    AlertReceivedV1,
    Envelope,
    make_event,
    stable_id,
)
from shared.http import Unavailable, unavailable
from shared.settings import Settings

SERVICE = "intake"
log = logging.getLogger(SERVICE)


class DeadLetterSink(Protocol):
    async def send(
        self,
        *,
        reason: str,
        kind: str,
        origin: str,
        payload: bytes,
        now: datetime,
        headers: dict[str, str] | None = None,
    ) -> None: ...


Publish = Callable[[str, Envelope, str | None], Awaitable[None]]
"""(topic kind: "alerts" | "commands" | "incidents", event, key) -> acknowledged by Kafka."""
PublishMany = Callable[[str, list[tuple[Envelope, str | None, bytes]]], Awaitable[None]]
"""(topic kind, [(event, key, the event's JSON)]) -> all acknowledged by Kafka."""


RecordChange = Callable[[pagerduty.ChangeEvent, str | None, datetime], Awaitable[None]]


@dataclass
class Intake:
    settings: Settings
    contract: Contract
    graph: Graph
    clock: Clock
    registry: CollectorRegistry
    dead_letters: DeadLetterSink
    publish: Publish
    auth: Authenticator
    await_outcome: Callable[[uuid.UUID, str], Awaitable[tuple[int, str, str] | None]] | None = None
    """The verdict on a party's command: status, reason and the digest of the action decided."""
    first_use: Callable[[Signed, datetime], Awaitable[bool]] | None = None
    """Records a signature shared by every instance; False for a replay. None: in process."""
    record_change: RecordChange | None = None
    list_changes: Callable[[str], Awaitable[list[dict[str, Any]]]] | None = None
    kafka_down: Callable[[], bool] = lambda: False
    """True while the health watch's last check found Kafka unreachable: answer 503 at once."""
    publish_many: PublishMany | None = None
    """Several events of one kind in one send; None: each through ``publish``."""

    async def publish_all(self, kind: str, keyed: list[tuple[Envelope, str | None, bytes]]) -> None:
        """A request's events of one kind (with their JSON), acknowledged by Kafka together."""
        if self.publish_many is not None:
            await self.publish_many(kind, keyed)
        else:
            await asyncio.gather(*(self.publish(kind, event, key) for event, key, _ in keyed))


def alert_events(
    alerts: list[Alert], now: datetime, ids: list[uuid.UUID] | None = None
) -> list[Envelope]:
    return [
        make_event(
            AlertReceivedV1(alert=alert, received_at=now),
            source=SERVICE,
            time=now,
            event_id=ids[i] if ids else None,
        )
        for i, alert in enumerate(alerts)
    ]


class Gate:
    """What every route does with a body: guard, authenticate, decode, publish durably, and
    dead-letter a refusal; one per ``Intake`` (its counters are registered once)."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.settings = intake.settings
        self.received = Counter(
            "baton_alerts_received",
            "Alerts accepted at intake",
            ["source"],
            registry=intake.registry,
        )
        self.outside = Counter(
            "baton_alerts_outside_perimeter",
            "Alerts that matched no contract object",
            ["source"],
            registry=intake.registry,
        )
        self.refused = Counter(
            "baton_intake_refused",
            "Payloads refused at intake",
            ["source", "status"],
            registry=intake.registry,
        )
        self.undelivered = Counter(
            "baton_deadletter_undelivered",
            "Refusals answered to the client but not dead-lettered (Kafka unavailable)",
            ["source"],
            registry=intake.registry,
        )
        self.validation = Histogram(
            "baton_intake_validation_seconds",
            "Time spent checking, parsing and normalising one body",
            ["source"],
            registry=intake.registry,
        )

    async def refuse(self, request: Request, source: str, refusal: Refusal, payload: bytes) -> None:
        self.refused.labels(source, refusal.status).inc()
        headers = {
            "source": source,
            "status": str(refusal.status),
            "content-type": request.headers.get("content-type", ""),
        }
        # a well-formed body refused for its number of alerts is kept whole, in parts
        parts = dead_letter_parts(payload) if refusal.kind == "too_many_alerts" else None
        if parts is None:
            kept, note = fit_for_dead_letter(payload)
            parts = [(kept, note)]
        try:
            async with asyncio.timeout(self.settings.publish_timeout_seconds):
                await asyncio.gather(
                    *(
                        self.intake.dead_letters.send(
                            reason=refusal.reason + note,
                            kind=refusal.kind,
                            origin=request.url.path,
                            payload=part,
                            now=self.intake.clock.now(),
                            headers=headers
                            if len(parts) == 1
                            else {**headers, "part": f"{i}/{len(parts)}"},
                        )
                        for i, (part, note) in enumerate(parts, start=1)
                    )
                )
        except (TimeoutError, KafkaError) as exc:
            # Kafka is away: the refusal is still answered (the client learns it was refused,
            # with the reason), only the operators' copy is missing; say so where they look.
            self.undelivered.labels(source).inc()
            log.warning(
                "refused payload not dead-lettered: kafka unavailable",
                extra={"source": source, "reason": refusal.reason, "error": repr(exc)[:200]},
            )

    async def durably(self, *publishing: Awaitable[None]) -> None:
        """Wait for Kafka's acknowledgement of every publish, at most
        ``publish_timeout_seconds``; else ``Unavailable`` (answered 503 + Retry-After), so a
        client is never told 2xx for what is not durable and never waits without bound."""
        if self.intake.kafka_down():
            for pending in publishing:  # never started: close them quietly
                close = getattr(pending, "close", None)
                if close is not None:
                    close()
            raise Unavailable("kafka", "unreachable at the last health check")
        try:
            async with asyncio.timeout(self.settings.publish_timeout_seconds):
                await asyncio.gather(*publishing)
        except TimeoutError:
            raise Unavailable(
                "kafka", f"no acknowledgement within {self.settings.publish_timeout_seconds:g} s"
            ) from None
        except MessageSizeTooLargeError:
            # not a dependency that is away: a retry would meet the same refusal for ever
            raise Refusal(
                413,
                "the broker refused a message as too large (its message.max.bytes is below"
                " intake_max_alert_bytes): nothing of it was kept",
                kind="too_large",
            ) from None
        except KafkaError as exc:
            raise Unavailable("kafka", type(exc).__name__) from None

    def unavailable_answer(self, exc: Unavailable) -> JSONResponse:
        return unavailable(exc.dependency, self.settings.retry_after_seconds, exc.detail)

    async def not_published(
        self, request: Request, source: str, exc: Unavailable | Refusal, body: bytes
    ) -> JSONResponse:
        """503 for a broker that is away; the refusal (dead-lettered) for one that will never
        take the message (too large)."""
        if isinstance(exc, Unavailable):
            return self.unavailable_answer(exc)
        await self.refuse(request, source, exc, body)
        return JSONResponse(exc.body(), exc.status)

    async def read(self, request: Request, limit: int) -> bytes:
        check_content_type(request.headers.get("content-type"))
        check_length(request.headers.get("content-length"), limit)
        return await read_limited(request.stream(), limit)

    def count_alerts(self, doc: Any) -> None:
        """A 413 naming the limit when a webhook carries more alerts than it."""
        alerts = doc.get("alerts") if isinstance(doc, dict) else None
        limit = self.settings.intake_max_alerts
        if isinstance(alerts, list) and len(alerts) > limit:
            raise Refusal(
                413,
                f"alerts: {len(alerts)} alerts in one webhook, the limit is"
                f" {limit} (intake_max_alerts; set the sender's max_alerts"
                " at or below it)",
                kind="too_many_alerts",
            )

    async def first_use(self, signed: Signed, now: datetime) -> bool:
        if self.intake.first_use is not None:
            return await self.intake.first_use(signed, now)
        return self.intake.auth.remember(signed, now)

    async def take(
        self,
        request: Request,
        source: str,
        decode: Decode,
        unique: str,
        *,
        routing_key: bool = False,
        limit: int | None = None,
        unique_of: Callable[[Any], str] | None = None,
    ) -> tuple[list[Envelope], bytes] | JSONResponse:
        """Guard, authenticate, decode and publish; the events and the body, or the refusal
        (4xx, or 503 when Kafka did not acknowledge in time). ``unique_of``: ``unique`` follows
        from the parsed body and event ids follow from it (a retried request yields the same
        ids)."""
        body = b""
        now = self.intake.clock.now()
        try:
            if not routing_key:  # PagerDuty's key is in the body
                self.intake.auth.before_body(source, request.headers)
            body = await self.read(request, limit or self.settings.intake_max_body_bytes)
            with self.validation.labels(source).time():
                signed = None
                if not routing_key:
                    signed = self.intake.auth.check_source(source, request.headers, body, now)
                doc = parse_json(body, self.settings.intake_max_json_depth)
                self.count_alerts(doc)
                if routing_key:
                    key = doc.get("routing_key") if isinstance(doc, dict) else None
                    signed = self.intake.auth.check_source(
                        source, request.headers, body, now, key if isinstance(key, str) else None
                    )
                if signed is not None and not await self.first_use(signed, now):
                    raise replayed()
                if unique_of is not None:
                    unique = unique_of(doc)
                try:
                    alerts = decode(doc, self.intake.contract, now, unique)
                except ValidationError as exc:
                    raise Refusal.invalid(exc) from None
        except Refusal as refusal:
            await self.refuse(request, source, refusal, refusal.payload or body)
            return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)
        ids = [stable_id(source, unique, i) for i in range(len(alerts))] if unique_of else None
        events = alert_events(alerts, now, ids)
        encoded = [e.to_json() for e in events]  # sized here, published as they are
        too_big = oversized(encoded, self.settings.intake_max_alert_bytes)
        kept = [
            (e, a, body)
            for i, (e, a, body) in enumerate(zip(events, alerts, encoded, strict=True))
            if i not in too_big
        ]
        try:
            graph = self.intake.graph
            await self.durably(
                self.intake.publish_all(
                    "alerts",
                    [(e, alert_key(graph, a.object_id, a.fingerprint), b) for e, a, b in kept],
                )
            )
        except (Unavailable, Refusal) as exc:
            return await self.not_published(request, source, exc, body)
        self.received.labels(source).inc(len(kept))  # the receiver: bounded label values
        self.outside.labels(source).inc(sum(1 for _, a, _ in kept if a.object_id is None))
        if too_big:
            return await self.refuse_oversized(
                request, source, events, too_big, [e for e, _, _ in kept]
            )
        return events, body

    async def refuse_oversized(
        self,
        request: Request,
        source: str,
        events: list[Envelope],
        too_big: dict[int, int],
        kept: list[Envelope],
    ) -> JSONResponse:
        """413 naming each alert too large to keep, each dead-lettered as a capped sample; the
        rest of its group was kept (and is listed), so the sender need not retry it."""
        limit = self.settings.intake_max_alert_bytes
        named = [
            f"alerts[{i}] ({events[i].data_as(AlertReceivedV1).alert.fingerprint}): {size} bytes"
            for i, size in too_big.items()
        ]
        reason = (
            f"{'; '.join(named)} as an event, the limit is {limit} (intake_max_alert_bytes):"
            f" not kept; the other {len(kept)} alert(s) of the request were"
        )
        for i, size in too_big.items():
            refusal = Refusal(
                413, f"alerts[{i}]: too large to keep ({size} bytes)", kind="too_large"
            )
            await self.refuse(request, source, refusal, events[i].to_json())
        return JSONResponse(
            {"error": reason, "accepted": len(kept), "ids": [str(e.id) for e in kept]},
            status_code=413,
        )

    def accepted(self, events: list[Envelope]) -> JSONResponse:
        return JSONResponse(
            {"accepted": len(events), "ids": [str(e.id) for e in events]}, status_code=202
        )
