"""Outside the perimeter, one rule (issue 23): the contract says whether an SLA applies to
incidents on no object of the contract; the assignment, the clocks and the documents agree."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from router.routing import open_route
from sla_clock.decide import apply
from sla_clock.timeline import Rules, fold

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    AssignmentIssuedV3,
    AssignmentRole,
    Category,
    ClockKind,
    Envelope,
    SlaClockStartedV1,
)
from tests import factories

MINIMAL = Path(__file__).resolve().parents[2] / "examples" / "minimal" / "contract.yaml"
T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # a Saturday night


def contract(**sla: object) -> Contract:
    doc = yaml.safe_load(MINIMAL.read_text())
    doc["sla"].update(sla)
    return Contract.model_validate(doc)


def opened(c: Contract) -> Envelope:
    return factories.opened(
        "inc-out",
        T0,
        object_id=None,
        layer=None,
        priority=c.priority("critical", Category.OUTAGE),
        summary="something nobody contracted for is down",
        fingerprint="x",
    )


def test_by_default_the_assignment_carries_the_deadlines_the_clocks_run_to() -> None:
    c = contract()
    event = opened(c)
    record, started = apply(None, event, Rules(ContractView.of(c)), T0)
    assert record is not None
    clocks = {d.clock: d for d in (e.data_as(SlaClockStartedV1) for e in started)}
    assert set(clocks) == {ClockKind.RESPONSE, ClockKind.RECOVERY}
    assert clocks[ClockKind.RESPONSE].calendar == "24x7"

    _, issued = open_route(event, ContractView.of(c), T0)
    assignments = [e.data for e in issued if isinstance(e.data, AssignmentIssuedV3)]
    assert {a.role for a in assignments} == {AssignmentRole.PRIMARY, AssignmentRole.COORDINATOR}
    assignment = assignments[0]
    assert assignment.party == c.coordinator
    assert assignment.deadlines is not None  # before: none, while a 24x7 clock ran
    assert assignment.deadlines.response_due == clocks[ClockKind.RESPONSE].deadline
    assert assignment.deadlines.recovery_due == clocks[ClockKind.RECOVERY].deadline
    assert assignment.deadlines.response_due - T0 == clocks[ClockKind.RESPONSE].target


def test_the_contract_may_say_no_sla_applies_outside_the_perimeter() -> None:
    c = contract(outside_perimeter="none")
    event = opened(c)
    record, started = apply(None, event, Rules(ContractView.of(c)), T0)
    assert record is not None
    assert started == []
    assert fold(record, Rules(ContractView.of(c))) == {}
    _, issued = open_route(event, ContractView.of(c), T0)
    assignments = [e.data for e in issued if isinstance(e.data, AssignmentIssuedV3)]
    assert {a.role for a in assignments} == {AssignmentRole.PRIMARY, AssignmentRole.COORDINATOR}
    assert all(a.deadlines is None for a in assignments)
