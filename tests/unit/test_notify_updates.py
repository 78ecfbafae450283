"""The customer's updates and their cadence through the router's notifications (issue 27,
ADR 47), and problem records to their owner (ADR 48): pure, on the example contract."""

from __future__ import annotations

from datetime import timedelta

from router.escalation import on_sla
from router.routing import RouteState, open_route

from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    AssignmentEscalatedV3,
    IncidentActionAcceptedV3,
    ProblemOpenedV1,
    UpdateDueV1,
    UpdateOverdueV1,
    make_event,
    stable_id,
)
from tests import factories
from tests.unit.test_notify import NIGHT, _all, _opened, steppe

M = timedelta(minutes=1)


def _state() -> RouteState:
    state, _ = open_route(_opened(), ContractView.of(steppe()), NIGHT)
    return state


def test_an_update_reaches_the_customer_with_its_text() -> None:
    state = _state()
    update = make_event(
        IncidentActionAcceptedV3(
            action=ActionKind.UPDATE,
            party=steppe().coordinator,
            actor="Duty coordinator",
            at=NIGHT + 20 * M,
            command_id=stable_id("cmd", 1),
            note="Failover to the replica under way; next news by 03:10",
        ),
        source="intake",
        time=NIGHT + 20 * M,
        subject=state.incident_id,
        event_id=stable_id("update", 1),
    )
    sent = _all(state, [update])
    customer = [n for n in sent if steppe().parties[n.party].kind == "customer"]
    assert customer, [n.recipient for n in sent]
    assert all("Failover to the replica under way" in n.body for n in customer)
    assert all("update from the coordinator" in n.subject for n in customer)


def test_the_reminder_and_the_overdue_reach_the_coordinator() -> None:
    state = _state()
    fields = {
        "coordinator": steppe().coordinator,
        "priority": "P1",
        "due": NIGHT + 30 * M,
        "every": 30 * M,
        "last_update_at": None,
    }
    incident = state.incident_id
    reminder = UpdateDueV1(**fields, detected_at=NIGHT + 20 * M)
    due = factories.from_sla_clock(incident, reminder, NIGHT + 20 * M, stable_id("due", 1))
    missed = UpdateOverdueV1(**fields, detected_at=NIGHT + 30 * M)
    late = factories.from_sla_clock(incident, missed, NIGHT + 30 * M, stable_id("late", 1))
    reminded, overdue = _all(state, [due]), _all(state, [late])
    assert reminded
    assert {n.party for n in reminded} == {steppe().coordinator}
    assert "customer update due" in reminded[0].subject
    assert "03:00" in reminded[0].body  # 21:30 UTC + 30 min = 03:00 in Almaty
    assert overdue
    assert {n.party for n in overdue} == {steppe().coordinator}
    assert "customer update overdue" in overdue[0].subject


def test_a_problem_reaches_its_owner() -> None:
    state = _state()
    opened = make_event(
        ProblemOpenedV1(
            problem_id="prb-1",
            origin_object="pg-acc",
            layer=None,
            owner="sysops",
            coordinator=steppe().coordinator,
            incidents=["inc-a", "inc-b", "inc-1"],
            threshold=3,
            within=timedelta(days=30),
            opened_at=NIGHT,
            fix_due=NIGHT + timedelta(days=14),
        ),
        source="router",
        time=NIGHT,
        subject=state.incident_id,
        event_id=stable_id("problem", 1),
    )
    sent = _all(state, [opened])
    assert "sysops" in {n.party for n in sent}
    assert any("root cause" in n.body for n in sent if n.party == "sysops")


def test_a_late_update_reaches_the_level_that_names_it() -> None:
    """Issue 27.1 (ADR 54): the example's level 5 names update_overdue — the coordinator's
    service delivery manager hears that the customer was not updated, with the due time on the
    object's clock; the coordinator is told as before."""
    state = _state()
    late = make_event(
        UpdateOverdueV1(
            coordinator=steppe().coordinator,
            priority="P1",
            due=NIGHT + 30 * M,
            every=30 * M,
            detected_at=NIGHT + 31 * M,
        ),
        source="sla-clock",
        time=NIGHT + 31 * M,
        subject=state.incident_id,
        event_id=stable_id("late", 1),
    )
    state, escalations = on_sla(state, late, ContractView.of(steppe()), NIGHT + 31 * M)
    assert [e.data_as(AssignmentEscalatedV3).level for e in escalations] == [5]
    sent = _all(state, escalations)
    manager = [n for n in sent if n.recipient == "appint/manager"]
    assert manager, [(n.party, n.recipient) for n in sent]
    assert "03:00 (Asia/Almaty)" in manager[0].body  # due 21:30 UTC + 30 min
    assert "was not given" in manager[0].body
