"""The policy is frozen per incident: a newly published contract applies to new incidents; an
open incident's clocks keep the version they started under until it is reclassified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sla_clock.decide import apply
from sla_clock.timeline import Rules, fold

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    AssignmentIssuedV3,
    Category,
    ClockKind,
    EventType,
    Layer,
    SlaClockRecomputedV1,
)
from tests.factories import accepted, minimal_doc, opened, reclassified

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def contract(p1_response: str, version: str) -> Contract:
    doc = minimal_doc()
    doc["version"] = version
    for target in doc["sla"]["targets"]:
        if (target["category"], target["priority"]) == ("outage", "P1"):
            target["response"] = p1_response
    return Contract.model_validate(doc)


def test_a_new_contract_applies_to_new_incidents_and_to_open_ones_only_by_reclassifying() -> None:
    old_rules = Rules(ContractView.of(contract("PT15M", "1")))
    first, _ = apply(None, opened("inc-1", T0), old_rules, T0)
    assert first is not None

    # version 2 is adopted: the service keeps every version it has seen
    new_rules = Rules(ContractView.of(contract("PT25M", "2")), old_rules.known)
    pause = accepted("inc-1", ActionKind.PAUSE, T0 + timedelta(minutes=5), pause_reason="no-access")
    first, _ = apply(first, pause, new_rules, T0 + timedelta(minutes=5))
    assert first is not None
    assert fold(first, new_rules)[ClockKind.RESPONSE].policy.target == timedelta(minutes=15)

    second, _ = apply(None, opened("inc-2", T0), new_rules, T0)
    assert second is not None
    assert fold(second, new_rules)[ClockKind.RESPONSE].policy.target == timedelta(minutes=25)

    # the explicit change: a reclassification applies the version in force, recorded
    reclassify = reclassified(
        "inc-1",
        T0 + timedelta(minutes=6),
        priority="P1",
        reason="contract 2 applied",
        by="apps:lead",
    )
    first, out = apply(first, reclassify, new_rules, T0 + timedelta(minutes=6))
    assert first is not None
    assert fold(first, new_rules)[ClockKind.RESPONSE].policy.target == timedelta(minutes=25)
    recomputed = [e.data for e in out if isinstance(e.data, SlaClockRecomputedV1)]
    assert [(r.clock, r.target) for r in recomputed] == [
        (ClockKind.RESPONSE, timedelta(minutes=25))
    ]


def test_the_router_keeps_the_incidents_deadlines_through_a_handover_under_a_new_version() -> None:
    """An assignment issued after a handover carries the deadlines the incident opened with,
    not those of the contract in force by then; a reclassification re-pins them."""
    from router import details
    from router.routing import on_action, on_reclassified, on_recomputed, open_route

    v1, v2 = contract("15m", "v1"), contract("25m", "v2")
    state, issued = open_route(opened("inc-r", T0), ContractView.of(v1), T0)
    first = [e.data_as(AssignmentIssuedV3) for e in issued if e.type == EventType.ASSIGNMENT_ISSUED]
    assert {a.deadlines and a.deadlines.response_target for a in first} == {timedelta(minutes=15)}
    diagnosis = accepted(
        "inc-r",
        ActionKind.DIAGNOSIS,
        T0 + timedelta(minutes=5),
        layer=Layer.HARDWARE,
        fault_found=True,
    )
    state, events = on_action(state, diagnosis, ContractView.of(v2), T0 + timedelta(minutes=5))
    handed = [
        e.data_as(AssignmentIssuedV3) for e in events if e.type == EventType.ASSIGNMENT_ISSUED
    ]
    assert handed, [e.type for e in events]
    assert {a.deadlines and a.deadlines.response_target for a in handed} == {timedelta(minutes=15)}

    to_p2 = reclassified(
        "inc-r", T0 + timedelta(minutes=6), priority="P2", reason="agreed", by="customer:it.head"
    )
    before = state.deadlines
    state = on_reclassified(state, to_p2, ContractView.of(v2))
    assert (state.priority, state.deadlines) == ("P2", before)  # sla-clock recomputes them
    # sla-clock replays the clocks under v2 and publishes them; the router takes those
    rules = Rules(ContractView.of(v2), Rules(ContractView.of(v1)).known)
    record, _ = apply(None, opened("inc-r", T0), Rules(ContractView.of(v1)), T0)
    record, out = apply(record, to_p2, rules, T0 + timedelta(minutes=6))
    for event in out:
        state, _ = on_recomputed(state, event, ContractView.of(v2), T0 + timedelta(minutes=6))
    pg = v2.object("pg-main")
    assert pg is not None
    expected = details.deadlines(
        ContractView.of(v2), pg, Category.OUTAGE, "P2", opened_at=T0, first_alert_at=T0
    )
    assert expected is not None
    assert state.deadlines is not None
    assert state.deadlines.response_due == expected.response_due
    assert state.deadlines.recovery_due == expected.recovery_due
