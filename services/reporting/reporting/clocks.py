"""Each SLA clock of an incident as an operator reads it: pure, ``now`` and the view are inputs.

From reporting's ``sla_clocks`` row: the target, the deadline in UTC and on the object's wall
clock, the state — running, paused (with the reason and the party that paused it) or stopped
(met or breached) — and the business time remaining (running: until the deadline, negative once
past it; paused: what was left when it paused) or the margin it stopped with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.contract.view import ContractView

ClockState = Literal["running", "paused", "stopped"]


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
            state="stopped",
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
            state="paused",
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
        state="running",
        deadline=deadline,
        deadline_local=view.local(deadline, object_id) if deadline else None,
        remaining=remaining,
    )


def _calendar(view: ContractView, calendar_id: str, object_id: str | None) -> Any:
    """The clock's calendar under the contract in force (None if it no longer has it)."""
    if view.contract.calendar_spec(calendar_id) is None:
        return None
    return view.clock_calendar(calendar_id, object_id)
