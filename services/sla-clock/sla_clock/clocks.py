"""Clock rules: pure functions of (contract, incident event, now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contract import Contract
from shared.events import (
    ActionKind,
    Clock,
    Envelope,
    EventType,
    IncidentActionAcceptedV1,
    IncidentOpenedV1,
    SlaBreachedV1,
    SlaClockStartedV1,
    SlaClockStoppedV1,
    make_event,
    stable_id,
)

SOURCE = "sla-clock"
DEFAULT_CALENDAR = "24x7"


@dataclass(frozen=True, slots=True)
class RunningClock:
    incident_id: str
    clock: Clock
    deadline: datetime


def start_clocks(opened: Envelope, contract: Contract, now: datetime) -> list[Envelope]:
    """Response and recovery clocks for a new incident, from the contract's SLA matrix."""
    data = opened.data
    assert isinstance(data, IncidentOpenedV1)
    start = data.opened_at
    obj = contract.object(data.object_id) if data.object_id else None
    if obj is not None:
        resolved = contract.sla_for(obj, data.category, start, data.priority)
        if resolved is None:
            return []
        target, calendar = resolved.target, resolved.calendar
        due = {Clock.RESPONSE: resolved.response_due, Clock.RECOVERY: resolved.recovery_due}
    else:  # outside the perimeter: the contract's target for the period, round the clock
        found = contract.sla_target(data.category, data.priority, contract.period(start))
        if found is None:
            return []
        target, calendar = found, DEFAULT_CALENDAR
        due = {Clock.RESPONSE: start + target.response, Clock.RECOVERY: start + target.recovery}
    out = []
    for clock, duration in ((Clock.RESPONSE, target.response), (Clock.RECOVERY, target.recovery)):
        out.append(
            make_event(
                EventType.SLA_CLOCK_STARTED,
                SlaClockStartedV1(
                    clock=clock,
                    started_at=data.opened_at,
                    target=duration,
                    deadline=due[clock],
                    calendar=calendar,
                ),
                source=SOURCE,
                time=now,
                subject=opened.subject,
                event_id=stable_id("clock-started", opened.subject, clock.value),
            )
        )
    return out


STOPS = {ActionKind.ACKNOWLEDGE: Clock.RESPONSE, ActionKind.RESTORED: Clock.RECOVERY}


def stop_clock(accepted: Envelope, running: RunningClock, now: datetime) -> Envelope:
    """The clock an accepted action stops, met or not, with its margin."""
    data = accepted.data
    assert isinstance(data, IncidentActionAcceptedV1)
    margin = running.deadline - data.at
    return make_event(
        EventType.SLA_CLOCK_STOPPED,
        SlaClockStoppedV1(
            clock=running.clock, stopped_at=data.at, met=margin >= timedelta(0), margin=margin
        ),
        source=SOURCE,
        time=now,
        subject=running.incident_id,
        event_id=stable_id("clock-stopped", running.incident_id, running.clock.value),
    )


def breach(running: RunningClock, now: datetime) -> Envelope:
    """A clock whose deadline passed while it ran; the id makes it exactly-once downstream."""
    return make_event(
        EventType.SLA_BREACHED,
        SlaBreachedV1(clock=running.clock, deadline=running.deadline, detected_at=now),
        source=SOURCE,
        time=now,
        subject=running.incident_id,
        event_id=stable_id("breach", running.incident_id, running.clock.value),
    )
