"""The incidents topic: alerts, incidents opening and closing, actions accepted or refused, access
requests, pause verdicts.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Generic, Literal

from pydantic import AwareDatetime, Field

from shared.events.base import (
    ActionKind,
    ActionKindT,
    ActionKindV1,
    Category,
    ClockKind,
    Layer,
    Model,
)
from shared.events.commands import AccessStatus, AccessStep, PauseVerdict
from shared.instants import Instant


class IncidentStatus(StrEnum):
    """Where an incident stands: intake's state machine writes it, reporting filters by it."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESTORED = "restored"
    CLOSED = "closed"


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


class _ActionAccepted(Model, Generic[ActionKindT]):
    """An accepted action with its details; its versions differ in the actions they name."""

    action: ActionKindT
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


class IncidentActionAcceptedV1(_ActionAccepted[ActionKindV1]):
    """An action that the incident's state machine accepted, with its details (see
    ``PartyActionV1``); ``at`` is when the party reported it."""


ClaimedAt = Annotated[
    AwareDatetime | None,
    Field(
        description="when the party says it acted (its command's time) when that is not when "
        "intake accepted it: a claim, shown as such, never what a clock folds",
    ),
]


class IncidentActionAcceptedV2(IncidentActionAcceptedV1):
    """An accepted action (see ``PartyActionV1``); ``at`` is when intake accepted it, whatever
    the channel (ADR 34). v1's ``at`` was the command's own ``time``, which a party's inbox
    writer chooses."""

    claimed_at: ClaimedAt = None


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


class _ActionRefused(Model, Generic[ActionKindT]):
    action: ActionKindT
    party: str
    actor: str
    at: AwareDatetime
    command_id: uuid.UUID
    reason: str


class IncidentActionRefusedV1(_ActionRefused[ActionKindV1]):
    pass


RefusedClaimedAt = Annotated[
    AwareDatetime | None,
    Field(description="the command's own time when it is not when intake received it"),
]


class IncidentActionRefusedV2(IncidentActionRefusedV1):
    """A refused action; ``at`` is when intake received it (ADR 34)."""

    claimed_at: RefusedClaimedAt = None


class IncidentActionAcceptedV3(_ActionAccepted[ActionKind]):
    """An accepted action (see ``PartyActionV2``); ``at`` is when intake accepted it, whatever
    the channel (ADR 34). v3 adds the ``update`` action (ADR 47)."""

    claimed_at: ClaimedAt = None


class IncidentActionRefusedV3(_ActionRefused[ActionKind]):
    """A refused action; ``at`` is when intake received it (ADR 34). v3 adds ``update``."""

    claimed_at: RefusedClaimedAt = None


class IncidentClosedV1(Model):
    closed_at: AwareDatetime
    confirmed_by: str
    cause: str
    actions_taken: list[str]
    recurrence_risk: str
    participants: list[str]


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


class IncidentReclassifiedV1(Model):
    """The incident's priority and/or category changed (a recorded override); the SLA clocks
    are recomputed from the incident's event log under the new classification."""

    priority: str
    category: Category
    reason: str
    by: str = Field(description="party:actor who reclassified")
