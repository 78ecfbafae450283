"""When the customer must next hear from the coordinator: the update cadence (ADR 47).

Rules, fixed here so the reminder, the overdue escalation and the reports agree:

* **Cadence.** The contract's ``sla.update_every`` names, per priority, how often the
  coordinator updates the customer while an incident is open (Baton's defaults: P1 every 30 min,
  P2 every 2 h; a priority with neither has no cadence). The version is the incident's pinned
  one, the priority the one in force (a reclassification changes the cadence from then on).
* **Wall time.** The customer waits in wall-clock time, not in support hours: an update due at
  02:30 is due at 02:30 even under an office calendar, and a paused SLA clock does not pause it
  (a pause is itself news the customer must hear).
* **Due.** The next update is due ``every`` after the last accepted ``update`` action, the
  opening, or the last reject or reopen (recovery restarting), whichever is latest. A reminder
  goes to the coordinator ``sla.update_remind_before`` earlier (at most half the cadence, so a
  short cadence is not reminded before the last update); at the due instant, if no update
  came, the update is overdue: an escalation event.
* **While open.** The cadence runs until the service is restored (the recovery clock stops) and
  again after a reject or reopen restarts recovery; a closed incident is told in its closure.
* **Once each.** The n-th due update (n = updates given before it) has one reminder and one
  overdue, each fired once ever (the timer rows keep "fired"); an update given after it was
  overdue starts the next interval from that update.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.events import (
    ClockKind,
    Envelope,
    UpdateDueV1,
    UpdateOverdueV1,
    make_event,
    stable_id,
)
from sla_clock.decide import SOURCE
from sla_clock.timeline import ClockState, ClockView, IncidentRecord, Rules

UpdateTimerKind = Literal["reminder", "overdue"]


@dataclass(frozen=True, slots=True)
class UpdateTimer:
    """The reminder or the overdue instant of one due update, with what its event will say."""

    incident_id: str
    seq: int  # updates given before this one falls due
    kind: UpdateTimerKind
    due: datetime  # when the timer fires
    update_due: datetime  # when the update is due
    every: timedelta
    last_update_at: datetime | None
    coordinator: str
    priority: str

    @property
    def id(self) -> uuid.UUID:
        return stable_id("update-timer", self.incident_id, self.seq, self.kind)


def update_timers(
    record: IncidentRecord, views: dict[ClockKind, ClockView], rules: Rules
) -> list[UpdateTimer]:
    """The reminder and the overdue of the next update of ``record``'s incident, or none when
    its priority has no cadence or its service is restored."""
    pinned = rules.of(record)
    sla = pinned.contract.sla
    _, priority = record.classification
    every = sla.update_cadence(priority)
    recovery = views.get(ClockKind.RECOVERY)
    if every is None or (recovery is not None and recovery.status == ClockState.STOPPED):
        return []
    last = record.updates[-1] if record.updates else None
    restarts = [f.at for f in record.facts if f.kind in ("reject", "reopen")]
    due = max([record.opened_at, *record.updates, *restarts]) + every
    remind = min(sla.update_remind_before, every / 2)
    coordinator = pinned.view.coordinator

    def timer(kind: UpdateTimerKind, at: datetime) -> UpdateTimer:
        return UpdateTimer(
            incident_id=record.incident_id,
            seq=len(record.updates),
            kind=kind,
            due=at,
            update_due=due,
            every=every,
            last_update_at=last,
            coordinator=coordinator,
            priority=priority,
        )

    return [timer("reminder", due - remind), timer("overdue", due)]


def fire_update(timer: UpdateTimer, now: datetime) -> Envelope:
    """The reminder to the coordinator, or the overdue escalation; ids make each fire once."""
    fields = {
        "coordinator": timer.coordinator,
        "priority": timer.priority,
        "due": timer.update_due,
        "every": timer.every,
        "last_update_at": timer.last_update_at,
        "detected_at": now,
    }
    payload = UpdateDueV1(**fields) if timer.kind == "reminder" else UpdateOverdueV1(**fields)
    return make_event(
        payload,
        source=SOURCE,
        time=now,
        subject=timer.incident_id,
        event_id=stable_id(f"update-{timer.kind}", timer.incident_id, timer.seq),
    )
