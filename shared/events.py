"""Baton's events: one envelope, versioned typed payloads, step-by-step upcasting.

The envelope follows CloudEvents' attribute names (``id``, ``source``, ``type``, ``time``,
``subject``, ``specversion``) in structured mode: the whole event is the JSON body, and the Kafka
message key is the entity's partition key (the incident id for incident events). ``dataversion``
is the schema version of ``data``; readers upgrade old versions with the registered upcasters
before validating, so a rolling upgrade never breaks a consumer.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializeAsAny, TypeAdapter

from shared.instants import Instant

NAMESPACE = uuid.UUID("6f0f7f3e-0c1b-4b5e-9a57-7a0f4b0e2a11")


def stable_id(*parts: object) -> uuid.UUID:
    """A deterministic event id: the same input always yields the same id, so redelivery and
    replay produce events that consumers recognise as already processed."""
    return uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts))


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Who, in person, did something: it lands in closure reports, timelines and terminals, so it is a
# name or an address — letters, digits, spaces and . @ ' ( ) + - _ — never markup or control
# characters.
Actor = Annotated[
    str,
    Field(
        min_length=1,
        max_length=120,
        pattern=r"^[\w .@'’()+-]+$",
        description="the person acting: a name or an address (letters, digits, . @ ' ( ) + - _)",
    ),
]


class Layer(StrEnum):
    HARDWARE = "hardware"
    OS = "os"
    DBMS = "dbms"
    APPLICATION = "application"
    INTEGRATION = "integration"
    NETWORK = "network"


class Category(StrEnum):
    OUTAGE = "outage"
    DEGRADATION = "degradation"
    REQUEST = "request"
    INTEGRATION_ISSUE = "integration_issue"


class ClockKind(StrEnum):
    RESPONSE = "response"
    RECOVERY = "recovery"


# A party's part in an incident as ``baton.assignment.issued`` v1-v2 and
# ``baton.assignment.check_opened`` carry it (a docstring would change their fixed schemas).
class Role(StrEnum):
    PRIMARY = "primary"
    COORDINATOR = "coordinator"
    CHECK = "check"


class AssignmentRole(StrEnum):
    """A party's part in an incident as ``baton.assignment.issued`` v3 carries it: ``Role``'s
    parts and the first line (the desk that accepts tickets, when it is not the coordinator;
    ADR 25). Its members compare equal to ``Role``'s of the same value."""

    PRIMARY = "primary"
    COORDINATOR = "coordinator"
    CHECK = "check"
    FIRST_LINE = "first_line"


class ActionKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DIAGNOSIS = "diagnosis"
    PAUSE = "pause"
    RESUME = "resume"
    RESTORED = "restored"
    CONFIRM = "confirm"
    REJECT = "reject"
    REOPEN = "reopen"
    RECLASSIFY = "reclassify"
    REROUTE = "reroute"
    NOTE = "note"
    UPDATE = "update"  # the coordinator's news for the customer (ADR 47): party_action v2,
    # action_accepted and action_refused v3


# ``ActionKind`` as the v1 payloads wrote it (no ``update``), kept for their schemas (a docstring
# would change them)
class ActionKindV1(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DIAGNOSIS = "diagnosis"
    PAUSE = "pause"
    RESUME = "resume"
    RESTORED = "restored"
    CONFIRM = "confirm"
    REJECT = "reject"
    REOPEN = "reopen"
    RECLASSIFY = "reclassify"
    REROUTE = "reroute"
    NOTE = "note"


# the v1 schemas name their enum ActionKind: the checked-in snapshots stay what v1 writers wrote
ActionKindV1.__name__ = ActionKindV1.__qualname__ = "ActionKind"


# --------------------------------------------------------------------------- payloads


class Alert(Model):
    """One monitoring signal, normalised from whatever format it arrived in."""

    source: str = Field(description="receiver that took it in, e.g. 'alertmanager'")
    fingerprint: str
    status: Literal["firing", "resolved"]
    object_id: str | None = Field(description="contract object it matched; None = outside")
    layer: Layer | None = None
    severity: str = "unknown"
    category_hint: Category | None = None
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: Instant
    ends_at: Instant | None = None
    links: list[str] = Field(default_factory=list)


class AlertReceivedV1(Model):
    alert: Alert
    received_at: AwareDatetime


class IncidentOpenedV1(Model):
    object_id: str | None
    layer: Layer | None
    category: Category
    priority: str
    summary: str
    opened_at: AwareDatetime
    first_alert_at: AwareDatetime
    fingerprints: list[str]
    outside_perimeter: bool = False


class IncidentOpenedV2(IncidentOpenedV1):
    """An incident opened; ``follows`` links it to a restored incident (awaiting the customer's
    confirmation) whose objects failed again: such an incident absorbs no new failure (ADR 36)."""

    follows: str | None = Field(
        None,
        description="the restored, unconfirmed incident whose objects failed again (None: none)",
    )


class AlertAttachedV1(Model):
    fingerprint: str
    status: Literal["firing", "resolved"]
    count: int
    last_seen: AwareDatetime


class PartyActionV1(Model):
    """A party's report on an incident: arrives on the commands topic or over HTTP.

    Which fields matter depends on ``action``: ``diagnosis`` names ``layer`` and ``fault_found``
    (False = "no fault in my layer"); ``pause``/``resume`` name ``clock`` (None = every clock the
    reason pauses) and ``pause_reason`` (a contract pause reason id), with ``evidence``;
    ``restored`` carries ``cause``, ``actions_taken`` and ``recurrence_risk``; ``reclassify``
    (the coordinator or the customer) names a new ``priority`` and/or ``category`` and its
    reason in ``note``; ``reroute`` (the coordinator) applies the contract now in force to the
    incident's layer owners, with its reason in ``note``.
    """

    action: ActionKindV1
    party: str
    actor: Actor
    note: str = ""
    cause: str = ""
    actions_taken: list[str] = Field(default_factory=list)
    recurrence_risk: str = ""
    layer: Layer | None = None
    fault_found: bool | None = None
    clock: ClockKind | None = None
    pause_reason: str | None = None
    evidence: list[str] = Field(default_factory=list)
    priority: str | None = Field(None, description="reclassify: the new priority")
    category: Category | None = Field(None, description="reclassify: the new category")


class IncidentActionAcceptedV1(Model):
    """An action that the incident's state machine accepted, with its details (see
    ``PartyActionV1``); ``at`` is when the party reported it."""

    action: ActionKindV1
    party: str
    actor: str
    at: AwareDatetime
    command_id: uuid.UUID
    note: str = ""
    layer: Layer | None = None
    fault_found: bool | None = None
    clock: ClockKind | None = None
    pause_reason: str | None = None
    evidence: list[str] = Field(default_factory=list)


class IncidentActionAcceptedV2(IncidentActionAcceptedV1):
    """An accepted action (see ``PartyActionV1``); ``at`` is when intake accepted it, whatever
    the channel (ADR 34). v1's ``at`` was the command's own ``time``, which a party's inbox
    writer chooses."""

    claimed_at: AwareDatetime | None = Field(
        None,
        description="when the party says it acted (its command's time) when that is not when "
        "intake accepted it: a claim, shown as such, never what a clock folds",
    )


class AccessStep(StrEnum):
    """A step of an access request (ADR 49): asked by the incident's primary or a check party,
    granted or denied by the rule's issuer, approved or rejected by its approver; or the rule's
    emergency procedure invoked without prior approval."""

    REQUEST = "request_access"
    GRANT = "grant"
    DENY = "deny"
    APPROVE = "approve"
    REJECT = "reject"
    EMERGENCY = "emergency_access"


class AccessActionV1(Model):
    """A party's step on an access request: arrives on the commands topic or over HTTP.

    ``request_access`` and ``emergency_access`` name the ``rule`` (an access rule of an object
    of the incident; ``object_id`` picks the object when several share it), ``purpose`` and
    ``duration``; ``grant``, ``deny``, ``approve`` and ``reject`` name the ``request_id``, and
    ``deny``/``reject``/``emergency_access`` their ``reason``."""

    action: AccessStep
    party: str
    actor: Actor
    request_id: str | None = Field(None, max_length=64)
    rule: str | None = Field(None, max_length=200)
    object_id: str | None = Field(None, max_length=200)
    purpose: str = Field("", max_length=2000, description="what the access is for")
    duration: timedelta | None = Field(None, description="for how long it is needed")
    reason: str = Field("", max_length=2000)


class AccessStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the issuer (and the approver where one is needed)
    APPROVED = "approved"  # approved, waiting for the issuer
    GRANTED = "granted"
    DENIED = "denied"
    REJECTED = "rejected"
    EMERGENCY = "emergency"  # the rule's emergency procedure, invoked without prior approval


class AccessRequestV1(Model):
    """An access request as it stands after one step (``step`` at ``at`` by ``by``): the whole
    record, so a reader needs no other event to know it."""

    request_id: str
    step: AccessStep
    status: AccessStatus
    at: AwareDatetime = Field(description="when this step was reported")
    by: str = Field(description="party:actor of this step")
    command_id: uuid.UUID
    rule: str
    object_id: str
    mode: str
    requested_by: str = Field(description="party:actor who asked")
    requested_at: AwareDatetime
    purpose: str = ""
    duration: timedelta | None = None
    issued_by: str = Field(description="the rule's issuer: party/contact")
    lead_time: timedelta
    due_at: AwareDatetime = Field(description="requested_at + lead_time")
    after_hours: bool
    needs_approval: bool
    approver: str | None = Field(None, description="party/contact, when approval is needed")
    approved_at: AwareDatetime | None = None
    approved_by: str | None = None
    granted_at: AwareDatetime | None = None
    granted_by: str | None = None
    closed_at: AwareDatetime | None = Field(None, description="denied or rejected at")
    closed_by: str | None = None
    reason: str = ""
    emergency: str = Field("", description="the rule's emergency procedure, when invoked")
    tell: list[str] = Field(
        default_factory=list, description="contacts (party/contact) this step is for"
    )

    @property
    def waiting_for(self) -> Literal["approval", "grant"] | None:
        """What the request still waits for: the approval first, then the grant."""
        if self.status in (AccessStatus.DENIED, AccessStatus.REJECTED, AccessStatus.EMERGENCY):
            return None
        if self.needs_approval and self.approved_at is None:
            return "approval"
        return "grant" if self.granted_at is None else None


class PauseVerdict(StrEnum):
    CONFIRM = "confirm"
    DISPUTE = "dispute"


class PauseAnswerV1(Model):
    """The customer's answer to a clock pause whose reason the contract says it confirms
    (``confirmed_by``): the pause is named by its clock, reason and the instant it began (as
    ``baton.sla.clock_paused`` says); a dispute records why in ``note`` (ADR 50)."""

    verdict: PauseVerdict
    party: str
    actor: Actor
    clock: ClockKind
    pause_reason: str = Field(max_length=200)
    paused_at: AwareDatetime
    note: str = Field("", max_length=2000)


class PauseAnsweredV1(Model):
    """A pause confirmed or disputed by the party its reason names (see ``PauseAnswerV1``)."""

    verdict: PauseVerdict
    party: str
    actor: str
    clock: ClockKind
    pause_reason: str
    paused_at: AwareDatetime
    at: AwareDatetime = Field(description="when intake accepted the answer")
    command_id: uuid.UUID
    note: str = ""


class PauseAnswerRefusedV1(Model):
    verdict: PauseVerdict
    party: str
    actor: str
    at: AwareDatetime
    command_id: uuid.UUID
    reason: str


class AccessRefusedV1(Model):
    """An access step the request's state or the party's rights do not allow, with why."""

    action: AccessStep
    party: str
    actor: str
    at: AwareDatetime
    command_id: uuid.UUID
    request_id: str | None = None
    reason: str


class IncidentActionRefusedV1(Model):
    action: ActionKindV1
    party: str
    actor: str
    at: AwareDatetime
    command_id: uuid.UUID
    reason: str


class PartyActionV2(Model):
    """A party's report on an incident: arrives on the commands topic or over HTTP.

    Which fields matter depends on ``action``: ``diagnosis`` names ``layer`` and ``fault_found``
    (False = "no fault in my layer"); ``pause``/``resume`` name ``clock`` (None = every clock the
    reason pauses) and ``pause_reason`` (a contract pause reason id), with ``evidence``;
    ``restored`` carries ``cause``, ``actions_taken`` and ``recurrence_risk``; ``reclassify``
    (the coordinator or the customer) names a new ``priority`` and/or ``category`` and its
    reason in ``note``; ``reroute`` (the coordinator) applies the contract now in force to the
    incident's layer owners, with its reason in ``note``; ``update`` (the coordinator) is news
    for the customer, its text in ``note`` (v2; ADR 47).
    """

    action: ActionKind
    party: str
    actor: Actor
    note: str = ""
    cause: str = ""
    actions_taken: list[str] = Field(default_factory=list)
    recurrence_risk: str = ""
    layer: Layer | None = None
    fault_found: bool | None = None
    clock: ClockKind | None = None
    pause_reason: str | None = None
    evidence: list[str] = Field(default_factory=list)
    priority: str | None = Field(None, description="reclassify: the new priority")
    category: Category | None = Field(None, description="reclassify: the new category")


class IncidentActionRefusedV2(IncidentActionRefusedV1):
    """A refused action; ``at`` is when intake received it (ADR 34)."""

    claimed_at: AwareDatetime | None = Field(
        None, description="the command's own time when it is not when intake received it"
    )


class IncidentActionAcceptedV3(Model):
    """An accepted action (see ``PartyActionV2``); ``at`` is when intake accepted it, whatever
    the channel (ADR 34). v3 adds the ``update`` action (ADR 47)."""

    action: ActionKind
    party: str
    actor: str
    at: AwareDatetime
    command_id: uuid.UUID
    note: str = ""
    layer: Layer | None = None
    fault_found: bool | None = None
    clock: ClockKind | None = None
    pause_reason: str | None = None
    evidence: list[str] = Field(default_factory=list)
    claimed_at: AwareDatetime | None = Field(
        None,
        description="when the party says it acted (its command's time) when that is not when "
        "intake accepted it: a claim, shown as such, never what a clock folds",
    )


class IncidentActionRefusedV3(Model):
    """A refused action; ``at`` is when intake received it (ADR 34). v3 adds ``update``."""

    action: ActionKind
    party: str
    actor: str
    at: AwareDatetime
    command_id: uuid.UUID
    reason: str
    claimed_at: AwareDatetime | None = Field(
        None, description="the command's own time when it is not when intake received it"
    )


class IncidentClosedV1(Model):
    closed_at: AwareDatetime
    confirmed_by: str
    cause: str
    actions_taken: list[str]
    recurrence_risk: str
    participants: list[str]


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


class AssignmentIssuedV1(Model):
    """The first shape of an assignment, kept for readers of old events (``upcast`` to v2)."""

    party: str
    role: Role
    layer: Layer | None
    object_id: str | None
    priority: str
    category: Category
    contact: str
    summary: str


class AssignmentIssuedV2(Model):
    """An assignment with everything its party needs to start (v2: object, duty, access,
    deadlines, coordinator, related alerts and the contract version were added)."""

    party: str
    role: Role
    layer: Layer | None
    object_id: str | None
    priority: str
    category: Category
    contact: str
    summary: str
    # -- everything a contractor needs to start (new in v2)
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


class AssignmentIssuedV3(Model):
    """An assignment (v3: the first-line role, the incident's opening instant in UTC, and every
    instant also on the object's wall clock with its zone; v2's times are UTC)."""

    party: str
    role: AssignmentRole
    layer: Layer | None
    object_id: str | None
    priority: str
    category: Category
    contact: str
    summary: str
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
    # -- new in v3
    opened_at: AwareDatetime | None = Field(None, description="the incident's opening, UTC")
    local: LocalTimes | None = Field(
        None, description="opened_at, the deadlines and access ready_by in the object's zone"
    )


class SlaClockStartedV1(Model):
    clock: ClockKind
    started_at: AwareDatetime
    target: timedelta
    deadline: AwareDatetime
    calendar: str


class SlaClockStoppedV1(Model):
    clock: ClockKind
    stopped_at: AwareDatetime
    met: bool
    margin: timedelta


class SlaWarningV1(Model):
    """A running clock crossed one of the contract's warning thresholds (percent of target)."""

    clock: ClockKind
    threshold: int = Field(ge=1, le=99)
    deadline: AwareDatetime
    remaining: timedelta
    detected_at: AwareDatetime


class SlaBreachedV1(Model):
    clock: ClockKind
    deadline: AwareDatetime
    detected_at: AwareDatetime


class SlaOverdueV1(Model):
    """A running clock went past its target by an escalation level's share: ``threshold``
    percent of the target, above 100 (the breach at 100 is ``SlaBreachedV1``)."""

    clock: ClockKind
    threshold: int = Field(gt=100)
    deadline: AwareDatetime = Field(description="the deadline that was breached")
    overdue: timedelta = Field(description="how far past the deadline, in the clock's own time")
    detected_at: AwareDatetime


class UpdateDueV1(Model):
    """The customer's next update from the coordinator is due soon (the contract's
    ``sla.update_every`` for the incident's priority): a reminder to the coordinator (ADR 47)."""

    coordinator: str
    priority: str
    due: AwareDatetime = Field(description="when the update is due")
    every: timedelta = Field(description="the cadence the contract sets for the priority")
    last_update_at: AwareDatetime | None = Field(None, description="None: none yet")
    detected_at: AwareDatetime


class UpdateOverdueV1(Model):
    """No update reached the customer by its due instant: an escalation event (ADR 47)."""

    coordinator: str
    priority: str
    due: AwareDatetime
    every: timedelta
    last_update_at: AwareDatetime | None = Field(None, description="None: none yet")
    detected_at: AwareDatetime


class ChangeRecordedV1(Model):
    """A change beside the incidents (ADR 46): a PagerDuty change event, a CI/CD or change
    management tool's ``POST /v1/changes``, or a contract publication — on one object, or on
    every object (``object_id`` None: a contract publication, a change no matcher placed)."""

    change_id: uuid.UUID = Field(description="stable per change: a repeat is the same change")
    object_id: str | None = Field(None, description="the contract object changed")
    at: AwareDatetime = Field(description="when the change was made")
    summary: str = Field(min_length=1, max_length=1024)
    link: str | None = Field(None, max_length=2048)
    source: str = Field(description="pagerduty, a change source's name, or contract")
    by: str | None = Field(None, max_length=200, description="who made it, as the source says")


class ProblemOpenedV1(Model):
    """Incidents keep recurring on one origin: a problem record opens, owned by the origin
    layer's primary, told to it and to the coordinator (ADR 48). Subject: the incident that
    made the count."""

    problem_id: str
    origin_object: str
    layer: Layer | None
    owner: str = Field(description="the primary party of the origin's layer")
    coordinator: str
    incidents: list[str] = Field(description="the recurring incidents, oldest first")
    threshold: int = Field(description="the contract's problems.incidents")
    within: timedelta = Field(description="the contract's problems.within")
    opened_at: AwareDatetime
    fix_due: AwareDatetime = Field(description="when the fix is due (problems.fix_due)")


class ProblemOpenedV2(ProblemOpenedV1):
    """A problem record opened (v2: ``group``, when the contract counts incidents per group of
    objects and ``origin_object`` is the group's object that made the count; ADR 55)."""

    group: str | None = Field(
        None, description="the contract's group counted as one origin (problems.group_by)"
    )


class ProblemLinkedV1(Model):
    """One more incident on the origin of an open problem record: linked to it (ADR 48)."""

    problem_id: str
    origin_object: str
    owner: str
    coordinator: str
    incident_id: str
    incidents: int = Field(description="how many incidents the problem links now")
    linked_at: AwareDatetime


class ProblemCloseRequestedV1(Model):
    """A party asks to close a problem record (``POST /v1/problems/{id}/close`` at intake,
    its token checked there): the router decides (ADR 48)."""

    problem_id: str = Field(min_length=1, max_length=64)
    party: str
    actor: Actor
    cause: str = Field(max_length=4000, description="the root cause found")
    changed: list[Annotated[str, Field(max_length=1000)]] = Field(
        max_length=50, description="what was changed so that it does not recur"
    )
    at: AwareDatetime


class ProblemClosedV1(Model):
    """A problem record closed, with its cause and what was changed (ADR 48)."""

    problem_id: str
    origin_object: str
    owner: str
    coordinator: str
    closed_by: str = Field(description="party:actor")
    cause: str
    changed: list[str]
    incidents: list[str]
    closed_at: AwareDatetime


class ProblemCloseRefusedV1(Model):
    """A close the router refused, with the reason (ADR 48)."""

    problem_id: str
    owner: str
    coordinator: str
    party: str
    actor: str
    reason: str
    at: AwareDatetime


class ContractPublishedV1(Model):
    """A linted contract version, published whole to the compacted contract topic."""

    contract_id: str
    version: str
    content_hash: str = Field(description="sha256 of the contract's canonical JSON")
    document: dict[str, Any] = Field(description="the contract, as validated JSON")


class DeadLetterV1(Model):
    reason: str
    origin: str = Field(description="where the payload came from: an endpoint or a topic")
    payload: str = Field(description="the refused payload, as text (UTF-8, replaced if not)")
    headers: dict[str, str] = Field(default_factory=dict)


class AlertResolvedV1(Model):
    """Monitoring reports recovery of an alert attached to the incident. It does not close the
    incident: only the customer's confirmation does."""

    fingerprint: str
    object_id: str | None
    count: int
    resolved_at: AwareDatetime


class AlertResolvedV2(AlertResolvedV1):
    """An alert's recovery, and whether it was the last of the incident's alerts still firing:
    monitoring reports the incident recovered only then (issue 25)."""

    all_recovered: bool | None = Field(
        None,
        description="every alert of the incident is resolved now (None: not said, v1)",
    )


class SourceAcknowledgedV1(Model):
    """The monitoring source says someone acknowledged an alert of the incident there
    (PagerDuty Events v2 ``acknowledge``). A fact on the incident's timeline only: it is not
    the contractor's acknowledgement, so no clock stops and no state changes (ADR 41)."""

    fingerprint: str
    source: str = Field(description="the receiver it came through, e.g. 'pagerduty'")
    client: str | None = Field(None, description="the sending client's name, as it gave it")
    acknowledged_at: AwareDatetime


class AlertCorrelatedV1(Model):
    """An alert on another object, connected to the incident's objects in the contract's
    dependency graph, joined the incident; ``origin_*`` and ``scope`` are as of now."""

    fingerprint: str
    object_id: str
    layer: Layer | None
    status: Literal["firing", "resolved"]
    summary: str
    origin_object: str | None
    origin_layer: Layer | None
    objects: list[str] = Field(description="every object with an alert in the incident")
    scope: list[str] = Field(description="business units affected, from the dependents")
    received_at: AwareDatetime


class OriginMovedV1(Model):
    """A later alert moved the incident's probable origin (the deepest failing dependency) to
    another object, usually in another layer: the router hands the incident over."""

    from_object: str | None
    from_layer: Layer | None
    to_object: str
    to_layer: Layer | None
    fingerprint: str = Field(description="the alert that moved it")
    objects: list[str]
    scope: list[str]
    moved_at: AwareDatetime


class CheckOpenedV1(Model):
    """The diagnostic route: ``party`` checks ``layer`` (``object_id``) next to the incident's
    origin and reports with a ``diagnosis`` action (fault found / no fault in my layer)."""

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


class CheckOpenedV2(Model):
    """A check of a neighbouring layer (v2: when the incident opened, when the check party is
    engaged — a dependent outside its own support hours when they open — and those instants and
    access ready-by again on the checked object's wall clock with its zone)."""

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
    # -- new in v2
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


class IncidentReclassifiedV1(Model):
    """The incident's priority and/or category changed (a recorded override); the SLA clocks
    are recomputed from the incident's event log under the new classification."""

    priority: str
    category: Category
    reason: str
    by: str = Field(description="party:actor who reclassified")


class SlaClockPausedV1(Model):
    """A clock stopped counting for a contract pause reason."""

    clock: ClockKind
    paused_at: AwareDatetime
    pause_reason: str
    party: str
    actor: str
    evidence: list[str] = Field(default_factory=list)
    remaining: timedelta = Field(description="business time left of the target")


class SlaClockResumedV1(Model):
    """A clock counts again: after a pause (``cause='resume'``), after the customer rejected a
    restoration (``'reject'``: the time since the false restoration counts) or after a reopen
    (``'reopen'``: counting resumes at the reopen)."""

    clock: ClockKind
    resumed_at: AwareDatetime
    cause: Literal["resume", "reject", "reopen"]
    pause_reason: str | None = None
    paused: timedelta = Field(description="business time the ended pause excluded")
    deadline: AwareDatetime
    remaining: timedelta


class SlaClockRecomputedV1(Model):
    """The clock was recomputed from the event log under a new priority/category; elapsed and
    paused business time are kept (pauses stay excluded)."""

    clock: ClockKind
    recomputed_at: AwareDatetime
    priority: str
    category: Category
    target: timedelta
    calendar: str
    elapsed: timedelta
    paused: timedelta
    deadline: AwareDatetime | None = Field(description="None while paused or stopped")
    reason: str


class CheckinPingV1(Model):
    """A run of an expected event reports (healthchecks.io's ping protocol over Kafka): on the
    checkins topic, key = the check-in key. ``kind`` ``success`` (or ``exit_status`` 0),
    ``start``, ``fail`` (or a non-zero ``exit_status``), ``log`` (kept, changes nothing)."""

    key: str = Field(pattern=r"^[A-Za-z0-9_-]{8,128}$", description="the check-in key")
    kind: Literal["success", "start", "fail", "log"] = "success"
    exit_status: int | None = Field(None, ge=0, le=255)
    at: AwareDatetime = Field(description="when the run reported (later than now is now)")
    body: str = Field("", max_length=10_000, description="the run's log")


# --------------------------------------------------------------------------- envelope


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
    EventType.ALERT_RECEIVED: AlertReceivedV1,
    EventType.INCIDENT_OPENED: IncidentOpenedV2,
    EventType.ALERT_ATTACHED: AlertAttachedV1,
    EventType.PARTY_ACTION: PartyActionV2,
    EventType.ACTION_ACCEPTED: IncidentActionAcceptedV3,
    EventType.ACTION_REFUSED: IncidentActionRefusedV3,
    EventType.INCIDENT_CLOSED: IncidentClosedV1,
    EventType.ASSIGNMENT_ISSUED: AssignmentIssuedV3,
    EventType.SLA_CLOCK_STARTED: SlaClockStartedV1,
    EventType.SLA_CLOCK_STOPPED: SlaClockStoppedV1,
    EventType.SLA_WARNING: SlaWarningV1,
    EventType.SLA_BREACHED: SlaBreachedV1,
    EventType.CONTRACT_PUBLISHED: ContractPublishedV1,
    EventType.DEAD_LETTER: DeadLetterV1,
    EventType.ALERT_RESOLVED: AlertResolvedV2,
    EventType.ALERT_CORRELATED: AlertCorrelatedV1,
    EventType.ORIGIN_MOVED: OriginMovedV1,
    EventType.CHECK_OPENED: CheckOpenedV2,
    EventType.CHECK_CLOSED: CheckClosedV1,
    EventType.HANDOVER: HandoverV2,
    EventType.ASSIGNMENT_ESCALATED: AssignmentEscalatedV3,
    EventType.VENDOR_CASE_OPENED: VendorCaseOpenedV2,
    EventType.INCIDENT_RECLASSIFIED: IncidentReclassifiedV1,
    EventType.SLA_CLOCK_PAUSED: SlaClockPausedV1,
    EventType.SLA_CLOCK_RESUMED: SlaClockResumedV1,
    EventType.SLA_CLOCK_RECOMPUTED: SlaClockRecomputedV1,
    EventType.SLA_OVERDUE: SlaOverdueV1,
    EventType.CHECKIN_PING: CheckinPingV1,
    EventType.UPDATE_DUE: UpdateDueV1,
    EventType.UPDATE_OVERDUE: UpdateOverdueV1,
    EventType.CHANGE_RECORDED: ChangeRecordedV1,
    EventType.PROBLEM_OPENED: ProblemOpenedV2,
    EventType.PROBLEM_LINKED: ProblemLinkedV1,
    EventType.PROBLEM_CLOSED: ProblemClosedV1,
    EventType.PROBLEM_CLOSE_REFUSED: ProblemCloseRefusedV1,
    EventType.PROBLEM_CLOSE_REQUESTED: ProblemCloseRequestedV1,
    EventType.SOURCE_ACKNOWLEDGED: SourceAcknowledgedV1,
    EventType.NOTIFICATION: NotificationOutcomeV1,
    EventType.ACCESS_ACTION: AccessActionV1,
    EventType.ACCESS_REQUEST: AccessRequestV1,
    EventType.ACCESS_REFUSED: AccessRefusedV1,
    EventType.PAUSE_ANSWER: PauseAnswerV1,
    EventType.PAUSE_ANSWERED: PauseAnsweredV1,
    EventType.PAUSE_ANSWER_REFUSED: PauseAnswerRefusedV1,
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
    (EventType.ASSIGNMENT_ISSUED, 1): AssignmentIssuedV1,
    (EventType.ASSIGNMENT_ISSUED, 2): AssignmentIssuedV2,
    (EventType.CHECK_OPENED, 1): CheckOpenedV1,
    (EventType.HANDOVER, 1): HandoverV1,
    (EventType.ASSIGNMENT_ESCALATED, 1): AssignmentEscalatedV1,
    (EventType.ASSIGNMENT_ESCALATED, 2): AssignmentEscalatedV2,
    (EventType.VENDOR_CASE_OPENED, 1): VendorCaseOpenedV1,
    (EventType.PARTY_ACTION, 1): PartyActionV1,
    (EventType.ACTION_ACCEPTED, 1): IncidentActionAcceptedV1,
    (EventType.ACTION_ACCEPTED, 2): IncidentActionAcceptedV2,
    (EventType.ACTION_REFUSED, 1): IncidentActionRefusedV1,
    (EventType.ACTION_REFUSED, 2): IncidentActionRefusedV2,
    (EventType.ALERT_RESOLVED, 1): AlertResolvedV1,
    (EventType.INCIDENT_OPENED, 1): IncidentOpenedV1,
    (EventType.PROBLEM_OPENED, 1): ProblemOpenedV1,
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
        return orjson.dumps(self.model_dump(mode="json"))

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
