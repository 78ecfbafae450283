"""The pieces every event payload shares: stable ids, the frozen base model, the names of layers,
categories, clocks, roles and actions.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import Field

from shared.model import Model as Model  # noqa: PLC0414 (re-exported)

NAMESPACE = uuid.UUID("6f0f7f3e-0c1b-4b5e-9a57-7a0f4b0e2a11")


def stable_id(*parts: object) -> uuid.UUID:
    """A deterministic event id: the same input always yields the same id, so redelivery and
    replay produce events that consumers recognise as already processed."""
    return uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts))


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


class ClockState(StrEnum):
    """Where an SLA clock stands: as sla-clock folds it and reporting's read API shows it."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


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

ActionKindT = TypeVar("ActionKindT", ActionKindV1, ActionKind)
"""The action names of a payload version: ``ActionKindV1`` (v1 payloads) or ``ActionKind``."""
