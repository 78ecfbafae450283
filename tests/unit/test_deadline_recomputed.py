"""Deadlines have one value at every moment, and everyone is told when it changes (issue 23):
any change of the calendar, policy, origin or priority under which a clock runs makes sla-clock
publish the new deadline and why; the router re-issues it to the owner."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from router import notify
from router.routing import on_recomputed, open_route
from sla_clock.decide import apply, timers
from sla_clock.timeline import BREACH, Rules, at_instant

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    AssignmentIssuedV3,
    Category,
    ClockKind,
    Envelope,
    Layer,
    SlaClockRecomputedV1,
)
from tests import factories

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "intake" / "contract.yaml"


def _on_object_calendars() -> Contract:
    """The fixture with the P3 targets on the object's calendar: the workstations keep office
    hours, the database runs round the clock (the issue's hub and its critical server)."""
    doc = yaml.safe_load(FIXTURE.read_text())
    for target in doc["sla"]["targets"]:
        target.pop("calendar", None)
    for obj in doc["objects"]:
        obj["calendar"] = "office" if obj["id"] == "ws-accounting" else "24x7"
    return Contract.model_validate(doc)


CONTRACT = _on_object_calendars()
ALMATY = ZoneInfo("Asia/Almaty")
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=ALMATY)
ALL_KINDS = frozenset({"email", "messenger", "sms", "pager", "phone"})


def opened(at: datetime) -> Envelope:
    """A P3 degradation of the accounting workstations (hardware) opens at ``at``."""
    return factories.opened_on(
        CONTRACT,
        "ws-accounting",
        at,
        incident="inc-sat",
        category=Category.DEGRADATION,
        priority="P3",
        summary="workstations slow",
        fingerprint="ws",
    )


def moved(at: datetime) -> Envelope:
    return factories.origin_moved(
        "inc-sat",
        at,
        from_object="ws-accounting",
        from_layer=Layer.HARDWARE,
        to_object="pg-main",
        to_layer=Layer.DBMS,
        fingerprint="pg",
        objects=("ws-accounting", "pg-main"),
        scope=("Accounting",),
    )


def test_the_origin_moving_to_a_24x7_object_publishes_the_deadline_sla_clock_enforces() -> None:
    rules = Rules(ContractView.of(CONTRACT))
    record, started = apply(None, opened(SATURDAY), rules, SATURDAY)
    assert record is not None
    first = factories.started_deadlines(started)
    assert first[ClockKind.RESPONSE] > SATURDAY + timedelta(days=1)  # the office opens Monday

    at = SATURDAY + timedelta(minutes=20)
    record, out = apply(record, moved(at), rules, at)
    assert record is not None
    recomputed = {e.data.clock: e.data for e in out if isinstance(e.data, SlaClockRecomputedV1)}
    assert set(recomputed) == {ClockKind.RESPONSE, ClockKind.RECOVERY}
    breach = {
        t.clock: t.due
        for t in timers(record, at_instant(record, rules, at), rules)
        if t.threshold == BREACH
    }
    for clock, data in recomputed.items():
        assert data.deadline == breach[clock]  # what is published is what fires
        assert data.calendar == "24x7"
        assert data.reason.startswith("origin_moved")
    response = recomputed[ClockKind.RESPONSE].deadline
    assert response is not None
    assert response < SATURDAY + timedelta(days=1)

    # the router re-issues the deadlines to the owner
    state, _ = open_route(opened(SATURDAY), ContractView.of(CONTRACT), SATURDAY)
    primary: list[AssignmentIssuedV3] = []
    for event in out:
        if isinstance(event.data, SlaClockRecomputedV1):
            state, issued = on_recomputed(state, event, ContractView.of(CONTRACT), at)
            primary += factories.primaries(issued)
    assert state.deadlines is not None
    assert state.deadlines.response_due == recomputed[ClockKind.RESPONSE].deadline
    assert state.deadlines.recovery_due == recomputed[ClockKind.RECOVERY].deadline
    assert primary
    assert primary[-1].party == state.primary
    assert primary[-1].deadlines == state.deadlines


def test_one_recomputation_tells_each_person_once_with_both_deadlines() -> None:
    """The two clock events of one recomputation re-issue the assignment twice on Kafka; in the
    router's batch the people are told once, by the second, which carries both deadlines."""
    rules = Rules(ContractView.of(CONTRACT))
    record, _ = apply(None, opened(SATURDAY), rules, SATURDAY)
    at = SATURDAY + timedelta(minutes=20)
    _, out = apply(record, moved(at), rules, at)
    state, _ = open_route(opened(SATURDAY), ContractView.of(CONTRACT), SATURDAY)
    told: list[notify.Notice] = []
    for event in out:
        if isinstance(event.data, SlaClockRecomputedV1):
            state, issued = on_recomputed(state, event, ContractView.of(CONTRACT), at)
            for e in issued:
                told += notify.notices(
                    e, state, ContractView.of(CONTRACT), senders=ALL_KINDS, links=notify.Links(None)
                )
    people = Counter((n.recipient, n.channel) for n in told)
    assert people
    assert set(people.values()) == {2}  # two re-issues: everyone twice
    once = notify.last_reissue_only(told)
    assert Counter((n.recipient, n.channel) for n in once) == Counter(dict.fromkeys(people, 1))
    assert {n.event_id for n in once} == {told[-1].event_id}  # the last, with both deadlines
