"""The incident state machine: pure functions of (state, event, contract, now).

Intake is the one writer of the incidents topic. Each function returns the new state and the
events to publish; event ids are derived from the input event's id, so redelivery or replay of
the same input yields the same output events, which every consumer recognises.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events import (
    AccessRequestV1,
    Category,
    ClockKind,
    Envelope,
    IncidentStatus,
    Layer,
    Model,
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


class Refused(Exception):
    """An action the state machine or the party's rights do not allow."""

    def __init__(self, reason: str, *, forbidden: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden

    @property
    def answer(self) -> tuple[int, str]:
        """The HTTP answer: 403 (the party's rights) or 409 (the incident's state), and why."""
        return (403 if self.forbidden else 409), self.reason


def recorded(
    payload: Model, tag: str, command: Envelope, incident: IncidentState, now: datetime
) -> Envelope:
    """The event a party's ``command`` records on ``incident``: its id derived from the
    command's (``tag`` says which of its events), so a redelivered command publishes the same
    event again, which every consumer recognises."""
    return make_event(
        payload, source=SOURCE, time=now, subject=incident.id, event_id=stable_id(tag, command.id)
    )
