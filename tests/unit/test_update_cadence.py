"""The update cadence in contract time (issue 27, ADR 47): sla_clock/cadence.py over the pure
core. The contract is the unit tests' one (``test_sla_timeline``): no ``update_every``, so P1 has
Baton's default (every 30 min, reminded 10 min before)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sla_clock.cadence import UpdateTimer, fire_update, update_timers
from sla_clock.decide import apply
from sla_clock.timeline import IncidentRecord, fold

from shared.events import (
    ActionKind,
    Category,
    Envelope,
    IncidentActionAcceptedV3,
    IncidentReclassifiedV1,
    UpdateDueV1,
    UpdateOverdueV1,
    make_event,
)
from tests import factories
from tests.unit.test_sla_timeline import RULES

OPENED = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def opened() -> Envelope:
    return factories.opened("inc-9", OPENED)


def accepted(kind: ActionKind, at: datetime, n: int, **extra: Any) -> Envelope:
    return make_event(
        IncidentActionAcceptedV3.model_validate(
            {
                "action": kind,
                "party": "apps",
                "actor": "duty",
                "at": at,
                "command_id": uuid.UUID(int=100 + n),
                **extra,
            }
        ),
        source="intake",
        time=at,
        subject="inc-9",
        event_id=uuid.UUID(int=n),
    )


def run(*events: Envelope) -> IncidentRecord:
    record = None
    for event in events:
        record, _ = apply(record, event, RULES, event.time)
    assert record is not None
    return record


def due(record: IncidentRecord) -> list[UpdateTimer]:
    return update_timers(record, fold(record, RULES), RULES)


def test_a_p1_without_update_reminds_before_and_is_overdue_at_30_minutes() -> None:
    reminder, overdue = due(run(opened()))
    assert (reminder.kind, reminder.due) == ("reminder", OPENED + 20 * M)
    assert (overdue.kind, overdue.due, overdue.update_due) == (
        "overdue",
        OPENED + 30 * M,
        OPENED + 30 * M,
    )
    assert overdue.coordinator == RULES.view.coordinator
    told = fire_update(reminder, OPENED + 20 * M).data_as(UpdateDueV1)
    assert (told.due, told.every, told.last_update_at) == (OPENED + 30 * M, 30 * M, None)
    late = fire_update(overdue, OPENED + 30 * M)
    assert late.data_as(UpdateOverdueV1).coordinator == RULES.view.coordinator
    assert late.id == fire_update(overdue, OPENED + 31 * M).id  # fired once, whenever refired


def test_an_update_stops_the_overdue_and_the_next_one_is_due_from_it() -> None:
    update = accepted(ActionKind.UPDATE, OPENED + 25 * M, 1, note="failover under way")
    record = run(opened(), update)
    assert record.updates == [OPENED + 25 * M]
    reminder, overdue = due(record)
    assert overdue.seq == 1  # a new row: the first overdue's row is deleted unfired
    assert (reminder.due, overdue.due) == (OPENED + 45 * M, OPENED + 55 * M)
    assert overdue.id != due(run(opened()))[1].id


def test_no_cadence_once_restored_and_again_after_a_reject() -> None:
    ack = accepted(ActionKind.ACKNOWLEDGE, OPENED + 5 * M, 1)
    restored = accepted(ActionKind.RESTORED, OPENED + 20 * M, 2)
    assert due(run(opened(), ack, restored)) == []
    reject = accepted(ActionKind.REJECT, OPENED + 40 * M, 3)
    # recovery restarts at the reject: the customer is due news from then on, not at once
    assert [t.due for t in due(run(opened(), ack, restored, reject))] == [
        OPENED + 60 * M,
        OPENED + 70 * M,
    ]


def test_a_priority_without_cadence_has_no_update_timers() -> None:
    lowered = make_event(
        IncidentReclassifiedV1(priority="P3", category=Category.OUTAGE, reason="scope", by="x"),
        source="intake",
        time=OPENED + 5 * M,
        subject="inc-9",
        event_id=uuid.UUID(int=7),
    )
    assert due(run(opened(), lowered)) == []
