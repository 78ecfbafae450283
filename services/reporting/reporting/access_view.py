"""Access requests where people look (ADR 49): each request of an incident with its times, its
waits and the pause it caused, for the closure report and the incident view.

Built from the incident's recorded events: the last ``baton.incident.access_request`` of each
request is the request (the whole record after its last step); the ``no-access`` /
``no-approver`` pauses sla-clock booked for it name it in their evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter

from shared.contract import Contract
from shared.documents.words import duration_words
from shared.events import AccessRequestV1, EventType

_SPAN = TypeAdapter(timedelta)
Local = Callable[[datetime | None], str]


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event["data"]
    return orjson.loads(data) if isinstance(data, str | bytes) else dict(data)


def requests(events: Iterable[dict[str, Any]]) -> list[AccessRequestV1]:
    """Each access request as its last step left it, in the order they were made."""
    last: dict[str, AccessRequestV1] = {}
    for event in events:
        if str(event["type"]) == EventType.ACCESS_REQUEST.value:
            request = AccessRequestV1.model_validate(_data(event))
            last[request.request_id] = request
    return sorted(last.values(), key=lambda r: r.requested_at)


def paused_for(events: Iterable[dict[str, Any]]) -> dict[str, timedelta]:
    """Business time each request's automatic pause excluded (by request id; ongoing: 0)."""
    began: dict[tuple[str, str, str], str] = {}
    out: dict[str, timedelta] = {}
    for event in events:
        data, kind = _data(event), str(event["type"])
        key = (
            str(event.get("incident_id", "")),
            str(data.get("clock")),
            str(data.get("pause_reason")),
        )
        if kind == EventType.SLA_CLOCK_PAUSED.value and data.get("actor") == "baton":
            evidence = " ".join(data.get("evidence", []))
            rid = next((w for w in evidence.split() if w.startswith("acc-")), None)
            if rid is not None:
                began[key] = rid
                out.setdefault(rid, timedelta(0))
        elif kind == EventType.SLA_CLOCK_RESUMED.value and key in began:
            rid = began.pop(key)
            out[rid] += _SPAN.validate_python(data.get("paused") or 0)
    return out


def _wait(start: datetime, end: datetime | None) -> str:
    return duration_words(end - start) if end is not None else "still waiting"


def _answer(who: str | None, at: datetime | None, since: datetime, local: Local) -> str:
    return f"{who} at {local(at)} (waited {_wait(since, at)})"


def rows(events: list[dict[str, Any]], local: Local) -> tuple[tuple[str, ...], ...]:
    """One row per request: what, asked by/at, approval, grant, waits, pause caused."""
    paused = paused_for(events)
    out = []
    for r in requests(events):
        approval = (
            _answer(r.approved_by, r.approved_at, r.requested_at, local)
            if r.approved_by
            else (f"needed from {r.approver}, none" if r.needs_approval else "not needed")
        )
        grant = _answer(r.granted_by, r.granted_at, r.requested_at, local) if r.granted_by else "—"
        if r.status.value in ("denied", "rejected"):
            grant = f"{r.status.value} by {r.closed_by} at {local(r.closed_at)}: {r.reason}"
        if r.status.value == "emergency":
            approval = f"break glass, no prior approval: {r.reason}"
            grant = r.emergency
        pause = paused.get(r.request_id)
        out.append(
            (
                r.request_id,
                f"{r.mode} access to {r.object_id} under {r.rule}"
                + (f": {r.purpose}" if r.purpose else ""),
                f"{r.requested_by} at {local(r.requested_at)}",
                f"{duration_words(r.lead_time)} (by {local(r.due_at)})",
                approval,
                grant,
                duration_words(pause) if pause is not None else "none",
            )
        )
    return tuple(out)


COLUMNS = ("Request", "What", "Asked", "Lead time", "Approval", "Grant", "Clock paused")


def completion(contract: Contract, object_id: str | None, confirmation: dict[str, Any]) -> str:
    """Who confirmed what: whether the confirming person is the contact the object's access
    rule names to confirm completion of work on it (ADR 51)."""
    obj = contract.object(object_id) if object_id else None
    rule = contract.access_rules.get(obj.access) if obj and obj.access else None
    ref = rule.confirms_completion if rule else None
    if obj is None or ref is None:
        return ""
    party_id, _, contact_id = ref.partition("/")
    found = contract.contact(ref)
    names = {contact_id} | ({found[1].name} if found else set())
    actor = str(confirmation.get("actor", "")).removesuffix(" (link)")
    if confirmation.get("party") == party_id and actor in names:
        return f" Completion of work on {obj.id} confirmed by {ref}, as {obj.access} names."
    return f" Completion of work on {obj.id} is confirmed by {ref} under {obj.access}: not yet."


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if end is not None else None


def listing(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The incident view's access requests: each as its last step left it, with how long it
    waited for the approval and the grant (seconds; None while waiting) and the clock time its
    automatic pause excluded."""
    paused = paused_for(events)
    return [
        {
            **r.model_dump(mode="json"),
            "waiting_for": r.waiting_for,
            "approval_wait_seconds": _seconds(r.requested_at, r.approved_at),
            "grant_wait_seconds": _seconds(r.requested_at, r.granted_at),
            "paused_seconds": paused[r.request_id].total_seconds()
            if r.request_id in paused
            else None,
        }
        for r in requests(events)
    ]


WAIT_COLUMNS = (
    "Rule",
    "Asked by",
    "Requests",
    "Waited for approval",
    "Waited for the grant",
    "Clock paused",
)


def waits(events: list[dict[str, Any]], party: Callable[[str], str]) -> tuple[tuple[str, ...], ...]:
    """The month's waiting for access and approvals, per rule and requesting party: answered
    waits summed (a request still waiting counts in Requests only), and the clock time the
    requests' automatic pauses excluded."""
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_incident.setdefault(str(event.get("incident_id", "")), []).append(event)
    zero = timedelta(0)
    sums: dict[tuple[str, str], list[Any]] = {}
    for incident_events in by_incident.values():
        paused = paused_for(incident_events)
        for r in requests(incident_events):
            key = (r.rule, r.requested_by.partition(":")[0])
            row = sums.setdefault(key, [0, zero, zero, zero])
            row[0] += 1
            row[1] += (r.approved_at - r.requested_at) if r.approved_at else zero
            row[2] += (r.granted_at - r.requested_at) if r.granted_at else zero
            row[3] += paused.get(r.request_id, zero)
    return tuple(
        (rule, party(pid), str(n), duration_words(a), duration_words(g), duration_words(p))
        for (rule, pid), (n, a, g, p) in sorted(sums.items())
    )
