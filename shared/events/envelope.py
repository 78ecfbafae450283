"""The envelope, the registry of types and versions, the upcasters, making and parsing events."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import AwareDatetime, Field, SerializeAsAny, TypeAdapter

from shared.events import assignments, commands, incidents, records, sla
from shared.events.base import Model


class EventType(StrEnum):
    ALERT_RECEIVED = "baton.alert.received"
    INCIDENT_OPENED = "baton.incident.opened"
    ALERT_ATTACHED = "baton.incident.alert_attached"
    PARTY_ACTION = "baton.command.party_action"
    ACTION_ACCEPTED = "baton.incident.action_accepted"
    ACTION_REFUSED = "baton.incident.action_refused"
    INCIDENT_CLOSED = "baton.incident.closed"
    ASSIGNMENT_ISSUED = "baton.assignment.issued"
    SLA_CLOCK_STARTED = "baton.sla.clock_started"
    SLA_CLOCK_STOPPED = "baton.sla.clock_stopped"
    SLA_WARNING = "baton.sla.warning"
    SLA_BREACHED = "baton.sla.breached"
    CONTRACT_PUBLISHED = "baton.contract.published"
    DEAD_LETTER = "baton.deadletter"
    ALERT_RESOLVED = "baton.incident.alert_resolved"
    ALERT_CORRELATED = "baton.incident.alert_correlated"
    ORIGIN_MOVED = "baton.incident.origin_moved"
    CHECK_OPENED = "baton.assignment.check_opened"
    CHECK_CLOSED = "baton.assignment.check_closed"
    HANDOVER = "baton.assignment.handover"
    ASSIGNMENT_ESCALATED = "baton.assignment.escalated"
    VENDOR_CASE_OPENED = "baton.assignment.vendor_case_opened"
    INCIDENT_RECLASSIFIED = "baton.incident.reclassified"
    SLA_CLOCK_PAUSED = "baton.sla.clock_paused"
    SLA_CLOCK_RESUMED = "baton.sla.clock_resumed"
    SLA_CLOCK_RECOMPUTED = "baton.sla.clock_recomputed"
    SLA_OVERDUE = "baton.sla.overdue"
    CHECKIN_PING = "baton.checkin.ping"
    UPDATE_DUE = "baton.sla.update_due"
    UPDATE_OVERDUE = "baton.sla.update_overdue"
    CHANGE_RECORDED = "baton.change.recorded"
    PROBLEM_OPENED = "baton.assignment.problem_opened"
    PROBLEM_LINKED = "baton.assignment.problem_linked"
    PROBLEM_CLOSED = "baton.assignment.problem_closed"
    PROBLEM_CLOSE_REFUSED = "baton.assignment.problem_close_refused"
    PROBLEM_CLOSE_REQUESTED = "baton.problem.close_requested"
    SOURCE_ACKNOWLEDGED = "baton.incident.source_acknowledged"
    NOTIFICATION = "baton.assignment.notification"
    ACCESS_ACTION = "baton.command.access_action"
    ACCESS_REQUEST = "baton.incident.access_request"
    ACCESS_REFUSED = "baton.incident.access_refused"
    PAUSE_ANSWER = "baton.command.pause_answer"
    PAUSE_ANSWERED = "baton.incident.pause_answered"
    PAUSE_ANSWER_REFUSED = "baton.incident.pause_answer_refused"


PAYLOADS: dict[EventType, type[Model]] = {
    EventType.ALERT_RECEIVED: incidents.AlertReceivedV1,
    EventType.INCIDENT_OPENED: incidents.IncidentOpenedV2,
    EventType.ALERT_ATTACHED: incidents.AlertAttachedV1,
    EventType.PARTY_ACTION: commands.PartyActionV2,
    EventType.ACTION_ACCEPTED: incidents.IncidentActionAcceptedV3,
    EventType.ACTION_REFUSED: incidents.IncidentActionRefusedV3,
    EventType.INCIDENT_CLOSED: incidents.IncidentClosedV1,
    EventType.ASSIGNMENT_ISSUED: assignments.AssignmentIssuedV3,
    EventType.SLA_CLOCK_STARTED: sla.SlaClockStartedV1,
    EventType.SLA_CLOCK_STOPPED: sla.SlaClockStoppedV1,
    EventType.SLA_WARNING: sla.SlaWarningV1,
    EventType.SLA_BREACHED: sla.SlaBreachedV1,
    EventType.CONTRACT_PUBLISHED: records.ContractPublishedV1,
    EventType.DEAD_LETTER: records.DeadLetterV1,
    EventType.ALERT_RESOLVED: incidents.AlertResolvedV2,
    EventType.ALERT_CORRELATED: incidents.AlertCorrelatedV1,
    EventType.ORIGIN_MOVED: incidents.OriginMovedV1,
    EventType.CHECK_OPENED: assignments.CheckOpenedV2,
    EventType.CHECK_CLOSED: assignments.CheckClosedV1,
    EventType.HANDOVER: assignments.HandoverV2,
    EventType.ASSIGNMENT_ESCALATED: assignments.AssignmentEscalatedV3,
    EventType.VENDOR_CASE_OPENED: assignments.VendorCaseOpenedV2,
    EventType.INCIDENT_RECLASSIFIED: incidents.IncidentReclassifiedV1,
    EventType.SLA_CLOCK_PAUSED: sla.SlaClockPausedV1,
    EventType.SLA_CLOCK_RESUMED: sla.SlaClockResumedV1,
    EventType.SLA_CLOCK_RECOMPUTED: sla.SlaClockRecomputedV1,
    EventType.SLA_OVERDUE: sla.SlaOverdueV1,
    EventType.CHECKIN_PING: records.CheckinPingV1,
    EventType.UPDATE_DUE: sla.UpdateDueV1,
    EventType.UPDATE_OVERDUE: sla.UpdateOverdueV1,
    EventType.CHANGE_RECORDED: records.ChangeRecordedV1,
    EventType.PROBLEM_OPENED: records.ProblemOpenedV2,
    EventType.PROBLEM_LINKED: records.ProblemLinkedV1,
    EventType.PROBLEM_CLOSED: records.ProblemClosedV1,
    EventType.PROBLEM_CLOSE_REFUSED: records.ProblemCloseRefusedV1,
    EventType.PROBLEM_CLOSE_REQUESTED: records.ProblemCloseRequestedV1,
    EventType.SOURCE_ACKNOWLEDGED: incidents.SourceAcknowledgedV1,
    EventType.NOTIFICATION: assignments.NotificationOutcomeV1,
    EventType.ACCESS_ACTION: commands.AccessActionV1,
    EventType.ACCESS_REQUEST: incidents.AccessRequestV1,
    EventType.ACCESS_REFUSED: incidents.AccessRefusedV1,
    EventType.PAUSE_ANSWER: commands.PauseAnswerV1,
    EventType.PAUSE_ANSWERED: incidents.PauseAnsweredV1,
    EventType.PAUSE_ANSWER_REFUSED: incidents.PauseAnswerRefusedV1,
}
CURRENT_VERSION: dict[EventType, int] = {
    **dict.fromkeys(PAYLOADS, 1),
    EventType.ASSIGNMENT_ISSUED: 3,
    EventType.CHECK_OPENED: 2,
    EventType.HANDOVER: 2,
    EventType.ASSIGNMENT_ESCALATED: 3,
    EventType.VENDOR_CASE_OPENED: 2,
    EventType.PARTY_ACTION: 2,
    EventType.ACTION_ACCEPTED: 3,
    EventType.ACTION_REFUSED: 3,
    EventType.ALERT_RESOLVED: 2,
    EventType.INCIDENT_OPENED: 2,
    EventType.PROBLEM_OPENED: 2,
}
EARLIER: dict[tuple[EventType, int], type[Model]] = {
    (EventType.ASSIGNMENT_ISSUED, 1): assignments.AssignmentIssuedV1,
    (EventType.ASSIGNMENT_ISSUED, 2): assignments.AssignmentIssuedV2,
    (EventType.CHECK_OPENED, 1): assignments.CheckOpenedV1,
    (EventType.HANDOVER, 1): assignments.HandoverV1,
    (EventType.ASSIGNMENT_ESCALATED, 1): assignments.AssignmentEscalatedV1,
    (EventType.ASSIGNMENT_ESCALATED, 2): assignments.AssignmentEscalatedV2,
    (EventType.VENDOR_CASE_OPENED, 1): assignments.VendorCaseOpenedV1,
    (EventType.PARTY_ACTION, 1): commands.PartyActionV1,
    (EventType.ACTION_ACCEPTED, 1): incidents.IncidentActionAcceptedV1,
    (EventType.ACTION_ACCEPTED, 2): incidents.IncidentActionAcceptedV2,
    (EventType.ACTION_REFUSED, 1): incidents.IncidentActionRefusedV1,
    (EventType.ACTION_REFUSED, 2): incidents.IncidentActionRefusedV2,
    (EventType.ALERT_RESOLVED, 1): incidents.AlertResolvedV1,
    (EventType.INCIDENT_OPENED, 1): incidents.IncidentOpenedV1,
    (EventType.PROBLEM_OPENED, 1): records.ProblemOpenedV1,
}
"""Payload models of earlier versions: what old writers wrote (their schemas are checked in)."""


def upcast_assignment_issued_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 named the party, layer, object and classification only: v2's details are unknown."""
    return {
        "object_name": "",
        "object_kind": None,
        "environment": None,
        "versions": {},
        "location": None,
        "on_duty": None,
        "backup_contacts": [],
        "access": None,
        "deadlines": None,
        "coordinator": None,
        "coordinator_on_duty": None,
        "coordinator_intake": "",
        "related_alerts": [],
        "contract_version": "",
        **data,
    }


def upcast_assignment_issued_v2_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v2 did not say when the incident opened nor the object's local times: unknown."""
    return {"opened_at": None, "local": None, **data}


def upcast_check_opened_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 did not say when the incident opened nor when the check party is engaged: unknown."""
    return {"opened_at": None, "engage_at": None, "engage_at_local": None, "local": None, **data}


def upcast_local_unknown(data: dict[str, Any]) -> dict[str, Any]:
    """v1 of a handover, an escalation or a vendor case gave its instant in UTC only."""
    return {"local": None, **data}


def upcast_escalation_update_added(data: dict[str, Any]) -> dict[str, Any]:
    """v2 had no ``update_overdue`` reason: no escalation of v2 was about a late update."""
    return {"update_due": None, **data}


def upcast_update_added(data: dict[str, Any]) -> dict[str, Any]:
    """The next version only adds ``update`` to the actions: every earlier one reads the same
    (party_action v1 to v2, action_accepted and action_refused v2 to v3; ADR 47)."""
    return data


def upcast_action_claim_unknown(data: dict[str, Any]) -> dict[str, Any]:
    """v1 of an accepted or refused action carried one instant: which of the two it was is
    unknown (over HTTP it was intake's; from an inbox, the writer's)."""
    return {"claimed_at": None, **data}


def upcast_recovery_unknown(data: dict[str, Any]) -> dict[str, Any]:
    """v1 did not say whether other alerts of the incident still fired."""
    return {"all_recovered": None, **data}


def upcast_follows_nothing(data: dict[str, Any]) -> dict[str, Any]:
    """v1 opened no incident after a restored one."""
    return {"follows": None, **data}


def upcast_problem_per_object(data: dict[str, Any]) -> dict[str, Any]:
    """v1 problems were counted per object: no group."""
    return {"group": None, **data}


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# (type, from_version) -> function producing the data of from_version + 1
UPCASTERS: dict[tuple[EventType, int], Upcaster] = {
    (EventType.ASSIGNMENT_ISSUED, 1): upcast_assignment_issued_v1_v2,
    (EventType.ASSIGNMENT_ISSUED, 2): upcast_assignment_issued_v2_v3,
    (EventType.CHECK_OPENED, 1): upcast_check_opened_v1_v2,
    (EventType.HANDOVER, 1): upcast_local_unknown,
    (EventType.ASSIGNMENT_ESCALATED, 1): upcast_local_unknown,
    (EventType.ASSIGNMENT_ESCALATED, 2): upcast_escalation_update_added,
    (EventType.VENDOR_CASE_OPENED, 1): upcast_local_unknown,
    (EventType.PARTY_ACTION, 1): upcast_update_added,
    (EventType.ACTION_ACCEPTED, 1): upcast_action_claim_unknown,
    (EventType.ACTION_ACCEPTED, 2): upcast_update_added,
    (EventType.ACTION_REFUSED, 1): upcast_action_claim_unknown,
    (EventType.ACTION_REFUSED, 2): upcast_update_added,
    (EventType.ALERT_RESOLVED, 1): upcast_recovery_unknown,
    (EventType.INCIDENT_OPENED, 1): upcast_follows_nothing,
    (EventType.PROBLEM_OPENED, 1): upcast_problem_per_object,
}


P = TypeVar("P", bound=Model)


class UnknownEventType(ValueError):
    """The ``type`` field names no event this reader knows."""


class Envelope(Model):
    """CloudEvents-shaped envelope around one typed payload."""

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    type: EventType
    source: str = Field(description="the service (or endpoint) that wrote the event")
    time: AwareDatetime
    subject: str | None = Field(default=None, description="the incident id, when there is one")
    dataversion: Annotated[int, Field(ge=1)]
    data: SerializeAsAny[Model]

    @property
    def incident_id(self) -> str | None:
        return self.subject

    def to_json(self) -> bytes:
        """The event as JSON bytes, by pydantic's own serializer (the bytes ``orjson`` made of
        ``model_dump(mode="json")``, in half the time: issue 28)."""
        return self.__pydantic_serializer__.to_json(self)

    def data_as(self, kind: builtins.type[P]) -> P:
        """The payload as ``kind``; ``TypeError`` if the event carries another one."""
        data = self.data
        if not isinstance(data, kind):
            raise TypeError(f"data: {self.type.value} carries {builtins.type(data).__name__}")
        return data

    def key(self) -> bytes | None:
        return self.subject.encode() if self.subject else None


EVENT_TYPE: dict[type[Model], EventType] = {payload: kind for kind, payload in PAYLOADS.items()}
"""The event type each current payload class is written as: the payload names its type."""
EXTENDED: dict[type[Model], EventType] = {
    payload: kind
    for (kind, _), payload in EARLIER.items()
    if issubclass(PAYLOADS[kind], payload) and PAYLOADS[kind] is not payload
}
"""Earlier payload classes the current one extends with defaulted fields only."""


def make_event(
    data: Model,
    *,
    source: str,
    time: datetime,
    subject: str | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """The one way to build an event: its type and version follow from the payload's class.
    An earlier version is refused, unless the current one only extends it (a subclass whose
    added fields have defaults: building the earlier is building the current one with them)."""
    event_type = EVENT_TYPE.get(type(data))
    if event_type is None:
        extended = EXTENDED.get(type(data))
        if extended is None:
            raise TypeError(f"data: {type(data).__name__} is not a current event payload")
        event_type = extended
        data = PAYLOADS[event_type].model_validate(data.model_dump())
    return Envelope(
        id=event_id or uuid.uuid4(),
        type=event_type,
        source=source,
        time=time,
        subject=subject,
        dataversion=CURRENT_VERSION[event_type],
        data=data,
    )


_HEAD = TypeAdapter(dict[str, Any])


def parse_event(raw: bytes | str | dict[str, Any]) -> Envelope:
    """Parse and validate an event; upgrade its data to the current version first.

    Raises ``UnknownEventType`` for a type this reader doesn't know and pydantic's
    ``ValidationError`` (which names the field) for a malformed event.
    """
    doc = raw if isinstance(raw, dict) else _HEAD.validate_python(orjson.loads(raw))
    try:
        event_type = EventType(str(doc.get("type")))
    except ValueError:
        raise UnknownEventType(f"type: unknown event type {doc.get('type')!r}") from None
    version = doc.get("dataversion")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"dataversion: expected a positive integer, got {version!r}")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise ValueError("data: expected an object")  # noqa: TRY004 - callers catch ValueError
    current = CURRENT_VERSION[event_type]
    if version > current:
        raise ValueError(f"dataversion: {version} is newer than this reader's {current}")
    while version < current:
        data = UPCASTERS[(event_type, version)](data)
        version += 1
    payload = PAYLOADS[event_type].model_validate(data)
    return Envelope.model_validate({**doc, "dataversion": version, "data": payload})
