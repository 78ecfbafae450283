"""From incident events to clock events and timers: ids, exactly-once shape, replays."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sla_clock.decide import Timer, apply, fire, timers
from sla_clock.timeline import BREACH, IncidentRecord, Rules, fold

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    Category,
    ClockKind,
    Envelope,
    EventType,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    SlaClockStartedV1,
    SlaOverdueV1,
    make_event,
)
from tests import factories
from tests.unit.test_sla_timeline import RULES, build_contract

OPENED = datetime(2026, 12, 2, 10, tzinfo=UTC)
NOW = OPENED  # the processing instant only stamps envelopes
H = timedelta(hours=1)


def opened() -> Envelope:
    return factories.opened("inc-7", OPENED, event_id=uuid.UUID(int=1))


def action(kind: ActionKind, at: datetime, n: int, **extra: Any) -> Envelope:
    return factories.accepted(
        "inc-7", kind, at, command_id=uuid.UUID(int=100 + n), event_id=uuid.UUID(int=n), **extra
    )


def run(*events: Envelope) -> tuple[IncidentRecord | None, list[Envelope]]:
    record: IncidentRecord | None = None
    out: list[Envelope] = []
    for event in events:
        record, emitted = apply(record, event, RULES, NOW)
        out.extend(emitted)
    return record, out


def story() -> list[Envelope]:
    return [
        opened(),
        action(ActionKind.ACKNOWLEDGE, OPENED + timedelta(minutes=10), 2),
        action(ActionKind.PAUSE, OPENED + H, 3, pause_reason="no-access", evidence=["req 1"]),
        action(ActionKind.RESUME, OPENED + 2 * H, 4, pause_reason="no-access"),
        make_event(
            IncidentReclassifiedV1(
                priority="P2", category=Category.OUTAGE, reason="one user", by="apps:lead"
            ),
            source="intake",
            time=OPENED + 3 * H,
            subject="inc-7",
            event_id=uuid.UUID(int=5),
        ),
        action(ActionKind.RESTORED, OPENED + 4 * H, 6),
    ]


def test_a_story_emits_each_transition_once_with_stable_ids() -> None:
    record, out = run(*story())
    assert record is not None
    assert [(e.type, e.data.clock) for e in out] == [  # type: ignore[attr-defined]
        (EventType.SLA_CLOCK_STARTED, ClockKind.RESPONSE),
        (EventType.SLA_CLOCK_STARTED, ClockKind.RECOVERY),
        (EventType.SLA_CLOCK_STOPPED, ClockKind.RESPONSE),
        (EventType.SLA_CLOCK_PAUSED, ClockKind.RECOVERY),
        (EventType.SLA_CLOCK_RESUMED, ClockKind.RECOVERY),
        (EventType.SLA_CLOCK_RECOMPUTED, ClockKind.RESPONSE),
        (EventType.SLA_CLOCK_RECOMPUTED, ClockKind.RECOVERY),
        (EventType.SLA_CLOCK_STOPPED, ClockKind.RECOVERY),
    ]
    resumed = out[4].data
    assert resumed.paused == H  # type: ignore[attr-defined]
    assert resumed.deadline == OPENED + 5 * H  # type: ignore[attr-defined]
    recomputed = out[6].data
    # P2 recovery 8h: 2h elapsed, 1h paused at 13:00 -> 13:00 + 6h = 19:00
    assert recomputed.deadline == OPENED + 9 * H  # type: ignore[attr-defined]
    assert (recomputed.elapsed, recomputed.paused) == (2 * H, H)  # type: ignore[attr-defined]
    stopped = out[-1].data
    assert (stopped.met, stopped.margin) == (True, 5 * H)  # type: ignore[attr-defined]
    # the same inputs, replayed, give the same ids (redelivery is harmless downstream)
    assert [e.id for e in run(*story())[1]] == [e.id for e in out]


def test_redelivered_events_change_nothing_twice() -> None:
    record, _ = run(opened())
    again, out = apply(record, opened(), RULES, NOW)
    assert (again, out) == (record, [])


def test_actions_before_the_opening_or_without_clock_meaning_are_ignored() -> None:
    note = action(ActionKind.NOTE, OPENED, 9)
    assert apply(None, note, RULES, NOW) == (None, [])
    record, _ = run(opened())
    assert apply(record, note, RULES, NOW) == (record, [])


def test_timers_cover_each_threshold_and_fire_with_stable_ids() -> None:
    record, _ = run(opened())
    assert record is not None
    views = fold(record, RULES)
    due = {(t.clock, t.threshold): t for t in timers(record, views, RULES)}
    # the contract's warnings (50/75/90 %) and, for the response clock, its escalation level 2
    # at 80 %: the router hears of 80 % when it happens, not at the breach
    assert set(due) == {(c, th) for c in ClockKind for th in (50, 75, 90, BREACH)} | {
        (ClockKind.RESPONSE, 80)
    }
    breach = due[(ClockKind.RECOVERY, BREACH)]
    assert breach.due == breach.deadline == OPENED + 4 * H
    warning = due[(ClockKind.RECOVERY, 75)]
    assert (warning.due, warning.deadline, warning.remaining) == (OPENED + 3 * H, OPENED + 4 * H, H)
    first, later = fire(warning, NOW), fire(warning, NOW + H)
    assert first.id == later.id
    assert first.type == EventType.SLA_WARNING
    assert fire(breach, NOW).type == EventType.SLA_BREACHED
    assert len({fire(t, NOW).id for t in due.values()}) == len(due)


def test_a_paused_clock_schedules_nothing_but_keeps_crossed_thresholds() -> None:
    record, _ = run(
        opened(),
        action(ActionKind.PAUSE, OPENED + 3 * H, 3, pause_reason="no-access", evidence=["x"]),
    )
    assert record is not None
    recovery = {
        t.threshold: t
        for t in timers(record, fold(record, RULES), RULES)
        if t.clock == ClockKind.RECOVERY
    }
    # 50 % (2h) and 75 % (3h) were crossed before the pause: they still fire; 90 % and the
    # breach wait for the resume
    assert set(recovery) == {50, 75}
    assert isinstance(recovery[50], Timer)
    assert recovery[50].due == OPENED + 2 * H


def test_stored_records_fold_the_same_after_a_round_trip_through_json() -> None:
    """The record lives in PostgreSQL as JSON between events: a restart folds what was stored."""
    record: IncidentRecord | None = None
    stored: IncidentRecord | None = None
    for event in story():
        record, direct = apply(record, event, RULES, NOW)
        stored, replayed = apply(stored, event, RULES, NOW)
        assert stored is not None
        stored = IncidentRecord.model_validate_json(stored.model_dump_json())
        assert [e.id for e in replayed] == [e.id for e in direct]
        assert record is not None
        assert fold(stored, RULES) == fold(record, RULES)


def test_an_old_first_alert_backdates_the_clocks_only_by_max_backdate() -> None:
    """An alert dated three hours before registration backdates the clocks by max_backdate
    (one hour) only: the opened event keeps the alert's own time, the started event the
    bounded start, so the audit trail shows both."""
    rules = Rules(ContractView.of(build_contract(clock_start="first_alert", max_backdate="1h")))
    event = opened()
    assert isinstance(event.data, IncidentOpenedV1)
    early = event.data.model_copy(update={"first_alert_at": OPENED - 3 * H})
    _, out = apply(None, event.model_copy(update={"data": early}), rules, NOW)
    started = [e.data for e in out if isinstance(e.data, SlaClockStartedV1)]
    assert {s.clock for s in started} == {ClockKind.RESPONSE, ClockKind.RECOVERY}
    for s in started:
        assert s.started_at == OPENED - H


def test_an_escalation_level_past_the_target_fires_once_the_clock_is_that_far_overdue() -> None:
    """A level at 150 % of the recovery target (4 h): its timer falls due 2 h after the breach,
    names the breached deadline, and fires ``SlaOverdueV1`` — the breach itself stays one
    ``SlaBreachedV1`` at 100 %."""
    doc = build_contract().model_dump(mode="json")
    doc["escalation"].append(
        {"level": 3, "name": "Director", "at": {"recovery": 1.5}, "contacts": ["apps/manager"]}
    )
    contract = Contract.model_validate(doc)
    rules = Rules(ContractView.of(contract))
    record, _ = apply(None, opened(), rules, NOW)
    assert record is not None
    due = {(t.clock, t.threshold): t for t in timers(record, fold(record, rules), rules)}
    assert (ClockKind.RESPONSE, 150) not in due  # the level names the recovery clock only
    late = due[(ClockKind.RECOVERY, 150)]
    assert (late.due, late.deadline, late.remaining) == (OPENED + 6 * H, OPENED + 4 * H, -2 * H)
    event = fire(late, OPENED + 6 * H)
    assert event.type == EventType.SLA_OVERDUE
    data = event.data_as(SlaOverdueV1)
    assert (data.threshold, data.deadline, data.overdue) == (150, OPENED + 4 * H, 2 * H)
    assert event.id == fire(late, OPENED + 7 * H).id  # exactly once downstream
    assert fire(due[(ClockKind.RECOVERY, BREACH)], NOW).type == EventType.SLA_BREACHED
    # a clock stopped before it fell that far behind never reports it
    restored = action(ActionKind.RESTORED, OPENED + 5 * H, 9)
    record, _ = apply(record, restored, rules, OPENED + 5 * H)
    assert record is not None
    left = {(t.clock, t.threshold) for t in timers(record, fold(record, rules), rules)}
    assert (ClockKind.RECOVERY, 150) not in left
    assert (ClockKind.RECOVERY, BREACH) in left  # crossed at 4 h: still fires once


def test_a_source_acknowledgement_does_not_stop_the_response_clock() -> None:
    """PagerDuty's ``acknowledge`` is the monitoring source's, not the contractor's (ADR 41)."""
    from shared.events import SourceAcknowledgedV1

    record, _ = run(opened())
    acknowledged = make_event(
        SourceAcknowledgedV1(fingerprint="f", source="pagerduty", acknowledged_at=OPENED + H),
        source="intake",
        time=OPENED + H,
        subject="inc-7",
        event_id=uuid.UUID(int=50),
    )
    assert record is not None
    after, out = apply(record, acknowledged, RULES, NOW)
    assert out == []
    assert after == record
