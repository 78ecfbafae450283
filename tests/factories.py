"""What the tests build again and again, in one place: events (an incident opening, an action,
an origin move, a reclassification, an alert as intake receives it, what sla-clock publishes, an
event as a writer put it on the wire), intake's state of an incident, reporting's row of one,
the example contract and the minimal one (as a document, with a second site); and what they read
back from a service's output (payloads of a type, the primary's assignments, the clocks'
deadlines). Keyword arguments with the common defaults; a test names what it varies."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from intake.incidents import IncidentState

from shared.contract import Contract, load_contract
from shared.events import (
    ActionKind,
    Alert,
    AlertReceivedV1,
    AssignmentIssuedV3,
    AssignmentRole,
    Category,
    ClockKind,
    Envelope,
    IncidentActionAcceptedV3,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    IncidentStatus,
    Layer,
    OriginMovedV1,
    SlaBreachedV1,
    SlaClockStartedV1,
    SlaOverdueV1,
    SlaWarningV1,
    make_event,
)
from shared.events.base import Model

T = TypeVar("T")

RECEIVER_FIXTURES = {
    "/v1/alerts/alertmanager": "alertmanager.json",
    "/v1/alerts/grafana": "grafana.json",
    "/v2/enqueue": "pagerduty-trigger.json",
    "/v2/change/enqueue": "pagerduty-change.json",
    "/v1/alerts/zabbix": "zabbix-problem.json",
    "/v1/alerts": "generic.json",
    "/v1/incidents": "user-report.json",
}
"""Each of intake's receivers (its path) and the documented payload it takes, in
``tests/fixtures/intake``."""


def opened(
    incident: str,
    at: datetime,
    *,
    object_id: str | None = "pg-main",
    layer: Layer | None = Layer.DBMS,
    category: Category = Category.OUTAGE,
    priority: str = "P1",
    summary: str = "down",
    fingerprint: str = "f",
    first_alert_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """``baton.incident.opened`` for ``incident`` at ``at`` (first alert then too, unless
    told); no object is an incident outside the perimeter."""
    return make_event(
        IncidentOpenedV1(
            object_id=object_id,
            layer=layer,
            category=category,
            priority=priority,
            summary=summary,
            opened_at=at,
            first_alert_at=first_alert_at or at,
            fingerprints=[fingerprint],
            outside_perimeter=object_id is None,
        ),
        source="intake",
        time=at,
        subject=incident,
        event_id=event_id,
    )


def opened_on(
    contract: Contract,
    object_id: str | None,
    at: datetime,
    *,
    incident: str = "inc-1",
    category: Category = Category.OUTAGE,
    priority: str | None = None,
    summary: str = "down",
    fingerprint: str = "am:f1",
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """``opened`` on an object of ``contract``: its layer, and the priority of its criticality
    (``critical`` outside the perimeter) unless told; an object the contract lacks, or none, is
    an incident outside the perimeter."""
    obj = contract.object(object_id) if object_id else None
    return opened(
        incident,
        at,
        object_id=obj.id if obj else None,
        layer=obj.layer if obj else None,
        category=category,
        priority=priority or contract.priority(obj.criticality if obj else "critical", category),
        summary=summary,
        fingerprint=fingerprint,
        event_id=event_id,
    )


def accepted(
    incident: str,
    kind: ActionKind,
    at: datetime,
    *,
    party: str = "osdb",
    actor: str = "eng",
    command_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    **fields: Any,
) -> Envelope:
    """``baton.incident.action.accepted``: ``party``'s ``actor`` did ``kind`` on ``incident`` at
    ``at``; ``fields`` are the action's own (``layer``, ``fault_found``, ``pause_reason``, …)."""
    return make_event(
        IncidentActionAcceptedV3.model_validate(
            {
                "action": kind,
                "party": party,
                "actor": actor,
                "at": at,
                "command_id": command_id or uuid.uuid4(),
                **fields,
            }
        ),
        source="intake",
        time=at,
        subject=incident,
        event_id=event_id,
    )


def origin_moved(
    incident: str,
    at: datetime,
    *,
    from_object: str = "pg-main",
    from_layer: Layer = Layer.DBMS,
    to_object: str = "srv-db-01",
    to_layer: Layer = Layer.HARDWARE,
    fingerprint: str = "f2",
    objects: tuple[str, ...] = ("pg-main",),
    scope: tuple[str, ...] = (),
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """``baton.incident.origin_moved``: an alert (``fingerprint``) on ``to_object`` shows the
    fault lies there, not on ``from_object``; by default the database's server."""
    return make_event(
        OriginMovedV1(
            from_object=from_object,
            from_layer=from_layer,
            to_object=to_object,
            to_layer=to_layer,
            fingerprint=fingerprint,
            objects=list(objects),
            scope=list(scope),
            moved_at=at,
        ),
        source="intake",
        time=at,
        subject=incident,
        event_id=event_id,
    )


def reclassified(
    incident: str,
    at: datetime,
    *,
    priority: str,
    reason: str,
    by: str,
    category: Category = Category.OUTAGE,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """``baton.incident.reclassified``: ``by`` set ``incident``'s priority (and category) at
    ``at`` for ``reason``."""
    data = IncidentReclassifiedV1(priority=priority, category=category, reason=reason, by=by)
    return make_event(data, source="intake", time=at, subject=incident, event_id=event_id)


def from_sla_clock(
    incident: str, data: Model, at: datetime, event_id: uuid.UUID | None = None
) -> Envelope:
    """What sla-clock published about ``incident`` at ``at``: ``data``."""
    return make_event(data, source="sla-clock", time=at, subject=incident, event_id=event_id)


def clock_started(
    incident: str,
    at: datetime,
    *,
    clock: ClockKind = ClockKind.RESPONSE,
    target: timedelta = timedelta(minutes=15),
    calendar: str = "24x7",
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """``baton.sla.clock_started`` from sla-clock: ``incident``'s ``clock`` started at ``at``
    with ``target`` on ``calendar``; its deadline ``target`` after ``at``, as round the clock."""
    data = SlaClockStartedV1(
        clock=clock, started_at=at, target=target, deadline=at + target, calendar=calendar
    )
    return from_sla_clock(incident, data, at, event_id)


def sla_warning(
    incident: str,
    at: datetime,
    *,
    deadline: datetime,
    clock: ClockKind = ClockKind.RESPONSE,
    threshold: int = 80,
    remaining: timedelta = timedelta(minutes=3),
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """``baton.sla.warning`` from sla-clock: ``incident``'s ``clock`` reached ``threshold`` %
    at ``at``, ``remaining`` before ``deadline``."""
    data = SlaWarningV1(
        clock=clock, threshold=threshold, deadline=deadline, remaining=remaining, detected_at=at
    )
    return from_sla_clock(incident, data, at, event_id)


def sla_breached(
    incident: str,
    at: datetime,
    *,
    clock: ClockKind = ClockKind.RESPONSE,
    deadline: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """``baton.sla.breached`` from sla-clock: ``incident``'s ``clock`` ran out at ``deadline``
    (``at`` unless told), seen at ``at``."""
    data = SlaBreachedV1(clock=clock, deadline=deadline or at, detected_at=at)
    return from_sla_clock(incident, data, at, event_id)


def sla_overdue(
    incident: str,
    at: datetime,
    *,
    deadline: datetime,
    threshold: int,
    clock: ClockKind = ClockKind.RECOVERY,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """``baton.sla.overdue`` from sla-clock: ``incident``'s ``clock``, past ``deadline``,
    reached ``threshold`` % of its target at ``at``."""
    data = SlaOverdueV1(
        clock=clock, threshold=threshold, deadline=deadline, overdue=at - deadline, detected_at=at
    )
    return from_sla_clock(incident, data, at, event_id)


def on_the_wire(
    event_type: str,
    version: int,
    data: dict[str, Any],
    at: datetime,
    *,
    source: str = "router",
    subject: str | None = "inc-1",
    event_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """An event as a writer (perhaps an earlier one) put it on the wire: the envelope's JSON
    fields with ``data`` at ``version``, without our models in between."""
    return {
        "specversion": "1.0",
        "id": str(event_id or uuid.uuid4()),
        "type": event_type,
        "source": source,
        "time": at.isoformat(),
        "subject": subject,
        "dataversion": version,
        "data": data,
    }


def payloads(events: Iterable[Envelope], kind: type[T]) -> list[T]:
    """The payloads of type ``kind`` among ``events``, in their order."""
    return [e.data for e in events if isinstance(e.data, kind)]


def primaries(events: Iterable[Envelope]) -> list[AssignmentIssuedV3]:
    """The primary party's assignments among ``events`` (what the router issued), in order."""
    return [a for a in payloads(events, AssignmentIssuedV3) if a.role == AssignmentRole.PRIMARY]


def started_deadlines(events: Iterable[Envelope]) -> dict[ClockKind, datetime]:
    """Each clock's deadline as sla-clock's ``baton.sla.clock_started`` among ``events`` says it."""
    return {d.clock: d.deadline for d in payloads(events, SlaClockStartedV1)}


def alert_received(
    contract: Contract,
    object_id: str,
    category: Category,
    at: datetime,
    *,
    fingerprint: str | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """A firing alert on ``object_id`` of ``contract``, received at ``at``; its fingerprint that
    of object and category unless told (the same pair again is a repeat)."""
    obj = contract.object(object_id)
    assert obj is not None, object_id
    return make_event(
        AlertReceivedV1(
            alert=Alert(
                source="test",
                fingerprint=fingerprint or f"{object_id}-{category.value}",
                status="firing",
                object_id=object_id,
                layer=obj.layer,
                summary=f"{object_id} {category.value}",
                category_hint=category,
                starts_at=at,
            ),
            received_at=at,
        ),
        source="intake",
        time=at,
        event_id=event_id or uuid.uuid4(),
    )


def state_of(opened: Envelope, status: IncidentStatus = IncidentStatus.OPEN) -> IncidentState:
    """Intake's state of the incident ``opened`` opened, now in ``status``: its object, layer,
    category, priority and opening, one alert of each fingerprint."""
    data = opened.data_as(IncidentOpenedV1)
    assert opened.subject is not None
    kept = data.model_dump(include={"object_id", "layer", "category", "priority", "opened_at"})
    alerts = dict.fromkeys(data.fingerprints, 1)
    return IncidentState(id=opened.subject, status=status, alerts=alerts, **kept)


def open_incident(
    object_id: str | None,
    layer: Layer | None,
    at: datetime,
    *,
    incident: str = "inc-1",
    status: IncidentStatus = IncidentStatus.OPEN,
    fingerprint: str = "fp",
) -> IncidentState:
    """Intake's state of ``incident``, a P1 outage open since ``at`` with one alert
    (``fingerprint``)."""
    event = opened(incident, at, object_id=object_id, layer=layer, fingerprint=fingerprint)
    return state_of(event, status)


def incident_row(at: datetime, **over: Any) -> dict[str, Any]:
    """``INC-1`` as reporting's incident row reads: a P1 outage on pg-acc that opened at ``at``
    and was acknowledged five minutes later, not yet restored; ``over`` replaces columns."""
    return {
        "id": "INC-1",
        "summary": "db down",
        "object_id": "pg-acc",
        "origin_object": "pg-acc",
        "origin_layer": "dbms",
        "category": "outage",
        "priority": "P1",
        "status": "acknowledged",
        "first_alert_at": at,
        "opened_at": at,
        "acknowledged_at": at + timedelta(minutes=5),
        "restored_at": None,
        "closed_at": None,
        "primary_party": "sysops",
        "coordinator": "appint",
        "alert_count": 1,
        "objects": ["pg-acc"],
        **over,
    }


ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "examples" / "minimal" / "contract.yaml"


@functools.cache
def example() -> Contract:
    """The example contract (``examples/contract``), loaded once per test process: it is
    frozen, so the tests share it."""
    return load_contract(ROOT / "examples" / "contract")


def minimal_doc() -> dict[str, Any]:
    """The minimal contract's document (a fresh copy to change)."""
    doc: dict[str, Any] = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    return doc


def written(doc: dict[str, Any], folder: Path) -> Path:
    """``doc`` written as ``folder``/contract.yaml; that path."""
    path = folder / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def two_sites_doc() -> dict[str, Any]:
    """The minimal contract's document with a warehouse hub in Europe/Berlin on its own office
    hours (08:00-17:00) beside the head office; the accounting system runs at the hub."""
    doc = minimal_doc()
    doc["calendars"].append(
        {
            "id": "hub-office",
            "kind": "business_hours",
            "timezone": "Europe/Berlin",
            "weekly": {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        }
    )
    doc["locations"] = {
        "hq": {"name": "Head office", "kind": "head_office"},
        "hub": {"name": "Hub", "kind": "warehouse", "period_calendar": "hub-office"},
    }
    for obj in doc["objects"]:
        obj["location"] = "hub" if obj["id"] == "acc-app" else "hq"
    return doc
