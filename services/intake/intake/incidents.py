"""The incident state machine: pure functions of (state, event, contract, now).

Intake is the one writer of the incidents topic. Each function returns the new state and the
events to publish; event ids are derived from the input event's id, so redelivery or replay of
the same input yields the same output events, which every consumer recognises.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events import (
    AccessActionV1,
    AccessRequestV1,
    Category,
    ClockKind,
    Envelope,
    IncidentStatus,
    Layer,
    Model,
    PartyActionV2,
    PauseAnswerV1,
    make_event,
    stable_id,
)

SOURCE = "intake"


class IncidentState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    object_id: str | None
    layer: Layer | None
    category: Category
    priority: str
    status: IncidentStatus
    opened_at: AwareDatetime
    alerts: dict[str, int] = Field(description="fingerprint -> times seen")
    participants: list[str] = Field(default_factory=list)
    cause: str = ""
    actions_taken: list[str] = Field(default_factory=list)
    recurrence_risk: str = ""
    paused: dict[ClockKind, str] = Field(
        default_factory=dict, description="clock -> the pause reason it is stopped for"
    )
    origin: str | None = Field(None, description="probable origin: the deepest failing object")
    objects: list[str] = Field(default_factory=list, description="objects with firing alerts")
    scope: list[str] = Field(default_factory=list, description="business units affected")
    resolved: list[str] = Field(
        default_factory=list, description="fingerprints monitoring reports recovered"
    )
    last_alert_at: AwareDatetime | None = None
    handed_to: list[Layer] = Field(
        default_factory=list,
        description="layers a diagnosis found the fault in: their owners took the incident over",
    )
    access: dict[str, AccessRequestV1] = Field(
        default_factory=dict, description="access requests by id, as their last step left them"
    )

    @property
    def failing(self) -> list[str]:
        """Objects with firing alerts (rows written before correlation: the incident's object)."""
        if self.objects:
            return list(self.objects)
        return [self.object_id] if self.object_id else []

    @property
    def probable_origin(self) -> str | None:
        return self.origin or self.object_id


Verdict = tuple[int, str]
"""The HTTP answer to a party's command: 202, or 403 (its rights) / 409 (the incident's state)
and why."""


class Refused(Exception):
    """An action the state machine or the party's rights do not allow."""

    def __init__(self, reason: str, *, forbidden: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden

    @property
    def answer(self) -> Verdict:
        """The HTTP answer: 403 (the party's rights) or 409 (the incident's state), and why."""
        return (403 if self.forbidden else 409), self.reason


Answered = tuple[IncidentState, list[Envelope], Verdict]
"""A command decided: the incident's new state, the events that record it, and the verdict."""


class Heard(TypedDict):
    """What every event answering a party's command records first: who spoke, when intake
    took the command (ADR 34: not the command's own time) and which command it was."""

    party: str
    actor: str
    at: datetime
    command_id: uuid.UUID


def heard(command: Envelope, at: datetime) -> Heard:
    said = command.data
    assert isinstance(said, PartyActionV2 | AccessActionV1 | PauseAnswerV1)
    return {"party": said.party, "actor": said.actor, "at": at, "command_id": command.id}


def recorded(
    payload: Model, tag: str, command: Envelope, incident: IncidentState, now: datetime
) -> Envelope:
    """The event a party's ``command`` records on ``incident``: its id derived from the
    command's (``tag`` says which of its events), so a redelivered command publishes the same
    event again, which every consumer recognises."""
    return make_event(
        payload, source=SOURCE, time=now, subject=incident.id, event_id=stable_id(tag, command.id)
    )
