"""The SLA topic: clocks started, paused, resumed, recomputed, stopped; warnings, breaches and the
update cadence.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.events.base import Category, ClockKind, Model


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
