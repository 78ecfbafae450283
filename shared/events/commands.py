"""Commands: what a party asks of an incident (actions, access steps, pause answers), on the party
inboxes and the commands topic.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Generic

from pydantic import AwareDatetime, Field

from shared.events.base import (
    ActionKind,
    ActionKindT,
    ActionKindV1,
    Actor,
    Category,
    ClockKind,
    Layer,
    Model,
)


class _PartyAction(Model, Generic[ActionKindT]):
    """A party's report on an incident; its versions differ in the actions they name."""

    action: ActionKindT
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


# What a party action's fields mean, as the models' descriptions say it (their schemas keep the text
# to the letter: v2 adds the ``update`` action's sentence).
_PARTY_ACTION_DOC = """A party's report on an incident: arrives on the commands topic or over HTTP.

Which fields matter depends on ``action``: ``diagnosis`` names ``layer`` and ``fault_found``
(False = "no fault in my layer"); ``pause``/``resume`` name ``clock`` (None = every clock the
reason pauses) and ``pause_reason`` (a contract pause reason id), with ``evidence``;
``restored`` carries ``cause``, ``actions_taken`` and ``recurrence_risk``; ``reclassify``
(the coordinator or the customer) names a new ``priority`` and/or ``category`` and its
reason in ``note``; ``reroute`` (the coordinator) applies the contract now in force to the
incident's layer owners, with its reason in ``note``"""


class PartyActionV1(_PartyAction[ActionKindV1]):
    __doc__ = _PARTY_ACTION_DOC + "."


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


class PartyActionV2(_PartyAction[ActionKind]):
    __doc__ = (
        _PARTY_ACTION_DOC
        + """; ``update`` (the coordinator) is news
for the customer, its text in ``note`` (v2; ADR 47)."""
    )
