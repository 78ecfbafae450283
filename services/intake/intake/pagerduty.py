"""PagerDuty Events API v2, wire-compatible: any PagerDuty client can point at Baton.

``POST /v2/enqueue`` takes alert events (``event_action`` trigger / acknowledge / resolve, with
``dedup_key``); ``POST /v2/change/enqueue`` takes change events. Answers are PagerDuty's:
202 ``{status, message, dedup_key}``, and 400 ``{status: "invalid event", message, errors}``.
The routing key names the integration; Baton never stores it, only a short hash of it in the
fingerprint, so that two integrations' dedup keys never collide.

The actions mean what PagerDuty says they mean: ``trigger`` fires (or repeats) the alert,
``resolve`` reports its recovery, ``acknowledge`` says someone acknowledged it at the source —
the alert still fires, nothing new happened to the object. Intake records an acknowledgement on
the incident holding the dedup key (``baton.incident.source_acknowledged``) and does nothing
else: it is not the contractor's acknowledgement, so the response clock runs on; one for an
alert Baton never opened is dropped, like a recovery of one (ADR 41).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from intake.labels import make_alert
from shared.contract import Contract
from shared.events import Alert, Category
from shared.instants import Instant
from shared.model import Foreign

SOURCE = "pagerduty"


class _Foreign(Foreign):
    model_config = ConfigDict(populate_by_name=True)  # ``class_`` for the wire's ``class``


class Link(_Foreign):
    href: str
    text: str = ""


class Payload(_Foreign):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: Instant | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    custom_details: dict[str, Any] | str | None = None


class Event(_Foreign):
    routing_key: str = Field(min_length=1, max_length=128)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, min_length=1, max_length=255)
    payload: Payload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[Link] = Field(default_factory=list)

    @model_validator(mode="after")
    def _action_needs(self) -> Event:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("payload: required for a trigger event")
        if self.event_action != "trigger" and self.dedup_key is None:
            raise ValueError(f"dedup_key: required for {self.event_action}")
        return self


class ChangePayload(_Foreign):
    summary: str = Field(min_length=1, max_length=1024)
    timestamp: Instant | None = None
    source: str | None = None
    custom_details: dict[str, Any] | None = None


class ChangeEvent(_Foreign):
    routing_key: str = Field(min_length=1, max_length=128)
    payload: ChangePayload
    links: list[Link] = Field(default_factory=list)


def integration(routing_key: str) -> str:
    """A short, non-reversible name for the integration behind a routing key."""
    return hashlib.sha256(routing_key.encode()).hexdigest()[:12]


def _labels(payload: Payload | ChangePayload | None) -> dict[str, str]:
    if payload is None:
        return {}
    labels: dict[str, str] = {}
    details = payload.custom_details if isinstance(payload.custom_details, dict) else {}
    labels.update({k: v for k, v in details.items() if isinstance(v, str)})
    if payload.source:  # the affected host: contracts match it as ``instance`` or ``host``
        labels["host"] = labels["instance"] = payload.source
    if isinstance(payload, Payload):
        labels["severity"] = payload.severity
        extra = {"component": payload.component, "group": payload.group, "class": payload.class_}
        labels.update({k: v for k, v in extra.items() if v})
    return labels


def normalise(event: Event, contract: Contract, now: datetime, new_key: str) -> Alert:
    """The alert of one event; ``new_key`` is the dedup key when the event brings none."""
    dedup_key = event.dedup_key or new_key
    payload = event.payload
    labels = _labels(payload)
    annotations = {"dedup_key": dedup_key, "event_action": event.event_action}
    if isinstance(payload, Payload) and isinstance(payload.custom_details, str):
        annotations["details"] = payload.custom_details
    if event.client:
        annotations["client"] = event.client
    category = None
    if payload is not None and event.event_action == "trigger":
        category = Category.OUTAGE if payload.severity == "critical" else None
    if event.event_action == "acknowledge":
        labels = {}  # the dedup key names the alert; a payload never moves it to an object
    return make_alert(
        contract,
        source=SOURCE,
        fingerprint=f"pd:{integration(event.routing_key)}:{dedup_key}",
        status="resolved" if event.event_action == "resolve" else "firing",
        labels=labels,
        annotations=annotations,
        summary=payload.summary if payload else f"{event.event_action} {dedup_key}",
        starts_at=(payload.timestamp if payload and payload.timestamp else now),
        ends_at=now if event.event_action == "resolve" else None,
        links=[event.client_url or "", *(link.href for link in event.links)],
        category=category,
    )


def is_acknowledgement(alert: Alert) -> bool:
    """Whether ``alert`` is a PagerDuty ``acknowledge``: the source acknowledging an alert that
    still fires (``normalise`` keeps the action in the annotations)."""
    return alert.source == SOURCE and alert.annotations.get("event_action") == "acknowledge"


def change_object(change: ChangeEvent, contract: Contract) -> str | None:
    """The contract object a change event is about, if its source or details name one."""
    obj = contract.match_alert(_labels(change.payload))
    return obj.id if obj else None


def accepted(dedup_key: str) -> dict[str, str]:
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def invalid(errors: list[str]) -> dict[str, Any]:
    return {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
