"""One policy per incident (issue 24): the escalation levels, contacts, clocks and deadlines an
incident answers to are those of the version it opened under, in every service, until it is
explicitly reclassified or re-routed; a newly published contract applies to new incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.escalation import on_sla
from router.routing import open_route
from sla_clock.decide import apply, fire, timers
from sla_clock.timeline import Rules, at_instant, fold

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    AssignmentEscalatedV3,
    AssignmentIssuedV3,
    Category,
    ClockKind,
    Envelope,
    Layer,
    SlaClockRecomputedV1,
)
from tests.factories import (
    accepted,
    minimal_doc,
    opened,
    origin_moved,
    payloads,
    primaries,
    reclassified,
)

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def contract(
    version: str, *, level_2_at: float | None = None, p1_response: str | None = None
) -> Contract:
    """The minimal contract published as ``version``; with ``level_2_at``, escalation level 2
    fires at that fraction of the response target (and not on recovery); with ``p1_response``,
    that is a P1 outage's response target."""
    doc = minimal_doc()
    doc["version"] = version
    for level in doc["escalation"]:
        if level["level"] == 2 and level_2_at is not None:
            level["at"] = {"response": level_2_at}
    for target in doc["sla"]["targets"]:
        if (target["category"], target["priority"]) == ("outage", "P1") and p1_response:
            target["response"] = p1_response
    return Contract.model_validate(doc)


def test_level_2_fires_for_an_incident_open_across_a_republish() -> None:
    """Opened under v1 (level 2 at 0.8 of the response target); v2 moves level 2 to 1.2.
    sla-clock, pinned to v1, times 75/80/100 %; the router must escalate level 2 at 80 %."""
    v1, v2 = contract("v1", level_2_at=0.8), contract("v2", level_2_at=1.2)
    event = opened("inc-1", T0)
    record, _ = apply(None, event, Rules(ContractView.of(v1)), T0)
    assert record is not None
    state, _ = open_route(event, ContractView.of(v1), T0)

    rules = Rules(
        ContractView.of(v2), Rules(ContractView.of(v1)).known
    )  # v2 adopted: sla-clock keeps v1 for this incident
    due = timers(record, at_instant(record, rules, T0), rules)
    response = sorted(t.threshold for t in due if t.clock == ClockKind.RESPONSE)
    assert response == [75, 80, 100]

    fired: list[int | None] = []
    for timer in sorted(due, key=lambda t: t.due):
        if timer.clock != ClockKind.RESPONSE:
            continue
        state, out = on_sla(state, fire(timer, timer.due), ContractView.of(v2), timer.due)
        fired += [d.level for d in payloads(out, AssignmentEscalatedV3)]
    assert fired == [2]  # at 80 %, with v1's contacts (level 1 is the assignment itself)
    assert state.policy is not None
    assert state.policy.contract_hash == v1.content_hash


def test_a_reroute_takes_the_policy_in_force() -> None:
    """The explicit change: a re-route re-pins the incident to the version in force."""

    from router.routing import reroute

    v1, v2 = contract("v1", level_2_at=0.8), contract("v2", level_2_at=1.2)
    state, _ = open_route(opened("inc-2", T0), ContractView.of(v1), T0)
    action = accepted(
        "inc-2",
        ActionKind.REROUTE,
        T0 + timedelta(minutes=1),
        party="customer",
        actor="it.head",
        note="v2 applies",
    )
    state, _ = reroute(state, action, ContractView.of(v2), T0 + timedelta(minutes=1))
    assert state.policy is not None
    assert state.policy.contract_hash == v2.content_hash
    assert [lv.at for lv in state.policy.levels if lv.level == 2] == [{ClockKind.RESPONSE: 1.2}]


def test_an_open_incident_answers_to_its_pinned_version_except_for_explicit_changes() -> None:
    """Duty, access and contacts of a handover or escalation come from the incident's version;
    an opening, a reclassification and a re-route take the version in force."""

    from router.routing import contract_for

    v1, v2 = contract("v1", level_2_at=0.8), contract("v2", level_2_at=1.2)
    known = {v1.content_hash: v1, v2.content_hash: v2}
    event = opened("inc-3", T0)
    state, _ = open_route(event, ContractView.of(v1), T0)

    def action(kind: ActionKind) -> Envelope:
        return accepted("inc-3", kind, T0, party="apps", actor="lead")

    moved = origin_moved("inc-3", T0)
    to_p2 = reclassified("inc-3", T0, priority="P2", reason="r", by="a:b")
    assert contract_for(None, event, v2, known) is v2
    assert contract_for(state, moved, v2, known) is v1
    assert contract_for(state, action(ActionKind.DIAGNOSIS), v2, known) is v1
    assert contract_for(state, action(ActionKind.REROUTE), v2, known) is v2
    assert contract_for(state, to_p2, v2, known) is v2
    assert contract_for(state, None, v2, known) is v1  # a tick: backups, failed deliveries
    assert contract_for(state, moved, v2, {}) is v2  # a version never seen: the one in force


def _renamed(earlier: Contract, name: str) -> Contract:
    """``earlier`` as a later version in which every contact of every party has ``name``."""
    doc = earlier.model_dump(mode="json")
    doc["version"] = f"{earlier.version}-renamed"
    for party in doc["parties"].values():
        for contact in party["contacts"].values():
            contact["name"] = name
    return Contract.model_validate(doc)


def _people(view: ContractView, incident: str) -> tuple[set[str], set[str], set[str]]:
    """The names an incident opened under ``view`` is given: its escalation contacts, the
    primary's duty contact and the primary's backups."""
    state, events = open_route(opened(incident, T0), view, T0)
    (primary,) = primaries(events)
    assert primary.on_duty is not None
    assert state.policy is not None
    return (
        {c.name for lv in state.policy.levels for c in lv.contacts},
        {primary.on_duty.name},
        {c.name for c in primary.backup_contacts},
    )


def test_the_answers_of_one_version_are_taken_once_and_never_cross_versions() -> None:
    """A new incident does not resolve its escalation contacts, duty contact and backups
    again (issue 28): they are the version's, taken once per view. A later version names other
    people: its incidents get them, and those of the first version keep the first's."""
    v1 = contract("v1", level_2_at=0.8)
    v2 = _renamed(v1, "Someone else")
    first, _ = open_route(opened("inc-1", T0), ContractView.of(v1), T0)
    second, _ = open_route(opened("inc-2", T0), ContractView.of(v1), T0)
    assert first.policy is not None
    assert second.policy is not None
    assert first.policy.levels == second.policy.levels
    assert first.policy.levels[0] is second.policy.levels[0]  # taken once, shared

    assert _people(ContractView.of(v1), "inc-3") == (
        {"Applications duty engineer", "Service manager"},
        {"OS/DBMS duty engineer"},
        {"OS/DBMS team lead"},
    )
    assert _people(ContractView.of(v2), "inc-4") == ({"Someone else"},) * 3
    assert _people(ContractView.of(v1), "inc-5")[0] == {
        "Applications duty engineer",
        "Service manager",
    }


def test_a_new_contract_applies_to_new_incidents_and_to_open_ones_only_by_reclassifying() -> None:
    old_rules = Rules(ContractView.of(contract("1", p1_response="PT15M")))
    first, _ = apply(None, opened("inc-1", T0), old_rules, T0)
    assert first is not None

    # version 2 is adopted: the service keeps every version it has seen
    new_rules = Rules(ContractView.of(contract("2", p1_response="PT25M")), old_rules.known)
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
    recomputed = payloads(out, SlaClockRecomputedV1)
    assert [(r.clock, r.target) for r in recomputed] == [
        (ClockKind.RESPONSE, timedelta(minutes=25))
    ]


def test_the_router_keeps_the_incidents_deadlines_through_a_handover_under_a_new_version() -> None:
    """An assignment issued after a handover carries the deadlines the incident opened with,
    not those of the contract in force by then; a reclassification re-pins them."""
    from router import details
    from router.routing import on_action, on_reclassified, on_recomputed

    v1, v2 = contract("v1", p1_response="15m"), contract("v2", p1_response="25m")
    state, issued = open_route(opened("inc-r", T0), ContractView.of(v1), T0)
    first = payloads(issued, AssignmentIssuedV3)
    assert {a.deadlines and a.deadlines.response_target for a in first} == {timedelta(minutes=15)}
    diagnosis = accepted(
        "inc-r",
        ActionKind.DIAGNOSIS,
        T0 + timedelta(minutes=5),
        layer=Layer.HARDWARE,
        fault_found=True,
    )
    state, events = on_action(state, diagnosis, ContractView.of(v2), T0 + timedelta(minutes=5))
    handed = payloads(events, AssignmentIssuedV3)
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
