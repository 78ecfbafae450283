"""The assignments topic: who is assigned, checked, escalated to, handed over to, and the vendor
cases opened.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Generic, Literal, TypeVar

from pydantic import AwareDatetime, Field

from shared.events.base import AssignmentRole, Category, ClockKind, Layer, Model, Role


class DutyContact(Model):
    """A named contact of a party and how to reach them, as the router's messages name them."""

    party: str
    contact: str = Field(description="the contact id within the party")
    name: str
    role: str = ""
    channels: dict[str, str] = Field(default_factory=dict)
    calendar: str | None = Field(
        default=None, description="the duty calendar open at the time; None for a backup"
    )


class AccessProcedure(Model):
    """How the engineer gets to the object at the time of the assignment."""

    rule: str
    mode: str
    issued_by: str
    lead_time: timedelta
    ready_by: AwareDatetime
    approval: str = Field(description="what approval the work needs at this hour")
    emergency: str


class Deadlines(Model):
    """The SLA targets that apply to the incident and their wall-clock due times."""

    period: str = Field(description="day, night, weekend or holiday at the start")
    calendar: str
    response_target: timedelta
    recovery_target: timedelta
    response_due: AwareDatetime
    recovery_due: AwareDatetime


RoleT = TypeVar("RoleT", Role, AssignmentRole)


class _Assignment(Model, Generic[RoleT]):
    """What every assignment carries; its versions differ in the ``role`` names (v3 adds the
    first line) and in the details they add."""

    party: str
    role: RoleT
    layer: Layer | None
    object_id: str | None
    priority: str
    category: Category
    contact: str
    summary: str


class AssignmentIssuedV1(_Assignment[Role]):
    """The first shape of an assignment, kept for readers of old events (``upcast`` to v2)."""


class _AssignmentDetails(_Assignment[RoleT], Generic[RoleT]):
    """An assignment with everything its party needs to start (new in v2)."""

    object_name: str = ""
    object_kind: str | None = None
    environment: str | None = None
    versions: dict[str, str] = Field(
        default_factory=dict, description="product, version, edition of the object"
    )
    location: str | None = None
    on_duty: DutyContact | None = None
    backup_contacts: list[DutyContact] = Field(default_factory=list)
    access: AccessProcedure | None = None
    deadlines: Deadlines | None = None
    coordinator: str | None = None
    coordinator_on_duty: DutyContact | None = None
    coordinator_intake: str = ""
    related_alerts: list[str] = Field(default_factory=list, description="alert fingerprints")
    contract_version: str = ""


class AssignmentIssuedV2(_AssignmentDetails[Role]):
    """An assignment with everything its party needs to start (v2: object, duty, access,
    deadlines, coordinator, related alerts and the contract version were added)."""


class LocalTimes(Model):
    """An assignment's instants on the object's wall clock: the same instants as the UTC ones
    beside them, written with the offset of the object's site zone (``timezone``)."""

    timezone: str = Field(description="IANA zone of the object's site, e.g. Asia/Novosibirsk")
    opened_at: AwareDatetime
    response_due: AwareDatetime | None = None
    recovery_due: AwareDatetime | None = None
    access_ready_by: AwareDatetime | None = None


class LocalInstant(Model):
    """One instant on the object's wall clock: the UTC instant beside it, written with the
    offset of the object's site zone (``timezone``); the contract's zone for no object."""

    timezone: str = Field(description="IANA zone of the object's site, e.g. Asia/Novosibirsk")
    at: AwareDatetime


class AssignmentIssuedV3(_AssignmentDetails[AssignmentRole]):
    """An assignment (v3: the first-line role, the incident's opening instant in UTC, and every
    instant also on the object's wall clock with its zone; v2's times are UTC)."""

    opened_at: AwareDatetime | None = Field(None, description="the incident's opening, UTC")
    local: LocalTimes | None = Field(
        None, description="opened_at, the deadlines and access ready_by in the object's zone"
    )


class _Check(Model):
    """What every check carries (a private base: v2 is not a v1 that ``make_event`` could take
    for it)."""

    party: str
    role: Role = Role.CHECK
    layer: Layer
    object_id: str
    object_name: str = ""
    relation: Literal["depends_on", "dependent"]
    origin_object_id: str | None
    origin_layer: Layer | None
    priority: str
    contact: str
    summary: str
    coordinator: str
    on_duty: DutyContact | None = None
    access: AccessProcedure | None = None


class CheckOpenedV1(_Check):
    """The diagnostic route: ``party`` checks ``layer`` (``object_id``) next to the incident's
    origin and reports with a ``diagnosis`` action (fault found / no fault in my layer)."""


class CheckOpenedV2(_Check):
    """A check of a neighbouring layer (v2: when the incident opened, when the check party is
    engaged — a dependent outside its own support hours when they open — and those instants and
    access ready-by again on the checked object's wall clock with its zone)."""

    opened_at: AwareDatetime | None = Field(None, description="the incident's opening, UTC")
    engage_at: AwareDatetime | None = Field(
        None,
        description="when the check party is expected to start, UTC: the checked object's own "
        "support hours open then; None = at once",
    )
    engage_at_local: AwareDatetime | None = Field(
        None, description="engage_at on the checked object's wall clock (local.timezone)"
    )
    local: LocalTimes | None = Field(
        None, description="opened_at and access ready_by in the checked object's zone"
    )


class NotificationOutcomeV1(Model):
    """A message to a person settled: sent over its channel, or failed after every try
    (router/outbox.py, ADR 31). The incident's timeline shows who was reached and who not."""

    notification: uuid.UUID = Field(description="the router.notifications row")
    cause: str = Field(description="what the message was about: the causing event's type")
    recipient_party: str = Field(
        description="the recipient's party (not 'party': being told does not widen what a"
        " party may read of the incident, reporting's VISIBLE_TO)"
    )
    recipient: str = Field(description="party/contact, or party/mailbox for its contact mailbox")
    channel: str = Field(description="the contract's channel kind: email, messenger, sms, ...")
    outcome: Literal["sent", "failed"]
    attempts: int = Field(ge=1)
    error: str = Field("", max_length=300, description="the last failure, as the sender said it")
    at: AwareDatetime


class CheckClosedV1(Model):
    """A check's result, from an accepted diagnosis."""

    party: str
    layer: Layer
    object_id: str | None
    fault_found: bool
    reported_by: str = Field(description="party:actor")
    at: AwareDatetime


class HandoverV1(Model):
    """Primary ownership moved to another layer's party; the coordinator stays."""

    from_party: str
    to_party: str
    from_layer: Layer | None
    to_layer: Layer
    object_id: str | None
    reason: str
    coordinator: str
    at: AwareDatetime


class VendorCaseOpenedV1(Model):
    """The fault is in a vendor's product: ``party`` (the contract's ``opens_cases``) opens the
    vendor case; who collects logs, corresponds and decides on fixes comes with it."""

    party: str
    vendor: str
    vendor_name: str
    vendor_contact: str
    object_id: str
    product: str = ""
    version: str | None = None
    collects_logs: str
    correspondence: str
    decides_fixes: str
    support_contract: str = ""
    reason: str
    coordinator: str
    at: AwareDatetime


class HandoverV2(HandoverV1):
    """A handover (v2: ``local``, its instant on the wall clock of the object taken over)."""

    local: LocalInstant | None = Field(None, description="at, in the object's zone")


class VendorCaseOpenedV2(VendorCaseOpenedV1):
    """A vendor case to open (v2: ``local``, its instant on the faulty object's wall clock)."""

    local: LocalInstant | None = Field(None, description="at, in the object's zone")


class EscalationReason(StrEnum):
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    UNACKNOWLEDGED = "unacknowledged"
    DELIVERY_FAILED = "delivery_failed"
    UPDATE_OVERDUE = "update_overdue"  # a level naming the trigger (ADR 54): escalated v3


# ``EscalationReason`` as escalated v1 and v2 wrote it (no ``update_overdue``), kept for their
# schemas
class EscalationReasonV1(StrEnum):
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    UNACKNOWLEDGED = "unacknowledged"
    DELIVERY_FAILED = "delivery_failed"


EscalationReasonV1.__name__ = EscalationReasonV1.__qualname__ = "EscalationReason"


class AssignmentEscalatedV1(Model):
    """An escalation level of the contract fired (or a party's backup contacts were called
    because its assignment was not acknowledged in time)."""

    reason: EscalationReasonV1
    level: int | None = Field(description="the contract's level; None for backup contacts")
    name: str
    clock: ClockKind | None = None
    threshold: int | None = Field(default=None, description="percent of the target reached")
    party: str | None = Field(default=None, description="the party that did not acknowledge")
    contacts: list[DutyContact] = Field(default_factory=list)
    emergency_approvers: list[DutyContact] = Field(default_factory=list)
    coordinator: str
    detected_at: AwareDatetime


class AssignmentEscalatedV2(AssignmentEscalatedV1):
    """An escalation (v2: ``local``, when it was detected on the incident object's wall
    clock)."""

    local: LocalInstant | None = Field(None, description="detected_at, in the object's zone")


class AssignmentEscalatedV3(Model):
    """An escalation level of the contract fired: a clock reached its threshold, or an event
    the level names happened (``update_overdue``: the customer's update was late, ADR 54); or a
    party's backup contacts were called (``unacknowledged``), or the coordinator is told a push
    failed (``delivery_failed``). v3: ``update_overdue`` and ``update_due``."""

    reason: EscalationReason
    level: int | None = Field(description="the contract's level; None for backup contacts")
    name: str
    clock: ClockKind | None = None
    threshold: int | None = Field(default=None, description="percent of the target reached")
    update_due: AwareDatetime | None = Field(
        default=None, description="update_overdue: when the customer's update was due"
    )
    party: str | None = Field(default=None, description="the party that did not acknowledge")
    contacts: list[DutyContact] = Field(default_factory=list)
    emergency_approvers: list[DutyContact] = Field(default_factory=list)
    coordinator: str
    detected_at: AwareDatetime
    local: LocalInstant | None = Field(None, description="detected_at, in the object's zone")
