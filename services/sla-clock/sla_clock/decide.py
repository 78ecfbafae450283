"""From incident events to clock events and timers: pure functions of (record, event, now).

``apply`` turns one incident event into the incident's new record and the clock events it
causes (started, paused, resumed, stopped, recomputed), comparing the fold before and after.
``timers`` lists, for every clock and threshold, when it falls (or fell) due; ``fire`` builds the
warning or breach a due timer emits. Every event id follows from its input (``stable_id``), so a
replay or a refire after a crash repeats the same ids, and consumers drop the repeat.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.contract.view import ContractView, handover_layer
from shared.events import (
    ActionKind,
    ClockKind,
    Envelope,
    EventType,
    IncidentActionAcceptedV3,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    Model,
    OriginMovedV1,
    SlaBreachedV1,
    SlaClockPausedV1,
    SlaClockRecomputedV1,
    SlaClockResumedV1,
    SlaClockStartedV1,
    SlaClockStoppedV1,
    SlaOverdueV1,
    SlaWarningV1,
    make_event,
    stable_id,
)
from sla_clock.timeline import (
    BREACH,
    ClockState,
    ClockView,
    Fact,
    FactKind,
    IncidentRecord,
    Rules,
    fold,
    share,
)

SOURCE = "sla-clock"
ORIGIN_MOVED = "origin_moved"

_FACTS: dict[ActionKind, FactKind] = {
    ActionKind.PAUSE: "pause",
    ActionKind.RESUME: "resume",
    ActionKind.ACKNOWLEDGE: "acknowledge",
    ActionKind.RESTORED: "restored",
    ActionKind.REJECT: "reject",
    ActionKind.REOPEN: "reopen",
}


def opened_record(event: Envelope, view: ContractView) -> IncidentRecord:
    """The record of an incident opening under ``view``'s version (pinned by its hash)."""
    data = event.data_as(IncidentOpenedV1)
    return IncidentRecord(
        incident_id=event.subject or "",
        object_id=data.object_id,
        layer=data.layer,
        party=view.primary_for(data.layer),
        owners=view.owners(),
        contract_hash=view.content_hash,
        category=data.category,
        priority=data.priority,
        opened_at=data.opened_at,
        first_alert_at=data.first_alert_at,
        opened_event=event.id,
    )


def fact_of(event: Envelope) -> Fact | None:
    """The clock fact an incident event carries, or None for events that move no clock."""
    data = event.data
    if isinstance(data, IncidentActionAcceptedV3):
        kind = _FACTS.get(data.action)
        if kind is None:
            return None
        return Fact(
            kind=kind,
            at=data.at,
            event_id=event.id,
            clock=data.clock,
            reason=data.pause_reason,
            party=data.party,
            actor=data.actor,
            evidence=data.evidence,
        )
    if isinstance(data, IncidentReclassifiedV1):
        return Fact(
            kind="reclassified",
            at=event.time,
            event_id=event.id,
            reason=data.reason,
            party=data.by,
            category=data.category,
            priority=data.priority,
        )
    return None


def apply(
    record: IncidentRecord | None, event: Envelope, rules: Rules, now: datetime
) -> tuple[IncidentRecord | None, list[Envelope]]:
    """The incident's record after ``event`` and the clock events it causes."""
    if event.type == EventType.INCIDENT_OPENED:
        if record is not None:
            return record, []
        after = opened_record(event, rules.view)
        return after, transition(after, {}, fold(after, rules), fact=None, cause=event.id, now=now)
    if record is None:
        return record, []
    moved = told_customer(owned(record, event, rules.view), event)
    fact = fact_of(event)
    if fact is None:
        if moved.policy_object == record.policy_object:
            return moved, []
        # the clocks follow the probable origin's calendar and windows: a new origin can move
        # every deadline, and whoever is measured against them is told (issue 23)
        data = event.data_as(OriginMovedV1)
        out = transition(
            moved,
            fold(record, rules),
            fold(moved, rules),
            change=Change(at=data.moved_at, reason=f"{ORIGIN_MOVED}: {data.to_object}"),
            fact=None,
            cause=event.id,
            now=now,
        )
        return moved, out
    record = moved
    after = record.with_fact(fact)
    if fact.kind == "reclassified":
        # a reclassification is the explicit change: the version in force applies from now,
        # replayed from the start like the classification itself
        after = after.model_copy(update={"contract_hash": rules.view.content_hash})
    out = transition(
        after,
        fold(record, rules),
        fold(after, rules),
        change=Change(at=fact.at, reason=fact.reason or "")
        if fact.kind == "reclassified"
        else None,
        fact=fact,
        cause=event.id,
        now=now,
    )
    return after, out


def told_customer(record: IncidentRecord, event: Envelope) -> IncidentRecord:
    """``record`` with the coordinator's update to the customer, if ``event`` is one: it moves
    no clock, only when the next update is due (``cadence.py``, ADR 47)."""
    data = event.data
    if isinstance(data, IncidentActionAcceptedV3) and data.action == ActionKind.UPDATE:
        return record.model_copy(update={"updates": [*record.updates, data.at]})
    return record


def owned(record: IncidentRecord, event: Envelope, view: ContractView) -> IncidentRecord:
    """``record`` with the party that owns it after ``event``: the same handover rule as the
    router's (origin moved or fault found in another layer: that layer's frozen owner; an
    explicit re-route: the owners of the contract in force)."""
    data = event.data
    layer = record.primary_layer or record.layer
    owners = record.owners
    if isinstance(data, IncidentActionAcceptedV3) and data.action == ActionKind.REROUTE:
        owners = view.owners()
        # the router's rule: an object the version in force moved to another layer goes there
        obj = view.object(record.policy_object)
        layer = obj.layer if obj is not None and layer is not None else layer
        party = view.owner_of(layer, owners) if layer else None
        return record.model_copy(
            update={"owners": owners, "party": party or record.party, "primary_layer": layer}
        )
    if isinstance(data, OriginMovedV1):
        record = record.model_copy(update={"origin": data.to_object})
    moved = handover_layer(data, layer)
    if moved is None:
        return record
    party = view.owner_of(moved, owners)
    if party is None:
        return record
    return record.model_copy(update={"party": party, "primary_layer": moved})


def _event(data: Model, record: IncidentRecord, event_id: uuid.UUID, now: datetime) -> Envelope:
    return make_event(data, source=SOURCE, time=now, subject=record.incident_id, event_id=event_id)


@dataclass(frozen=True, slots=True)
class Change:
    """A change of what the clocks run under (classification, origin): when, and why."""

    at: datetime
    reason: str


def transition(
    record: IncidentRecord,
    before: dict[ClockKind, ClockView],
    after: dict[ClockKind, ClockView],
    *,
    fact: Fact | None,
    cause: uuid.UUID,
    now: datetime,
    change: Change | None = None,
) -> list[Envelope]:
    """Clock events for the difference between two folds of one incident; ``change`` (a
    reclassification, a moved origin) publishes every clock whose policy or deadline it moved."""
    out: list[Envelope] = []
    for clock, new in after.items():
        old = before.get(clock)
        if old is None:
            out.append(_started(record, clock, new, now))
            continue
        if change is not None and (old.policy != new.policy or old.deadline != new.deadline):
            out.append(_recomputed(record, clock, new, change=change, cause=cause, now=now))
        if new.status == ClockState.STOPPED and new.stops > old.stops:
            out.append(_stopped(record, clock, new, now))
        elif len(new.pauses) > len(old.pauses) and new.status == ClockState.PAUSED:
            out.append(_paused(record, clock, new, cause, now))
        elif new.status == ClockState.RUNNING and old.status != ClockState.RUNNING:
            out.append(_resumed(record, clock, old, new, fact=fact, cause=cause, now=now))
    return out


def _started(record: IncidentRecord, clock: ClockKind, new: ClockView, now: datetime) -> Envelope:
    started = SlaClockStartedV1(
        clock=clock,
        started_at=new.started_at,
        target=new.policy.target,
        deadline=new.deadline or new.started_at,
        calendar=new.policy.calendar,
    )
    return _event(started, record, stable_id("clock-started", record.incident_id, clock.value), now)


def _recomputed(
    record: IncidentRecord,
    clock: ClockKind,
    new: ClockView,
    *,
    change: Change,
    cause: uuid.UUID,
    now: datetime,
) -> Envelope:
    recomputed = SlaClockRecomputedV1(
        clock=clock,
        recomputed_at=change.at,
        priority=new.policy.priority,
        category=new.policy.category,
        target=new.policy.target,
        calendar=new.policy.calendar,
        elapsed=new.elapsed,
        paused=new.paused,
        deadline=new.deadline,
        reason=change.reason,
    )
    return _event(recomputed, record, stable_id("clock-recomputed", cause, clock.value), now)


def _stopped(record: IncidentRecord, clock: ClockKind, new: ClockView, now: datetime) -> Envelope:
    stopped = SlaClockStoppedV1(
        clock=clock, stopped_at=new.stopped_at or new.mark, met=new.met, margin=new.margin
    )
    inc = record.incident_id
    event_id = (
        stable_id("clock-stopped", inc, clock.value)
        if new.stops == 1
        else stable_id("clock-stopped", inc, clock.value, new.stops)
    )
    return _event(stopped, record, event_id, now)


def _paused(
    record: IncidentRecord, clock: ClockKind, new: ClockView, cause: uuid.UUID, now: datetime
) -> Envelope:
    pause = new.pauses[-1]
    paused = SlaClockPausedV1(
        clock=clock,
        paused_at=pause.start,
        pause_reason=pause.reason,
        party=pause.party,
        actor=pause.actor,
        evidence=list(pause.evidence),
        remaining=new.policy.target - new.elapsed,
    )
    return _event(paused, record, stable_id("clock-paused", cause, clock.value), now)


def _resumed(
    record: IncidentRecord,
    clock: ClockKind,
    old: ClockView,
    new: ClockView,
    *,
    fact: Fact | None,
    cause: uuid.UUID,
    now: datetime,
) -> Envelope:
    resumed = old.status == ClockState.PAUSED
    ended = [p for p in new.pauses if p.end == new.mark] if resumed else []
    data = SlaClockResumedV1(
        clock=clock,
        resumed_at=new.mark,
        cause=cause_of_restart(resumed, fact),
        pause_reason=fact.reason if resumed and fact else None,
        paused=sum((p.excluded for p in ended), timedelta(0)),
        deadline=new.deadline or new.mark,
        remaining=new.policy.target - new.elapsed,
    )
    return _event(data, record, stable_id("clock-resumed", cause, clock.value), now)


def cause_of_restart(resumed: bool, fact: Fact | None) -> Literal["resume", "reject", "reopen"]:
    if resumed:
        return "resume"
    return "reject" if fact is not None and fact.kind == "reject" else "reopen"


# --------------------------------------------------------------------------- timers


@dataclass(frozen=True, slots=True)
class Timer:
    """One threshold of one clock and when it falls due, with what its event will say."""

    incident_id: str
    clock: ClockKind
    threshold: int
    due: datetime
    deadline: datetime
    remaining: timedelta
    party: str
    priority: str
    category: str

    @property
    def id(self) -> uuid.UUID:
        return stable_id("sla-timer", self.incident_id, self.clock.value, self.threshold)


def timers(record: IncidentRecord, views: dict[ClockKind, ClockView], rules: Rules) -> list[Timer]:
    """Every threshold that has a due instant now: crossed ones (fire if not fired yet) and the
    projected ones of running clocks. Paused and stopped clocks project nothing."""
    rules = rules.of(record)
    out = []
    for clock, view in views.items():
        calendar = rules.view.clock_calendar(view.policy.calendar, record.policy_object)
        target = view.policy.target
        breached_at = None  # the breach comes before the levels past it: their deadline
        for threshold in sorted((*view.thresholds, BREACH)):
            due = view.due(threshold, calendar)
            if due is None:
                continue
            left = target - share(target, threshold)  # negative past the breach
            if threshold == BREACH:
                breached_at = due
            deadline = calendar.add(due, left) if threshold < BREACH else breached_at or due
            out.append(
                Timer(
                    incident_id=record.incident_id,
                    clock=clock,
                    threshold=threshold,
                    due=due,
                    deadline=deadline,
                    remaining=left,
                    party=record.party,
                    priority=view.policy.priority,
                    category=view.policy.category.value,
                )
            )
    return out


def fire(timer: Timer, now: datetime) -> Envelope:
    """The warning, breach or overdue level a due timer emits; its id makes it exactly-once
    downstream."""
    if timer.threshold > BREACH:
        return make_event(
            SlaOverdueV1(
                clock=timer.clock,
                threshold=timer.threshold,
                deadline=timer.deadline,
                overdue=-timer.remaining,
                detected_at=now,
            ),
            source=SOURCE,
            time=now,
            subject=timer.incident_id,
            event_id=stable_id("overdue", timer.incident_id, timer.clock.value, timer.threshold),
        )
    if timer.threshold == BREACH:
        return make_event(
            SlaBreachedV1(clock=timer.clock, deadline=timer.deadline, detected_at=now),
            source=SOURCE,
            time=now,
            subject=timer.incident_id,
            event_id=stable_id("breach", timer.incident_id, timer.clock.value),
        )
    return make_event(
        SlaWarningV1(
            clock=timer.clock,
            threshold=timer.threshold,
            deadline=timer.deadline,
            remaining=timer.remaining,
            detected_at=now,
        ),
        source=SOURCE,
        time=now,
        subject=timer.incident_id,
        event_id=stable_id("warning", timer.incident_id, timer.clock.value, timer.threshold),
    )
