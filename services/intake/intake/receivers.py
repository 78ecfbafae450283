"""Intake's HTTP surface: one receiver per format, user reports and party actions.

Every body passes the same guard (size, content type, JSON, depth), then authentication, then
the format's adapter; any refusal is answered with a status and a reason naming the field, and
the payload is kept in the dead-letter topic. A receiver answers 2xx only after every alert is
in Kafka (acks=all), so nothing acknowledged is lost.

The routes depend on an ``Intake`` context, not on the running service, so that tests can drive
them in-process with fakes for Kafka and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, ValidationError

from intake import alertmanager, changes, generic, grafana, pagerduty, userreport, zabbix
from intake.access import request_id_for
from intake.actions import action_digest, text_too_long
from intake.auth import Authenticator, Signed, replayed
from intake.correlation import Graph, alert_key
from intake.formats import FORMATS, Decode
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
from shared.contract.view import ContractView
from shared.db import DATABASE_UNAVAILABLE
from shared.events import (
    AccessActionV1,
    Alert,
    AlertReceivedV1,
    Envelope,
    PartyActionV2,
    PauseAnswerV1,
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


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body the route reads itself (so that refusals are dead-lettered): the
    model's JSON schema with its definitions inlined (none of these models is recursive)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


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


IDEMPOTENCY_HEADER = "idempotency-key"


def object_party(contract: Contract, party: str | None, object_id: str) -> bool:
    """Whether ``party`` has a part in ``object_id`` (None: reads are open)."""
    if party is None:
        return True
    view = ContractView.of(contract)
    obj = view.object(object_id)
    if obj is None:
        return False
    found = contract.parties.get(party)
    return (
        (found is not None and found.kind == "customer")
        or party in {view.coordinator, obj.executor, view.primary_for(obj.layer)}
        or any(c.party == party for c in view.checks(object_id))
    )


def check_text(action: PartyActionV2) -> None:
    """422 naming the field when an action's free text is over its bounds."""
    if (too_long := text_too_long(action)) is not None:
        raise Refusal(422, too_long, kind="schema")


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The client's ``Idempotency-Key``: a retry with the same key is the same request."""
    value = headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= 128 or not (value.isascii() and value.isprintable()):
        raise Refusal(
            422, "Idempotency-Key: 1 to 128 printable ASCII characters", kind="idempotency"
        )
    return value


def build_router(ix: Intake) -> APIRouter:  # noqa: PLR0915 - one closure per route, together
    router = APIRouter()
    settings = ix.settings
    received = Counter(
        "baton_alerts_received", "Alerts accepted at intake", ["source"], registry=ix.registry
    )
    outside = Counter(
        "baton_alerts_outside_perimeter",
        "Alerts that matched no contract object",
        ["source"],
        registry=ix.registry,
    )
    refused = Counter(
        "baton_intake_refused",
        "Payloads refused at intake",
        ["source", "status"],
        registry=ix.registry,
    )
    undelivered = Counter(
        "baton_deadletter_undelivered",
        "Refusals answered to the client but not dead-lettered (Kafka unavailable)",
        ["source"],
        registry=ix.registry,
    )
    validation = Histogram(
        "baton_intake_validation_seconds",
        "Time spent checking, parsing and normalising one body",
        ["source"],
        registry=ix.registry,
    )

    async def refuse(request: Request, source: str, refusal: Refusal, payload: bytes) -> None:
        refused.labels(source, refusal.status).inc()
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
            async with asyncio.timeout(settings.publish_timeout_seconds):
                await asyncio.gather(
                    *(
                        ix.dead_letters.send(
                            reason=refusal.reason + note,
                            kind=refusal.kind,
                            origin=request.url.path,
                            payload=part,
                            now=ix.clock.now(),
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
            undelivered.labels(source).inc()
            log.warning(
                "refused payload not dead-lettered: kafka unavailable",
                extra={"source": source, "reason": refusal.reason, "error": repr(exc)[:200]},
            )

    async def durably(*publishing: Awaitable[None]) -> None:
        """Wait for Kafka's acknowledgement of every publish, at most
        ``publish_timeout_seconds``; else ``Unavailable`` (answered 503 + Retry-After), so a
        client is never told 2xx for what is not durable and never waits without bound."""
        if ix.kafka_down():
            for pending in publishing:  # never started: close them quietly
                close = getattr(pending, "close", None)
                if close is not None:
                    close()
            raise Unavailable("kafka", "unreachable at the last health check")
        try:
            async with asyncio.timeout(settings.publish_timeout_seconds):
                await asyncio.gather(*publishing)
        except TimeoutError:
            raise Unavailable(
                "kafka", f"no acknowledgement within {settings.publish_timeout_seconds:g} s"
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

    def unavailable_answer(exc: Unavailable) -> JSONResponse:
        return unavailable(exc.dependency, settings.retry_after_seconds, exc.detail)

    async def not_published(
        request: Request, source: str, exc: Unavailable | Refusal, body: bytes
    ) -> JSONResponse:
        """503 for a broker that is away; the refusal (dead-lettered) for one that will never
        take the message (too large)."""
        if isinstance(exc, Unavailable):
            return unavailable_answer(exc)
        await refuse(request, source, exc, body)
        return JSONResponse(exc.body(), exc.status)

    async def read(request: Request, limit: int) -> bytes:
        check_content_type(request.headers.get("content-type"))
        check_length(request.headers.get("content-length"), limit)
        return await read_limited(request.stream(), limit)

    def count_alerts(doc: Any) -> None:
        """A 413 naming the limit when a webhook carries more alerts than it."""
        alerts = doc.get("alerts") if isinstance(doc, dict) else None
        if isinstance(alerts, list) and len(alerts) > settings.intake_max_alerts:
            raise Refusal(
                413,
                f"alerts: {len(alerts)} alerts in one webhook, the limit is"
                f" {settings.intake_max_alerts} (intake_max_alerts; set the sender's max_alerts"
                " at or below it)",
                kind="too_many_alerts",
            )

    async def first_use(signed: Signed, now: datetime) -> bool:
        if ix.first_use is not None:
            return await ix.first_use(signed, now)
        return ix.auth.remember(signed, now)

    async def take(
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
        now = ix.clock.now()
        try:
            if not routing_key:  # PagerDuty's key is in the body
                ix.auth.before_body(source, request.headers)
            body = await read(request, limit or settings.intake_max_body_bytes)
            with validation.labels(source).time():
                signed = None
                if not routing_key:
                    signed = ix.auth.check_source(source, request.headers, body, now)
                doc = parse_json(body, settings.intake_max_json_depth)
                count_alerts(doc)
                if routing_key:
                    key = doc.get("routing_key") if isinstance(doc, dict) else None
                    signed = ix.auth.check_source(
                        source, request.headers, body, now, key if isinstance(key, str) else None
                    )
                if signed is not None and not await first_use(signed, now):
                    raise replayed()
                if unique_of is not None:
                    unique = unique_of(doc)
                try:
                    alerts = decode(doc, ix.contract, now, unique)
                except ValidationError as exc:
                    raise Refusal.invalid(exc) from None
        except Refusal as refusal:
            await refuse(request, source, refusal, refusal.payload or body)
            return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)
        ids = [stable_id(source, unique, i) for i in range(len(alerts))] if unique_of else None
        events = alert_events(alerts, now, ids)
        too_big = oversized([e.to_json() for e in events], settings.intake_max_alert_bytes)
        kept = [
            (e, a) for i, (e, a) in enumerate(zip(events, alerts, strict=True)) if i not in too_big
        ]
        try:
            await durably(
                *(
                    ix.publish("alerts", e, alert_key(ix.graph, a.object_id, a.fingerprint))
                    for e, a in kept
                )
            )
        except (Unavailable, Refusal) as exc:
            return await not_published(request, source, exc, body)
        received.labels(source).inc(len(kept))  # the receiver: bounded label values
        outside.labels(source).inc(sum(1 for _, a in kept if a.object_id is None))
        if too_big:
            return await refuse_oversized(request, source, events, too_big, [e for e, _ in kept])
        return events, body

    async def refuse_oversized(
        request: Request,
        source: str,
        events: list[Envelope],
        too_big: dict[int, int],
        kept: list[Envelope],
    ) -> JSONResponse:
        """413 naming each alert too large to keep, each dead-lettered as a capped sample; the
        rest of its group was kept (and is listed), so the sender need not retry it."""
        limit = settings.intake_max_alert_bytes
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
            await refuse(request, source, refusal, events[i].to_json())
        return JSONResponse(
            {"error": reason, "accepted": len(kept), "ids": [str(e.id) for e in kept]},
            status_code=413,
        )

    def accepted(events: list[Envelope]) -> JSONResponse:
        return JSONResponse(
            {"accepted": len(events), "ids": [str(e.id) for e in events]}, status_code=202
        )

    def receiver(
        name: str, path: str, doc: str, model: type[BaseModel], *, group: bool = False
    ) -> None:
        decode = FORMATS[name].decode
        limit = settings.intake_max_group_body_bytes if group else settings.intake_max_body_bytes

        async def receive(request: Request) -> JSONResponse:
            taken = await take(request, name, decode, uuid.uuid4().hex, limit=limit)
            return taken if isinstance(taken, JSONResponse) else accepted(taken[0])

        receive.__doc__ = doc
        router.add_api_route(
            path,
            receive,
            methods=["POST"],
            status_code=202,
            tags=["alerts"],
            name=name,
            openapi_extra=body_schema(model),
        )

    receiver(
        "alertmanager",
        "/v1/alerts/alertmanager",
        "Prometheus Alertmanager webhook, payload version 4.",
        alertmanager.AlertmanagerWebhook,
        group=True,
    )
    receiver(
        "grafana",
        "/v1/alerts/grafana",
        "Grafana alerting contact-point webhook.",
        grafana.GrafanaWebhook,
        group=True,
    )
    receiver(
        "zabbix",
        "/v1/alerts/zabbix",
        "Zabbix problem and recovery events (deploy/zabbix/).",
        zabbix.ZabbixEvent,
    )
    receiver(
        "generic",
        "/v1/alerts",
        'Baton\'s own JSON alerts: {"alerts": [...]}.',
        generic.GenericBatch,
    )

    @router.post(
        "/v1/incidents",
        status_code=202,
        tags=["incidents"],
        openapi_extra=body_schema(userreport.UserReport),
    )
    async def user_report(request: Request) -> JSONResponse:
        """A person reports: who cannot use what, since when, how many people. With an
        ``Idempotency-Key`` header a retry is the same report: same ids, nothing recorded twice."""
        try:
            key = idempotency_key(request.headers)
        except Refusal as refusal:
            await refuse(request, userreport.SOURCE, refusal, b"")
            return JSONResponse(refusal.body(), refusal.status)

        def report_id(doc: Any) -> str:
            """A retry is the same report of the same reporter: another reporter's key is
            another report (ADR 36)."""
            reporter = doc.get("reporter") if isinstance(doc, dict) else None
            return stable_id("user-report", reporter, key).hex

        taken = await take(
            request,
            userreport.SOURCE,
            FORMATS["user"].decode,
            uuid.uuid4().hex,
            unique_of=report_id if key is not None else None,
        )
        if isinstance(taken, JSONResponse):
            return taken
        (event,) = taken[0]
        fingerprint = event.data_as(AlertReceivedV1).alert.fingerprint
        return JSONResponse(
            {
                "accepted": 1,
                "ids": [str(event.id)],
                "report_id": fingerprint.removeprefix("user:"),
            },
            status_code=202,
        )

    def pd_refusal(response: JSONResponse) -> JSONResponse:
        """PagerDuty's shape for a refusal: 400 for an invalid event (a 503 stays as it is:
        PagerDuty clients retry on it after ``Retry-After``)."""
        if response.status_code == 503:
            return response
        sent = orjson.loads(bytes(response.body))
        errors = [f"{f['field']}: {f['message']}" for f in sent.get("fields", [])] or [
            sent.get("error", "")
        ]
        status = 400 if response.status_code == 422 else response.status_code
        keep = {k: v for k, v in response.headers.items() if k == "www-authenticate"}
        return JSONResponse(pagerduty.invalid(errors), status, headers=keep)

    @router.post(
        "/v2/enqueue",
        status_code=202,
        tags=["pagerduty"],
        openapi_extra=body_schema(pagerduty.Event),
    )
    async def pagerduty_enqueue(request: Request) -> JSONResponse:
        """PagerDuty Events API v2: trigger, acknowledge or resolve an alert by dedup_key."""
        new_key = uuid.uuid4().hex
        taken = await take(
            request, pagerduty.SOURCE, FORMATS["pagerduty"].decode, new_key, routing_key=True
        )
        if isinstance(taken, JSONResponse):
            return pd_refusal(taken)
        (event,) = taken[0]
        dedup_key = event.data_as(AlertReceivedV1).alert.annotations["dedup_key"]
        return JSONResponse(pagerduty.accepted(dedup_key), status_code=202)

    @router.post(
        "/v2/change/enqueue",
        status_code=202,
        tags=["pagerduty"],
        openapi_extra=body_schema(pagerduty.ChangeEvent),
    )
    async def pagerduty_change(request: Request) -> JSONResponse:
        """PagerDuty change events: kept as change context on the object they name."""
        body = b""
        now = ix.clock.now()
        try:
            body = await read(request, settings.intake_max_body_bytes)
            doc = parse_json(body, settings.intake_max_json_depth)
            key = doc.get("routing_key") if isinstance(doc, dict) else None
            signed = ix.auth.check_source(
                pagerduty.SOURCE, request.headers, body, now, key if isinstance(key, str) else None
            )
            if signed is not None and not await first_use(signed, now):
                raise replayed()
            try:
                change = pagerduty.ChangeEvent.model_validate(doc)
            except ValidationError as exc:
                raise Refusal.invalid(exc) from None
        except Refusal as refusal:
            await refuse(request, pagerduty.SOURCE, refusal, refusal.payload or body)
            return pd_refusal(JSONResponse(refusal.body(), refusal.status, refusal.headers))
        record = changes.from_pagerduty(change, ix.contract, now)
        try:
            await durably(ix.publish("changes", record, changes.key(record)))
        except Unavailable as exc:
            return pd_refusal(unavailable_answer(exc))
        if ix.record_change is not None:
            try:
                await ix.record_change(change, pagerduty.change_object(change, ix.contract), now)
            except DATABASE_UNAVAILABLE as exc:
                # not kept: the client is told to retry (PagerDuty clients retry on 5xx)
                log.warning("change event not recorded", extra={"error": repr(exc)[:200]})
                return unavailable("postgresql", settings.retry_after_seconds)
        return JSONResponse(
            {"status": "success", "message": "Change event processed"}, status_code=202
        )

    def known_change(doc: Any) -> changes.ChangeIn:
        """The change a tool posted, on an object of the contract; else a 422 naming the field."""
        try:
            change = changes.ChangeIn.model_validate(doc)
        except ValidationError as exc:
            raise Refusal.invalid(exc) from None
        if ix.contract.object(change.object) is None:
            raise Refusal(422, f"object: {change.object!r} is not in the contract", kind="schema")
        return change

    @router.post(
        "/v1/changes",
        status_code=202,
        tags=["changes"],
        openapi_extra=body_schema(changes.ChangeIn),
    )
    async def post_change(request: Request) -> JSONResponse:
        """A change a CI/CD or change-management tool made on a contract object (ADR 46): kept
        as a change record beside the incidents. Authenticated as the ``changes`` source."""
        body = b""
        now = ix.clock.now()
        try:
            body = await read(request, settings.intake_max_body_bytes)
            signed = ix.auth.check_source(changes.SOURCE, request.headers, body, now)
            if signed is not None and not await first_use(signed, now):
                raise replayed()
            doc = parse_json(body, settings.intake_max_json_depth)
            change = known_change(doc)
        except Refusal as refusal:
            await refuse(request, changes.SOURCE, refusal, refusal.payload or body)
            return JSONResponse(refusal.body(), refusal.status, refusal.headers)
        record = changes.from_tool(change, changes.SOURCE, now)
        try:
            await durably(ix.publish("changes", record, changes.key(record)))
        except Unavailable as exc:
            return unavailable_answer(exc)
        return JSONResponse({"status": "accepted", "change_id": str(record.id)}, status_code=202)

    @router.post(
        "/v1/problems/{problem_id}/close",
        status_code=202,
        tags=["problems"],
        openapi_extra=body_schema(changes.ProblemClose),
    )
    async def close_problem(problem_id: str, request: Request) -> JSONResponse:
        """The owner of a problem record (or the coordinator) closes it with its root cause and
        what was changed (ADR 48). Checked here: the party's token and the body; the router,
        which keeps the problems, decides and records ``problem_closed`` or
        ``problem_close_refused`` with the reason on the problem's latest incident. 202
        pending once Kafka has the request."""
        body = b""
        now = ix.clock.now()
        try:
            ix.auth.party_before_body(request.headers)
            body = await read(request, settings.intake_max_body_bytes)
            doc = parse_json(body, settings.intake_max_json_depth)
            try:
                asked = changes.ProblemClose.model_validate(doc)
            except ValidationError as exc:
                raise Refusal.invalid(exc) from None
            ix.auth.check_party(request.headers, asked.party)
        except Refusal as refusal:
            await refuse(request, "problem-close", refusal, refusal.payload or body)
            return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)
        event = changes.close_requested(problem_id, asked, now)
        try:
            await durably(ix.publish("problems", event, problem_id))
        except (Unavailable, Refusal) as exc:
            return await not_published(request, "problem-close", exc, body)
        return JSONResponse({"status": "pending", "request_id": str(event.id)}, status_code=202)

    @router.get("/v1/objects/{object_id}/changes", tags=["pagerduty"])
    async def object_changes(object_id: str, request: Request) -> JSONResponse:
        """Change events (``/v2/change/enqueue``) recorded on a contract object, newest first:
        the change context to look at when the object fails. With party tokens configured, a
        token of one of the object's parties is required (its layer's owner, its executor, a
        party checking it, the coordinator, the customer); any other party's is answered 404."""
        try:
            party = ix.auth.check_reader(request.headers)
        except Refusal as refusal:
            return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)
        if ix.contract.object(object_id) is None or not object_party(ix.contract, party, object_id):
            # another party's object is answered as an unknown one: ids are not disclosed
            return JSONResponse({"error": f"object_id: {object_id!r} is not in the contract"}, 404)
        found = await ix.list_changes(object_id) if ix.list_changes else []
        return JSONResponse({"object_id": object_id, "changes": found})

    async def act(
        incident_id: str,
        request: Request,
        model: type[PartyActionV2 | AccessActionV1 | PauseAnswerV1],
    ) -> JSONResponse:
        """A command from HTTP: bound to the token's party, validated, published, its verdict
        awaited (the two routes below)."""
        body = b""
        now = ix.clock.now()
        try:
            key = idempotency_key(request.headers)
            ix.auth.party_before_body(request.headers)
            body = await read(request, settings.intake_max_body_bytes)
            doc = parse_json(body, settings.intake_max_json_depth)
            try:
                data = model.model_validate(doc)
            except ValidationError as exc:
                raise Refusal.invalid(exc) from None
            ix.auth.check_party(request.headers, data.party)
            if isinstance(data, PartyActionV2):
                check_text(data)  # an access step's texts are bounded by its model
        except Refusal as refusal:
            await refuse(request, "party-action", refusal, refusal.payload or body)
            return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)
        tag = {AccessActionV1: "access", PauseAnswerV1: "pause-answer"}.get(type(data), "action")
        command = make_event(
            data,
            source=f"http:{data.party}",
            time=now,
            subject=incident_id,
            event_id=stable_id(tag, data.party, incident_id, key) if key else None,
        )
        try:
            await durably(ix.publish("commands", command, None))
        except (Unavailable, Refusal) as exc:
            return await not_published(request, "party-action", exc, body)
        # From here the command is durable in the commands topic and will be applied exactly
        # once (processed-event record); a verdict we cannot wait for is answered 202 pending.
        found = await ix.await_outcome(command.id, data.party) if ix.await_outcome else None
        if found is None:
            return JSONResponse(
                {"command_id": str(command.id), "status": "pending"}, status_code=202
            )
        status, reason, digest = found
        if digest != action_digest(data):
            reused = Refusal(
                422,
                "Idempotency-Key: already used for another action on this incident; a retry"
                " sends the same body, a new action a new key",
                kind="idempotency",
            )
            await refuse(request, "party-action", reused, body)
            return JSONResponse(reused.body(), reused.status)
        if status == 202:
            answer = {"command_id": str(command.id), "status": "accepted"}
            if isinstance(data, AccessActionV1) and data.request_id is None:
                answer["request_id"] = request_id_for(command)  # a new request's id
            return JSONResponse(answer, status_code=202)
        return JSONResponse({"error": reason, "command_id": str(command.id)}, status_code=status)

    @router.post(
        "/v1/incidents/{incident_id}/actions",
        status_code=202,
        tags=["incidents"],
        openapi_extra=body_schema(PartyActionV2),
    )
    async def action(incident_id: str, request: Request) -> JSONResponse:
        """A party reports on an incident: acknowledge, diagnosis, pause, resume, restored,
        confirm, reject, reopen, note. The action goes to the commands topic like a contractor
        system's; the answer waits for the commands consumer's verdict: 202 accepted, 403 (the
        party's rights) or 409 (the incident's state) with the reason — recorded as
        ``baton.incident.action_refused`` — 404 for an unknown incident or one the party has no
        part in (dead-lettered, not in its timeline), or 202 ``pending``
        when the verdict takes longer than ``BATON_INTAKE_ACTION_WAIT_SECONDS``. With an
        ``Idempotency-Key`` header a retry is the same command: it answers the first verdict
        and records nothing twice; the same key with another action is 422. A key is the
        party's own: another party's key never reaches this party's command (ADR 36)."""
        return await act(incident_id, request, PartyActionV2)

    @router.post(
        "/v1/incidents/{incident_id}/access",
        status_code=202,
        tags=["incidents"],
        openapi_extra=body_schema(AccessActionV1),
    )
    async def access(incident_id: str, request: Request) -> JSONResponse:
        """A step of an access request (ADR 49): ``request_access`` or ``emergency_access`` by
        the incident's primary owner or a check party; ``grant``/``deny`` by the rule's issuer,
        ``approve``/``reject`` by its approver (the actor names the contact). Answered as
        ``/actions`` is: 202 with the command id, 403 or 409 with the reason (recorded as
        ``baton.incident.access_refused``), 404, or 202 ``pending``; ``Idempotency-Key`` makes a
        retry the same command. The request's id is in ``baton.incident.access_request``."""
        return await act(incident_id, request, AccessActionV1)

    @router.post(
        "/v1/incidents/{incident_id}/pauses",
        status_code=202,
        tags=["incidents"],
        openapi_extra=body_schema(PauseAnswerV1),
    )
    async def pause_answer(incident_id: str, request: Request) -> JSONResponse:
        """The customer confirms or disputes a pause whose reason it confirms (the contract's
        ``confirmed_by``), naming it by clock, reason and ``paused_at`` as sla-clock published
        it; a dispute says why in ``note`` (ADR 50). Answered as ``/actions`` is; recorded as
        ``baton.incident.pause_answered`` (refused: ``.pause_answer_refused``)."""
        return await act(incident_id, request, PauseAnswerV1)

    return router
