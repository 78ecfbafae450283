"""Intake's HTTP surface: one receiver per format, user reports, change events and party
actions — plain route functions, each taking the ``Gate`` (``intake.gate``) as a typed
dependency. A receiver answers 2xx only after every alert is in Kafka (acks=all), so nothing
acknowledged is lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from intake import alertmanager, changes, generic, grafana, pagerduty, userreport, zabbix
from intake.access import request_id_for
from intake.actions import action_digest, text_too_long
from intake.auth import replayed
from intake.formats import FORMATS
from intake.gate import Gate, Intake, log
from intake.guard import (
    Refusal,
    parse_json,
)
from shared.contract import Contract
from shared.contract.view import ContractView
from shared.db import DATABASE_UNAVAILABLE
from shared.events import (
    AccessActionV1,
    AlertReceivedV1,
    PartyActionV2,
    PauseAnswerV1,
    make_event,
    stable_id,
)
from shared.http import Unavailable, unavailable

Endpoint = Callable[..., Awaitable[JSONResponse]]
Register = Callable[[Endpoint], Endpoint]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    endpoint: Callable[..., Awaitable[JSONResponse]]
    options: dict[str, Any]


ROUTES: list[Route] = []
"""Every route, in the order the OpenAPI document lists them."""


def route(method: str, path: str, **options: Any) -> Register:
    """Register a module-level route function (``build_router`` adds them all)."""

    def register(endpoint: Endpoint) -> Endpoint:
        ROUTES.append(Route(method, path, endpoint, options))
        return endpoint

    return register


async def gate_of(request: Request) -> Gate:
    """The ``Gate`` of the router that took the request (``build_router`` binds it). Async,
    as ``bind`` is: FastAPI runs a plain function dependency in a worker thread, two thread
    hops per request (issue 28: 9 % of intake's samples with one alert per webhook)."""
    gate: Gate = request.state.intake_gate
    return gate


Gated = Annotated[Gate, Depends(gate_of)]


def build_router(intake: Intake) -> APIRouter:
    """Intake's routes over ``intake``: one ``Gate`` (its counters registered once), bound to
    each request before the route's own dependencies run."""
    gate = Gate(intake)

    async def bind(request: Request) -> None:
        request.state.intake_gate = gate

    router = APIRouter(dependencies=[Depends(bind)])
    for r in ROUTES:
        router.add_api_route(r.path, r.endpoint, methods=[r.method], **r.options)
    return router


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


IDEMPOTENCY_HEADER = "idempotency-key"


def object_party(view: ContractView, party: str | None, object_id: str) -> bool:
    """Whether ``party`` has a part in ``object_id`` (None: reads are open)."""
    if party is None:
        return True
    obj = view.object(object_id)
    if obj is None:
        return False
    found = view.contract.parties.get(party)
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


async def receive(request: Request, gate: Gate, name: str, *, group: bool = False) -> JSONResponse:
    """One receiver's body: taken through the gate, answered 202 with the alerts' ids."""
    settings = gate.settings
    limit = settings.intake_max_group_body_bytes if group else settings.intake_max_body_bytes
    taken = await gate.take(request, name, FORMATS[name].decode, uuid.uuid4().hex, limit=limit)
    return taken if isinstance(taken, JSONResponse) else gate.accepted(taken[0])


def posted(path: str, model: type[BaseModel], tag: str, **options: Any) -> Register:
    """A POST route whose body is ``model``, answered 202 (every POST route intake has)."""
    return route(
        "POST", path, status_code=202, tags=[tag], openapi_extra=body_schema(model), **options
    )


def receiver(name: str, path: str, model: type[BaseModel]) -> Register:
    return posted(path, model, "alerts", name=name)


@receiver("alertmanager", "/v1/alerts/alertmanager", alertmanager.AlertmanagerWebhook)
async def alertmanager_receive(request: Request, gate: Gated) -> JSONResponse:
    """Prometheus Alertmanager webhook, payload version 4."""
    return await receive(request, gate, "alertmanager", group=True)


@receiver("grafana", "/v1/alerts/grafana", grafana.GrafanaWebhook)
async def grafana_receive(request: Request, gate: Gated) -> JSONResponse:
    """Grafana alerting contact-point webhook."""
    return await receive(request, gate, "grafana", group=True)


@receiver("zabbix", "/v1/alerts/zabbix", zabbix.ZabbixEvent)
async def zabbix_receive(request: Request, gate: Gated) -> JSONResponse:
    """Zabbix problem and recovery events (deploy/zabbix/)."""
    return await receive(request, gate, "zabbix")


@receiver("generic", "/v1/alerts", generic.GenericBatch)
async def generic_receive(request: Request, gate: Gated) -> JSONResponse:
    """Baton's own JSON alerts: {"alerts": [...]}."""
    return await receive(request, gate, "generic")


@posted("/v1/incidents", userreport.UserReport, "incidents")
async def user_report(request: Request, gate: Gated) -> JSONResponse:
    """A person reports: who cannot use what, since when, how many people. With an
    ``Idempotency-Key`` header a retry is the same report: same ids, nothing recorded twice."""
    try:
        key = idempotency_key(request.headers)
    except Refusal as refusal:
        await gate.refuse(request, userreport.SOURCE, refusal, b"")
        return JSONResponse(refusal.body(), refusal.status)

    def report_id(doc: Any) -> str:
        """A retry is the same report of the same reporter: another reporter's key is
        another report (ADR 36)."""
        reporter = doc.get("reporter") if isinstance(doc, dict) else None
        return stable_id("user-report", reporter, key).hex

    taken = await gate.take(
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


@posted("/v2/enqueue", pagerduty.Event, "pagerduty")
async def pagerduty_enqueue(request: Request, gate: Gated) -> JSONResponse:
    """PagerDuty Events API v2: trigger, acknowledge or resolve an alert by dedup_key."""
    new_key = uuid.uuid4().hex
    taken = await gate.take(
        request, pagerduty.SOURCE, FORMATS["pagerduty"].decode, new_key, routing_key=True
    )
    if isinstance(taken, JSONResponse):
        return pd_refusal(taken)
    (event,) = taken[0]
    dedup_key = event.data_as(AlertReceivedV1).alert.annotations["dedup_key"]
    return JSONResponse(pagerduty.accepted(dedup_key), status_code=202)


@posted("/v2/change/enqueue", pagerduty.ChangeEvent, "pagerduty")
async def pagerduty_change(request: Request, gate: Gated) -> JSONResponse:
    """PagerDuty change events: kept as change context on the object they name."""
    body = b""
    now = gate.intake.clock.now()
    try:
        body = await gate.read(request, gate.settings.intake_max_body_bytes)
        doc = parse_json(body, gate.settings.intake_max_json_depth)
        key = doc.get("routing_key") if isinstance(doc, dict) else None
        signed = gate.intake.auth.check_source(
            pagerduty.SOURCE, request.headers, body, now, key if isinstance(key, str) else None
        )
        if signed is not None and not await gate.first_use(signed, now):
            raise replayed()
        try:
            change = pagerduty.ChangeEvent.model_validate(doc)
        except ValidationError as exc:
            raise Refusal.invalid(exc) from None
    except Refusal as refusal:
        await gate.refuse(request, pagerduty.SOURCE, refusal, refusal.payload or body)
        return pd_refusal(JSONResponse(refusal.body(), refusal.status, refusal.headers))
    record = changes.from_pagerduty(change, gate.intake.contract, now)
    try:
        await gate.durably(gate.intake.publish("changes", record, changes.key(record)))
    except Unavailable as exc:
        return pd_refusal(gate.unavailable_answer(exc))
    if gate.intake.record_change is not None:
        try:
            await gate.intake.record_change(
                change, pagerduty.change_object(change, gate.intake.contract), now
            )
        except DATABASE_UNAVAILABLE as exc:
            # not kept: the client is told to retry (PagerDuty clients retry on 5xx)
            log.warning("change event not recorded", extra={"error": repr(exc)[:200]})
            return unavailable("postgresql", gate.settings.retry_after_seconds)
    return JSONResponse({"status": "success", "message": "Change event processed"}, status_code=202)


def known_change(contract: Contract, doc: Any) -> changes.ChangeIn:
    """The change a tool posted, on an object of the contract; else a 422 naming the field."""
    try:
        change = changes.ChangeIn.model_validate(doc)
    except ValidationError as exc:
        raise Refusal.invalid(exc) from None
    if contract.object(change.object) is None:
        raise Refusal(422, f"object: {change.object!r} is not in the contract", kind="schema")
    return change


@posted("/v1/changes", changes.ChangeIn, "changes")
async def post_change(request: Request, gate: Gated) -> JSONResponse:
    """A change a CI/CD or change-management tool made on a contract object (ADR 46): kept
    as a change record beside the incidents. Authenticated as the ``changes`` source."""
    body = b""
    now = gate.intake.clock.now()
    try:
        body = await gate.read(request, gate.settings.intake_max_body_bytes)
        signed = gate.intake.auth.check_source(changes.SOURCE, request.headers, body, now)
        if signed is not None and not await gate.first_use(signed, now):
            raise replayed()
        doc = parse_json(body, gate.settings.intake_max_json_depth)
        change = known_change(gate.intake.contract, doc)
    except Refusal as refusal:
        await gate.refuse(request, changes.SOURCE, refusal, refusal.payload or body)
        return JSONResponse(refusal.body(), refusal.status, refusal.headers)
    record = changes.from_tool(change, changes.SOURCE, now)
    try:
        await gate.durably(gate.intake.publish("changes", record, changes.key(record)))
    except Unavailable as exc:
        return gate.unavailable_answer(exc)
    return JSONResponse({"status": "accepted", "change_id": str(record.id)}, status_code=202)


@posted("/v1/problems/{problem_id}/close", changes.ProblemClose, "problems")
async def close_problem(problem_id: str, request: Request, gate: Gated) -> JSONResponse:
    """The owner of a problem record (or the coordinator) closes it with its root cause and
    what was changed (ADR 48). Checked here: the party's token and the body; the router,
    which keeps the problems, decides and records ``problem_closed`` or
    ``problem_close_refused`` with the reason on the problem's latest incident. 202
    pending once Kafka has the request."""
    body = b""
    now = gate.intake.clock.now()
    try:
        gate.intake.auth.party_before_body(request.headers)
        body = await gate.read(request, gate.settings.intake_max_body_bytes)
        doc = parse_json(body, gate.settings.intake_max_json_depth)
        try:
            asked = changes.ProblemClose.model_validate(doc)
        except ValidationError as exc:
            raise Refusal.invalid(exc) from None
        gate.intake.auth.check_party(request.headers, asked.party)
    except Refusal as refusal:
        await gate.refuse(request, "problem-close", refusal, refusal.payload or body)
        return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)
    event = changes.close_requested(problem_id, asked, now)
    try:
        await gate.durably(gate.intake.publish("problems", event, problem_id))
    except (Unavailable, Refusal) as exc:
        return await gate.not_published(request, "problem-close", exc, body)
    return JSONResponse({"status": "pending", "request_id": str(event.id)}, status_code=202)


@route("GET", "/v1/objects/{object_id}/changes", tags=["pagerduty"])
async def object_changes(object_id: str, request: Request, gate: Gated) -> JSONResponse:
    """Change events (``/v2/change/enqueue``) recorded on a contract object, newest first:
    the change context to look at when the object fails. With party tokens configured, a
    token of one of the object's parties is required (its layer's owner, its executor, a
    party checking it, the coordinator, the customer); any other party's is answered 404."""
    try:
        party = gate.intake.auth.token_party(request.headers)
    except Refusal as refusal:
        return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)
    view = ContractView.of(gate.intake.contract)
    if view.object(object_id) is None or not object_party(view, party, object_id):
        # another party's object is answered as an unknown one: ids are not disclosed
        return JSONResponse({"error": f"object_id: {object_id!r} is not in the contract"}, 404)
    found = await gate.intake.list_changes(object_id) if gate.intake.list_changes else []
    return JSONResponse({"object_id": object_id, "changes": found})


async def act(
    gate: Gate,
    incident_id: str,
    request: Request,
    model: type[PartyActionV2 | AccessActionV1 | PauseAnswerV1],
) -> JSONResponse:
    """A command from HTTP: bound to the token's party, validated, published, its verdict
    awaited (the two routes below)."""
    body = b""
    now = gate.intake.clock.now()
    try:
        key = idempotency_key(request.headers)
        gate.intake.auth.party_before_body(request.headers)
        body = await gate.read(request, gate.settings.intake_max_body_bytes)
        doc = parse_json(body, gate.settings.intake_max_json_depth)
        try:
            data = model.model_validate(doc)
        except ValidationError as exc:
            raise Refusal.invalid(exc) from None
        gate.intake.auth.check_party(request.headers, data.party)
        if isinstance(data, PartyActionV2):
            check_text(data)  # an access step's texts are bounded by its model
    except Refusal as refusal:
        await gate.refuse(request, "party-action", refusal, refusal.payload or body)
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
        await gate.durably(gate.intake.publish("commands", command, None))
    except (Unavailable, Refusal) as exc:
        return await gate.not_published(request, "party-action", exc, body)
    # From here the command is durable in the commands topic and will be applied exactly
    # once (processed-event record); a verdict we cannot wait for is answered 202 pending.
    found = (
        await gate.intake.await_outcome(command.id, data.party)
        if gate.intake.await_outcome
        else None
    )
    if found is None:
        return JSONResponse({"command_id": str(command.id), "status": "pending"}, status_code=202)
    status, reason, digest = found
    if digest != action_digest(data):
        reused = Refusal(
            422,
            "Idempotency-Key: already used for another action on this incident; a retry"
            " sends the same body, a new action a new key",
            kind="idempotency",
        )
        await gate.refuse(request, "party-action", reused, body)
        return JSONResponse(reused.body(), reused.status)
    if status == 202:
        answer = {"command_id": str(command.id), "status": "accepted"}
        if isinstance(data, AccessActionV1) and data.request_id is None:
            answer["request_id"] = request_id_for(command)  # a new request's id
        return JSONResponse(answer, status_code=202)
    return JSONResponse({"error": reason, "command_id": str(command.id)}, status_code=status)


@posted("/v1/incidents/{incident_id}/actions", PartyActionV2, "incidents")
async def action(incident_id: str, request: Request, gate: Gated) -> JSONResponse:
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
    return await act(gate, incident_id, request, PartyActionV2)


@posted("/v1/incidents/{incident_id}/access", AccessActionV1, "incidents")
async def access(incident_id: str, request: Request, gate: Gated) -> JSONResponse:
    """A step of an access request (ADR 49): ``request_access`` or ``emergency_access`` by
    the incident's primary owner or a check party; ``grant``/``deny`` by the rule's issuer,
    ``approve``/``reject`` by its approver (the actor names the contact). Answered as
    ``/actions`` is: 202 with the command id, 403 or 409 with the reason (recorded as
    ``baton.incident.access_refused``), 404, or 202 ``pending``; ``Idempotency-Key`` makes a
    retry the same command. The request's id is in ``baton.incident.access_request``."""
    return await act(gate, incident_id, request, AccessActionV1)


@posted("/v1/incidents/{incident_id}/pauses", PauseAnswerV1, "incidents")
async def pause_answer(incident_id: str, request: Request, gate: Gated) -> JSONResponse:
    """The customer confirms or disputes a pause whose reason it confirms (the contract's
    ``confirmed_by``), naming it by clock, reason and ``paused_at`` as sla-clock published
    it; a dispute says why in ``note`` (ADR 50). Answered as ``/actions`` is; recorded as
    ``baton.incident.pause_answered`` (refused: ``.pause_answer_refused``)."""
    return await act(gate, incident_id, request, PauseAnswerV1)
