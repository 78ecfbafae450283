"""Each SLA clock of an incident as an operator reads it: pure, ``now`` and the view are inputs.

From reporting's ``sla_clocks`` row: the target, the deadline in UTC and on the object's wall
clock, the state — running, paused (with the reason and the party that paused it) or stopped
(met or breached) — and the business time remaining (running: until the deadline, negative once
past it; paused: what was left when it paused) or the margin it stopped with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.contract.view import ContractView
from shared.events import (
    ClockState,
    Model,
    SlaBreachedV1,
    SlaClockPausedV1,
    SlaClockRecomputedV1,
    SlaClockResumedV1,
    SlaClockStartedV1,
    SlaClockStoppedV1,
)


class ClockReading(BaseModel):
    """Durations in JSON are seconds, as everywhere else in the read API."""

    model_config = ConfigDict(frozen=True, ser_json_timedelta="float")

    clock: str
    state: ClockState
    target: timedelta
    target_text: str
    calendar: str
    started_at: datetime
    deadline: datetime | None
    deadline_local: str | None
    paused_reason: str | None = None
    paused_by: str | None = None
    remaining: timedelta | None = None
    """business time left (negative: past the deadline); for a paused clock, at its pause"""
    stopped_at: datetime | None = None
    met: bool | None = None
    margin: timedelta | None = None
    breached_at: datetime | None = None


def clock_reading(
    row: Mapping[str, Any], object_id: str | None, view: ContractView, now: datetime
) -> ClockReading:
    """One ``sla_clocks`` row as ``ClockReading`` at ``now``."""
    deadline: datetime | None = row["deadline"]
    common = {
        "clock": row["clock"],
        "target": row["target"],
        "target_text": view.contract.target_text(row["target"], row["calendar"]),
        "calendar": row["calendar"],
        "started_at": row["started_at"],
        "breached_at": row.get("breached_at"),
    }
    if row.get("stopped_at") is not None:
        return ClockReading(
            **common,
            state=ClockState.STOPPED,
            deadline=deadline,
            deadline_local=view.local(deadline, object_id) if deadline else None,
            stopped_at=row["stopped_at"],
            met=row.get("met"),
            margin=row.get("margin"),
        )
    if row.get("paused_reason"):
        # paused: no deadline until it resumes; what was left when it paused
        return ClockReading(
            **common,
            state=ClockState.PAUSED,
            deadline=None,
            deadline_local=None,
            paused_reason=row["paused_reason"],
            paused_by=row.get("paused_party"),
            remaining=row.get("paused_remaining"),
        )
    remaining = None
    if deadline is not None:
        calendar = _calendar(view, row["calendar"], object_id)
        if calendar is not None:
            remaining = (
                calendar.elapsed(now, deadline)
                if now <= deadline
                else -calendar.elapsed(deadline, now)
            )
    return ClockReading(
        **common,
        state=ClockState.RUNNING,
        deadline=deadline,
        deadline_local=view.local(deadline, object_id) if deadline else None,
        remaining=remaining,
    )


def _calendar(view: ContractView, calendar_id: str, object_id: str | None) -> Any:
    """The clock's calendar under the contract in force (None if it no longer has it)."""
    if view.contract.calendar_spec(calendar_id) is None:
        return None
    return view.clock_calendar(calendar_id, object_id)


ROW_COLUMNS = (
    "started_at",
    "target",
    "deadline",
    "calendar",
    "stopped_at",
    "met",
    "margin",
    "breached_at",
    "paused_for",
    "paused_reason",
    "paused_party",
    "paused_remaining",
)
"""The ``sla_clocks`` columns a clock event writes (besides the key, incident and clock)."""


def project_clock(row: Mapping[str, Any] | None, data: Model) -> dict[str, Any] | None:
    """The ``sla_clocks`` row of one clock after one of sla-clock's events: pure, so the row
    reporting shows is tested against the timers sla-clock fires. A clock reporting never saw
    start stays unknown (None); the deadline is always the last one sla-clock published."""
    if isinstance(data, SlaClockStartedV1):
        base = dict(row) if row is not None else dict.fromkeys(ROW_COLUMNS)
        if row is None:
            base.update(started_at=data.started_at, calendar=data.calendar, paused_for=timedelta(0))
        return {**base, "target": data.target, "deadline": data.deadline}
    if row is None:
        return None
    out = dict(row)
    if isinstance(data, SlaClockStoppedV1):
        out.update(stopped_at=data.stopped_at, met=data.met, margin=data.margin)
    elif isinstance(data, SlaBreachedV1):
        out["breached_at"] = out.get("breached_at") or data.detected_at
    elif isinstance(data, SlaClockPausedV1):
        out.update(
            paused_reason=data.pause_reason,
            paused_party=data.party,
            paused_remaining=data.remaining,
        )
    elif isinstance(data, SlaClockResumedV1):
        out.update(
            paused_reason=None,
            paused_party=None,
            paused_remaining=None,
            paused_for=(out.get("paused_for") or timedelta(0)) + data.paused,
            deadline=data.deadline,
            stopped_at=None,
            met=None,
            margin=None,
        )
    elif isinstance(data, SlaClockRecomputedV1):
        out.update(target=data.target, calendar=data.calendar, paused_for=data.paused)
        if data.deadline is not None:
            out["deadline"] = data.deadline
    return out
