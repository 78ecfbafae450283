"""Routing as data: table tests from tests/fixtures/routing/*.yaml, and the diagnostic route,
handover, escalation and backup rules as pure functions of (contract, history, now)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter
from router.delivery import Delivery
from router.escalation import on_ack_overdue, on_sla, recipients
from router.routing import RouteState, on_action, on_closed, open_route

from shared.contract import Contract, load_contract
from shared.contract.model import Duration
from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    AssignmentEscalatedV3,
    AssignmentIssuedV3,
    AssignmentRole,
    Category,
    CheckClosedV1,
    CheckOpenedV2,
    ClockKind,
    Envelope,
    EscalationReason,
    EventType,
    HandoverV2,
    Layer,
    UpdateOverdueV1,
    VendorCaseOpenedV2,
    make_event,
    parse_event,
    stable_id,
)
from shared.settings import Settings
from tests import factories
from tests.factories import opened_on

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "routing"
DURATION: TypeAdapter[timedelta] = TypeAdapter(Duration)
NIGHT = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)  # 02:30 Friday in Almaty


@cache
def contract_at(path: str) -> Contract:
    return load_contract(ROOT / path)


def _cases() -> list[Any]:
    out: list[Any] = []
    for file in sorted(FIXTURES.glob("*.yaml")):
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
        out.extend(
            pytest.param(doc["contract"], case, id=f"{file.stem}: {case['name']}")
            for case in doc["cases"]
        )
    return out


def opened_event(
    contract: Contract,
    object_id: str | None,
    at: datetime,
    category: Category = Category.OUTAGE,
    incident: str = "inc-1",
) -> Envelope:
    return opened_on(
        contract,
        object_id,
        at,
        incident=incident,
        category=category,
        summary="it is down",
        event_id=stable_id("open", incident),
    )


@pytest.mark.parametrize(("contract_path", "case"), _cases())
def test_routing_table(contract_path: str, case: dict[str, Any]) -> None:
    contract = contract_at(contract_path)
    at = datetime.fromisoformat(case["at"])
    expect = case["expect"]
    state, events = open_route(
        opened_event(contract, case["object"], at), ContractView.of(contract), at
    )
    issued = {e.data.role: e.data for e in events if isinstance(e.data, AssignmentIssuedV3)}
    primary, coordinator = issued[AssignmentRole.PRIMARY], issued[AssignmentRole.COORDINATOR]
    assert primary.party == expect["primary"]
    if "coordinator" in expect:
        assert coordinator.party == expect["coordinator"]
    if "priority" in expect:
        assert primary.priority == expect["priority"]
    for party, contact in expect.get("on_duty", {}).items():
        found = ContractView.of(contract).on_duty(party, at)
        assert (found[0].contact if found else None) == contact, party
        for data in (primary, coordinator):
            if data.party == party:
                assert data.on_duty is not None
                assert data.on_duty.contact == contact
            if state.coordinator == party:
                assert data.coordinator_on_duty is not None
                assert data.coordinator_on_duty.contact == contact
    if "period" in expect:
        assert primary.deadlines is not None
        assert primary.deadlines.period == expect["period"]
    if "response_target" in expect:
        assert primary.deadlines is not None
        assert primary.deadlines.response_target == DURATION.validate_python(
            expect["response_target"]
        )
    if "response_due" in expect:
        assert primary.deadlines is not None
        assert primary.deadlines.response_due == datetime.fromisoformat(expect["response_due"])
    if "approval" in expect:
        assert primary.access is not None
        assert primary.access.approval.startswith(expect["approval"])
    if "checks" in expect:
        checks = {e.data.layer.value: e.data for e in events if isinstance(e.data, CheckOpenedV2)}
        assert set(checks) == set(expect["checks"])
        for layer, want in expect["checks"].items():
            check = checks[layer]
            assert check.party == want["party"], layer
            assert check.object_id == want["object"], layer
            assert check.on_duty is not None
            assert check.on_duty.contact == want["on_duty"], layer
    if "backup_due" in expect:
        due = datetime.fromisoformat(expect["backup_due"])
        asked = {primary.party, coordinator.party} | {
            e.data.party for e in events if isinstance(e.data, CheckOpenedV2)
        }
        assert state.ack_due == dict.fromkeys(asked, due)


# --------------------------------------------------------------------------- the diagnostic route


@pytest.fixture(scope="module")
def minimal() -> Contract:
    return contract_at("examples/minimal/contract.yaml")


def accepted(
    action: ActionKind, party: str, at: datetime, key: str = "c1", **fields: Any
) -> Envelope:
    """``party``'s engineer did ``action`` on inc-1 at ``at``: command ``key``, its event id
    follows from it (a redelivery is the same event); ``fields`` are the action's own."""
    command = stable_id("command", key)
    return factories.accepted(
        "inc-1",
        action,
        at,
        party=party,
        actor="engineer",
        command_id=command,
        event_id=stable_id("accepted", command),
        **fields,
    )


def diagnosed(
    state: RouteState, contract: Contract, party: str, layer: Layer, *, fault: bool, at: datetime
) -> tuple[RouteState, list[Envelope]]:
    """``state`` after ``party`` reported at ``at`` whether the fault is in ``layer``, and what
    the router sent for it."""
    diagnosis = accepted(ActionKind.DIAGNOSIS, party, at, layer=layer, fault_found=fault)
    return on_action(state, diagnosis, ContractView.of(contract), at)


def opened(minimal: Contract) -> tuple[RouteState, list[Envelope]]:
    return open_route(opened_event(minimal, "pg-main", NIGHT), ContractView.of(minimal), NIGHT)


def test_database_incident_goes_to_dbms_and_coordinator_and_checks_the_neighbours(
    minimal: Contract,
) -> None:
    state, events = opened(minimal)
    assert [e.type for e in events[:2]] == [EventType.ASSIGNMENT_ISSUED] * 2
    assert (state.primary, state.coordinator) == ("osdb", "apps")
    checks = {(c.layer, c.party) for c in state.checks}
    assert (Layer.APPLICATION, "apps") in checks
    assert (Layer.HARDWARE, "hw") in checks
    assert Layer.DBMS not in {c.layer for c in state.checks}
    # the same input gives the same ids, whatever the time of the replay
    _, again = open_route(
        opened_event(minimal, "pg-main", NIGHT), ContractView.of(minimal), NIGHT + timedelta(days=3)
    )
    assert [e.id for e in again] == [e.id for e in events]


def test_hardware_finds_the_fault_and_takes_ownership_while_the_coordinator_stays(
    minimal: Contract,
) -> None:
    state, _ = opened(minimal)
    later = NIGHT + timedelta(minutes=10)
    state, out = diagnosed(state, minimal, "apps", Layer.APPLICATION, fault=False, at=later)
    assert [e.type for e in out] == [EventType.CHECK_CLOSED]
    assert state.primary == "osdb"
    diagnosis = accepted(
        ActionKind.DIAGNOSIS, "hw", later, layer=Layer.HARDWARE, fault_found=True, key="c2"
    )
    state, out = on_action(state, diagnosis, ContractView.of(minimal), later)
    assert [e.type for e in out] == [
        EventType.CHECK_CLOSED,
        EventType.HANDOVER,
        EventType.ASSIGNMENT_ISSUED,
    ]
    closed, handover, assignment = (e.data for e in out)
    assert isinstance(closed, CheckClosedV1)
    assert closed.fault_found
    assert closed.object_id == "srv-db-01"
    assert isinstance(handover, HandoverV2)
    assert (handover.from_party, handover.to_party) == ("osdb", "hw")
    assert handover.coordinator == "apps"
    assert "hw:engineer" in handover.reason
    assert "srv-db-01" in handover.reason
    # its instant also on the wall clock of the object taken over (Almaty, UTC+5)
    assert handover.local is not None
    assert handover.local.timezone == "Asia/Almaty"
    assert handover.local.at.isoformat() == "2026-11-27T02:40:00+05:00"
    assert isinstance(assignment, AssignmentIssuedV3)
    assert (assignment.party, assignment.role, assignment.object_id) == (
        "hw",
        AssignmentRole.PRIMARY,
        "srv-db-01",
    )
    assert state.primary == "hw"
    assert state.coordinator == "apps"
    assert "hw" in state.acknowledged  # its diagnosis shows it took the work
    results = {c.layer: c.fault_found for c in state.checks}
    assert results[Layer.HARDWARE] is True
    assert results[Layer.APPLICATION] is False
    assert results[Layer.OS] is None
    # redelivery of the same diagnosis: same ids
    assert [e.id for e in on_action(state, diagnosis, ContractView.of(minimal), later)[1]][:1] == [
        out[0].id
    ]


def test_coordinator_localising_the_fault_starts_the_new_owners_backup_timer(
    minimal: Contract,
) -> None:
    state, _ = opened(minimal)
    later = NIGHT + timedelta(minutes=5)
    diagnosis = accepted(
        ActionKind.DIAGNOSIS, "apps", later, layer=Layer.HARDWARE, fault_found=True
    )
    # hw was already chased for its check: the earlier time stands
    moved, out = on_action(state, diagnosis, ContractView.of(minimal), later)
    assert EventType.HANDOVER in [e.type for e in out]
    assert moved.ack_due["hw"] == NIGHT + timedelta(minutes=12)
    # a new owner that was not asked before gets its own window from the handover
    unasked = state.model_copy(
        update={"ack_due": {p: d for p, d in state.ack_due.items() if p != "hw"}}
    )
    moved, _ = on_action(unasked, diagnosis, ContractView.of(minimal), later)
    assert moved.ack_due["hw"] == later + timedelta(minutes=12)


def test_no_fault_in_my_layer_hands_nothing_over(minimal: Contract) -> None:
    state, _ = opened(minimal)
    state, out = diagnosed(state, minimal, "osdb", Layer.DBMS, fault=False, at=NIGHT)
    assert [e.type for e in out] == [EventType.CHECK_CLOSED]
    assert state.primary == "osdb"


def test_a_fault_in_a_layer_of_the_same_party_moves_the_layer_not_the_party(
    minimal: Contract,
) -> None:
    state, _ = opened(minimal)
    state, out = diagnosed(state, minimal, "osdb", Layer.OS, fault=True, at=NIGHT)
    assert [e.type for e in out] == [EventType.CHECK_CLOSED]
    assert (state.primary, state.primary_layer, state.primary_object) == (
        "osdb",
        Layer.OS,
        "os-db-01",
    )


# --------------------------------------------------------------------------- escalation


def sla_event(kind: str, clock: ClockKind, threshold: int = 80) -> Envelope:
    at = NIGHT + timedelta(minutes=12)
    event_id = stable_id(kind, clock, threshold)
    if kind == "warning":
        deadline = NIGHT + timedelta(minutes=15)
        return factories.sla_warning(
            "inc-1", at, deadline=deadline, clock=clock, threshold=threshold, event_id=event_id
        )
    return factories.sla_breached("inc-1", at, clock=clock, event_id=event_id)


def test_warning_fires_the_levels_it_reached_once(minimal: Contract) -> None:
    state, _ = opened(minimal)
    state, out = on_sla(
        state, sla_event("warning", ClockKind.RESPONSE, 50), ContractView.of(minimal), NIGHT
    )
    assert out == []  # level 2 fires at 80 % of the response target; level 1 (at 0) is first line
    state, out = on_sla(
        state, sla_event("warning", ClockKind.RESPONSE, 80), ContractView.of(minimal), NIGHT
    )
    (escalated,) = out
    data = escalated.data
    assert isinstance(data, AssignmentEscalatedV3)
    assert (data.reason, data.level, data.clock, data.threshold) == (
        EscalationReason.SLA_WARNING,
        2,
        ClockKind.RESPONSE,
        80,
    )
    assert [c.contact for c in data.contacts] == ["manager"]
    assert [(c.party, c.contact) for c in data.emergency_approvers] == [("customer", "it-head")]
    assert escalated.id == stable_id("escalation", "inc-1", 2)
    assert data.local is not None  # detected 21:42 UTC: 02:42 at the database's site
    assert (data.local.timezone, data.local.at.isoformat()) == (
        "Asia/Almaty",
        "2026-11-27T02:42:00+05:00",
    )
    assert sorted(recipients(escalated, state.coordinator)) == ["apps", "customer"]
    # the breach and the recovery clock's 50 % reach the same level: it does not fire twice
    state, out = on_sla(
        state, sla_event("breach", ClockKind.RESPONSE), ContractView.of(minimal), NIGHT
    )
    assert out == []
    state, out = on_sla(
        state, sla_event("warning", ClockKind.RECOVERY, 50), ContractView.of(minimal), NIGHT
    )
    assert out == []
    assert state.escalated == [2]


def test_breach_fires_every_level_up_to_the_target(minimal: Contract) -> None:
    state, _ = opened(minimal)
    _, out = on_sla(state, sla_event("breach", ClockKind.RECOVERY), ContractView.of(minimal), NIGHT)
    assert [e.data.level for e in out] == [2]  # type: ignore[attr-defined]
    assert out[0].data.reason == EscalationReason.SLA_BREACHED  # type: ignore[attr-defined]


def test_escalations_stop_once_the_incident_is_closed(minimal: Contract) -> None:
    state, _ = opened(minimal)
    state = on_closed(state)
    assert (
        on_sla(state, sla_event("breach", ClockKind.RESPONSE), ContractView.of(minimal), NIGHT)[1]
        == []
    )
    assert on_ack_overdue(state, "osdb", ContractView.of(minimal), NIGHT)[1] == []


def test_unacknowledged_assignment_calls_the_backup_contacts_once(minimal: Contract) -> None:
    state, _ = opened(minimal)
    due = NIGHT + timedelta(minutes=12)  # 0.8 of the 15-minute response target
    assert state.ack_due == {"osdb": due, "apps": due, "hw": due}  # hw: its hardware check
    state, out = on_action(
        state, accepted(ActionKind.ACKNOWLEDGE, "osdb", NIGHT), ContractView.of(minimal), NIGHT
    )
    assert out == []
    assert state.ack_due == {"apps": due, "hw": due}
    state, out = on_ack_overdue(state, "apps", ContractView.of(minimal), due)
    (escalated,) = out
    data = escalated.data
    assert isinstance(data, AssignmentEscalatedV3)
    assert (data.reason, data.party, data.level) == (EscalationReason.UNACKNOWLEDGED, "apps", None)
    assert data.local is not None
    assert data.local.at.isoformat() == "2026-11-27T02:42:00+05:00"
    assert [c.contact for c in data.contacts] == ["manager"]
    assert state.ack_due == {"hw": due}
    assert on_ack_overdue(state, "apps", ContractView.of(minimal), due)[1] == []
    # an acknowledged party's late timer is dropped silently
    assert on_ack_overdue(state, "osdb", ContractView.of(minimal), due)[1] == []


def test_each_party_topic_gets_its_own_messages_and_the_coordinator_all(
    minimal: Contract,
) -> None:
    state, events = opened(minimal)
    by_party: dict[str, set[EventType]] = {}
    for event in events:
        for party in recipients(event, state.coordinator):
            by_party.setdefault(party, set()).add(event.type)
    assert set(by_party) == {"osdb", "apps", "hw"}
    assert by_party["hw"] == {EventType.CHECK_OPENED}
    assert "customer" not in by_party


def test_a_fault_in_a_vendors_product_opens_a_case_for_the_party_that_handles_it() -> None:
    steppe = contract_at("examples/contract")
    at = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)
    state, _ = open_route(opened_event(steppe, "app-1c-acc", at), ContractView.of(steppe), at)
    diagnosis = accepted(
        ActionKind.DIAGNOSIS, "appint", at, layer=Layer.APPLICATION, fault_found=True
    )
    state, out = on_action(state, diagnosis, ContractView.of(steppe), at)
    cases = [e for e in out if e.type == EventType.VENDOR_CASE_OPENED]
    (case,) = cases
    data = case.data
    assert isinstance(data, VendorCaseOpenedV2)
    assert (data.party, data.vendor, data.object_id, data.decides_fixes) == (
        "appint",
        "onec",
        "app-1c-acc",
        "customer",
    )
    assert data.local is not None  # 03:00 UTC is 08:00 in Almaty
    assert (data.local.timezone, data.local.at.isoformat()) == (
        "Asia/Almaty",
        "2026-03-11T08:00:00+05:00",
    )
    assert set(recipients(case, state.coordinator)) == {"appint", "customer"}
    again = accepted(
        ActionKind.DIAGNOSIS, "appint", at, layer=Layer.APPLICATION, fault_found=True, key="c9"
    )
    _, out = on_action(state, again, ContractView.of(steppe), at)
    assert EventType.VENDOR_CASE_OPENED not in [e.type for e in out]


def test_no_vendor_case_without_a_fault_or_a_vendor(minimal: Contract) -> None:
    state, _ = opened(minimal)
    _, out = diagnosed(state, minimal, "hw", Layer.HARDWARE, fault=True, at=NIGHT)
    assert EventType.VENDOR_CASE_OPENED not in [e.type for e in out]


async def test_a_party_id_that_cannot_name_a_topic_gets_the_shared_topic_only() -> None:
    class Producer:
        """aiokafka's producer as ``shared.kafka.send_all`` reaches it inside the broker."""

        def __init__(self) -> None:
            self.sent: list[str] = []
            self.producer = self

        async def send(self, topic: str, _value: bytes, **_: object) -> asyncio.Future[None]:
            self.sent.append(topic)
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done  # the broker's acknowledgement, to await

    class Broker:
        def __init__(self) -> None:
            self._producer = SimpleNamespace(_producer=Producer())
            self.config = SimpleNamespace(broker_middlewares=())

        @property
        def sent(self) -> list[str]:
            sent: list[str] = self._producer._producer.sent
            return sent

    broker = Broker()
    delivery = Delivery(broker, Settings())  # type: ignore[arg-type]
    delivery._ready.add("apps")  # its topic "exists": no admin client in a unit test
    minimal = contract_at("examples/minimal/contract.yaml")
    _, events = open_route(opened_event(minimal, None, NIGHT), ContractView.of(minimal), NIGHT)
    assert not delivery.deliverable("bad party")
    await delivery.send(events[:1], "bad party")
    assert sorted(broker.sent) == ["baton.assignments", "baton.assignments.apps"]


def test_an_open_incident_keeps_the_owners_of_the_contract_it_opened_under(
    minimal: Contract,
) -> None:
    state, _ = opened(minimal)
    doc = minimal.model_dump()
    doc["version"] = "2026.12.1"
    doc["parties"]["hw2"] = {**doc["parties"]["hw"], "name": "New hardware contractor"}
    doc["layers"] = [
        {**a, "primary": "hw2"} if a["layer"] == "hardware" else a for a in doc["layers"]
    ]
    newer = Contract.model_validate(doc)
    diagnosis = accepted(
        ActionKind.DIAGNOSIS, "apps", NIGHT, layer=Layer.HARDWARE, fault_found=True
    )
    state, out = on_action(state, diagnosis, ContractView.of(newer), NIGHT)
    (handover,) = [e.data for e in out if isinstance(e.data, HandoverV2)]
    assert handover.to_party == "hw"
    assert state.contract_version == minimal.version
    # a new incident is routed under the new version
    fresh, _ = open_route(
        opened_event(newer, "srv-db-01", NIGHT, incident="inc-2"), ContractView.of(newer), NIGHT
    )
    assert fresh.primary == "hw2"


def test_open_incidents_keep_their_owners_until_the_coordinator_reroutes() -> None:
    minimal = contract_at("examples/minimal/contract.yaml")
    state, _ = opened(minimal)
    assert state.primary == "osdb"
    # a new contract version gives the DBMS layer to the hardware contractor
    layers = [
        layer.model_copy(update={"primary": "hw"}) if layer.layer == Layer.DBMS else layer
        for layer in minimal.layers
    ]
    v2 = minimal.model_copy(update={"version": "2026.12.1", "layers": layers})
    later = NIGHT + timedelta(minutes=5)
    # an ordinary action under the new version changes nothing about ownership
    state, _ = on_action(
        state, accepted(ActionKind.ACKNOWLEDGE, "osdb", later), ContractView.of(v2), later
    )
    assert state.primary == "osdb"
    assert state.owners[Layer.DBMS] == "osdb"

    reroute = accepted(ActionKind.REROUTE, "apps", later, key="reroute")
    state, out = on_action(state, reroute, ContractView.of(v2), later)
    assert state.primary == "hw"
    assert state.coordinator == "apps"
    assert state.contract_version == "2026.12.1"
    handover = next(e.data_as(HandoverV2) for e in out if e.type == EventType.HANDOVER)
    assert (handover.from_party, handover.to_party) == ("osdb", "hw")
    assert "re-routed under contract 2026.12.1" in handover.reason
    issued = [e.data_as(AssignmentIssuedV3) for e in out if e.type == EventType.ASSIGNMENT_ISSUED]
    assert [(a.party, a.role) for a in issued] == [("hw", AssignmentRole.PRIMARY)]
    # the same re-route again (redelivery) gives the same ids; a second one under the same
    # version moves nothing
    assert [
        e.id for e in on_action(opened(minimal)[0], reroute, ContractView.of(v2), later)[1]
    ] == [e.id for e in out]
    again, nothing = on_action(
        state, accepted(ActionKind.REROUTE, "apps", later, key="r2"), ContractView.of(v2), later
    )
    assert nothing == []
    assert again.primary == "hw"


def test_a_dependent_outside_its_hours_is_chased_from_when_they_open(minimal: Contract) -> None:
    """Issue 16: a dependent object's own support hours decide when its check party is engaged.
    The OS and the database above the failed server run on office hours (Almaty 09:00-18:00):
    at 02:30 their checker (osdb) is told at once but chased only from 09:00; the owners at
    once. On 24/7 dependents (the minimal contract as written) everyone is chased at once."""
    office = {
        "objects": [
            o.model_copy(update={"calendar": "office"}) if o.id in ("os-db-01", "pg-main") else o
            for o in minimal.objects
        ]
    }
    hours = minimal.model_copy(update=office)
    state, events = open_route(
        opened_event(hours, "srv-db-01", NIGHT), ContractView.of(hours), NIGHT
    )
    assert {c.party for c in state.checks} == {"osdb", "apps"}
    assert any(isinstance(e.data, CheckOpenedV2) and e.data.party == "osdb" for e in events)
    at_once = NIGHT + timedelta(minutes=12)  # 80 % of the P1 15-minute response target
    opens = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # Friday 09:00 in Almaty
    assert state.ack_due == {
        "hw": at_once,
        "apps": at_once,
        "osdb": opens + timedelta(minutes=12),
    }
    as_written, _ = open_route(
        opened_event(minimal, "srv-db-01", NIGHT), ContractView.of(minimal), NIGHT
    )
    assert as_written.ack_due["osdb"] == at_once
    # the check itself says when its party is expected, in UTC and on the object's wall clock
    told = {
        e.data.party: parse_event(e.to_json()).data_as(CheckOpenedV2)
        for e in events
        if isinstance(e.data, CheckOpenedV2)
    }
    osdb, apps = told["osdb"], told["apps"]
    assert (osdb.engage_at, osdb.opened_at) == (opens, NIGHT)
    assert osdb.engage_at is not None
    assert osdb.engage_at.utcoffset() == timedelta(0)
    assert osdb.engage_at_local is not None
    assert f"{osdb.engage_at_local:%a %H:%M %z}" == "Fri 09:00 +0500"
    assert osdb.local is not None
    assert osdb.local.timezone == "Asia/Almaty"
    assert osdb.local.opened_at == NIGHT
    assert (apps.engage_at, apps.engage_at_local) == (None, None)  # 24/7 accounting: at once


def test_a_level_past_the_target_fires_when_the_clock_is_that_far_overdue_not_at_the_breach() -> (
    None
):
    doc = contract_at("examples/minimal/contract.yaml").model_dump(mode="json")
    doc["escalation"].append(
        {"level": 3, "name": "Director", "at": {"recovery": 1.5}, "contacts": ["apps/manager"]}
    )
    contract = Contract.model_validate(doc)
    state, _ = open_route(
        opened_event(contract, "pg-main", NIGHT), ContractView.of(contract), NIGHT
    )
    state, out = on_sla(
        state, sla_event("breach", ClockKind.RECOVERY), ContractView.of(contract), NIGHT
    )
    assert [e.data.level for e in out] == [2]  # type: ignore[attr-defined]
    at = NIGHT + timedelta(hours=6)
    overdue = factories.sla_overdue(
        "inc-1",
        at,
        deadline=NIGHT + timedelta(hours=4),
        threshold=150,
        event_id=stable_id("overdue", "inc-1", 150),
    )
    state, out = on_sla(state, overdue, ContractView.of(contract), at)
    (escalated,) = out
    data = escalated.data_as(AssignmentEscalatedV3)
    assert (data.level, data.name, data.reason, data.threshold) == (
        3,
        "Director",
        EscalationReason.SLA_BREACHED,
        150,
    )
    assert on_sla(state, overdue, ContractView.of(contract), at)[1] == []  # once per incident


def test_a_reroute_follows_an_object_moved_to_another_layer() -> None:
    """Issue 27.4: a new version moves the incident's object to another layer (another
    contractor): the coordinator's re-route hands the incident to that layer's primary — what
    ``baton contract diff`` previews for apply-open."""
    minimal = contract_at("examples/minimal/contract.yaml")
    state, _ = opened(minimal)
    assert (state.primary, state.primary_layer) == ("osdb", Layer.DBMS)
    objects = [
        o.model_copy(update={"layer": Layer.APPLICATION}) if o.id == state.primary_object else o
        for o in minimal.objects
    ]
    v2 = minimal.model_copy(update={"version": "2026.12.2", "objects": objects})
    later = NIGHT + timedelta(minutes=5)
    state, out = on_action(
        state, accepted(ActionKind.REROUTE, "apps", later, key="mv"), ContractView.of(v2), later
    )
    assert (state.primary, state.primary_layer) == ("apps", Layer.APPLICATION)
    handover = next(e.data_as(HandoverV2) for e in out if e.type == EventType.HANDOVER)
    assert (handover.from_party, handover.to_party) == ("osdb", "apps")


# --------------------------------------------------------------------------- update overdue


def _with_update_level(minimal: Contract) -> Contract:
    """The minimal contract with a third level that hears of late customer updates only."""
    doc = minimal.model_dump(mode="json")
    doc["escalation"].append(
        {
            "level": 3,
            "name": "Coordinator's service manager",
            "triggers": ["update_overdue"],
            "contacts": ["apps/manager"],
            "emergency_approvers": ["customer/it-head"],
        }
    )
    return Contract.model_validate(doc)


def _update_overdue(n: int, due: datetime, incident: str = "inc-1") -> Envelope:
    return make_event(
        UpdateOverdueV1(
            coordinator="apps",
            priority="P1",
            due=due,
            every=timedelta(minutes=30),
            detected_at=due,
        ),
        source="sla-clock",
        time=due,
        subject=incident,
        event_id=stable_id("update-overdue", incident, n),
    )


def test_an_overdue_update_escalates_to_the_levels_that_name_it(minimal: Contract) -> None:
    """Issue 27.1: an overdue customer update is an escalation event the contract's levels act
    on — the levels naming ``update_overdue`` hear of each late update, the others do not, and
    the clock levels' once-per-incident record is untouched."""
    contract = _with_update_level(minimal)
    state, _ = open_route(
        opened_event(contract, "pg-main", NIGHT), ContractView.of(contract), NIGHT
    )
    due = NIGHT + timedelta(minutes=30)
    state, out = on_sla(state, _update_overdue(0, due), ContractView.of(contract), due)
    (escalated,) = out
    data = escalated.data_as(AssignmentEscalatedV3)
    assert (data.reason, data.level, data.name, data.clock, data.threshold) == (
        EscalationReason.UPDATE_OVERDUE,
        3,
        "Coordinator's service manager",
        None,
        None,
    )
    assert data.update_due == due
    assert [(c.party, c.contact) for c in data.contacts] == [("apps", "manager")]
    assert [(c.party, c.contact) for c in data.emergency_approvers] == [("customer", "it-head")]
    assert data.local is not None
    assert data.local.at.isoformat() == "2026-11-27T03:00:00+05:00"  # the database's site
    assert sorted(recipients(escalated, state.coordinator)) == ["apps", "customer"]
    assert state.escalated == []  # the clock levels may still fire
    # a replay of the same overdue gives the same event; the next late update escalates again
    assert on_sla(state, _update_overdue(0, due), ContractView.of(contract), due)[1] == out
    later = due + timedelta(minutes=30)
    _, again = on_sla(state, _update_overdue(1, later), ContractView.of(contract), later)
    assert [e.data_as(AssignmentEscalatedV3).update_due for e in again] == [later]
    assert again[0].id != escalated.id
    # the clock's thresholds still reach level 2 as before
    state, out = on_sla(
        state, sla_event("breach", ClockKind.RESPONSE), ContractView.of(contract), NIGHT
    )
    assert [e.data_as(AssignmentEscalatedV3).level for e in out] == [2]


def test_an_overdue_update_escalates_nowhere_when_no_level_names_it(minimal: Contract) -> None:
    state, _ = opened(minimal)
    due = NIGHT + timedelta(minutes=30)
    assert on_sla(state, _update_overdue(0, due), ContractView.of(minimal), due) == (state, [])


def test_an_overdue_update_follows_the_incidents_own_levels(minimal: Contract) -> None:
    """The levels are the incident's policy snapshot (ADR 37): a version in force that dropped
    the trigger does not silence an incident opened under one that had it, nor the reverse."""
    contract = _with_update_level(minimal)
    due = NIGHT + timedelta(minutes=30)
    state, _ = open_route(
        opened_event(contract, "pg-main", NIGHT), ContractView.of(contract), NIGHT
    )
    assert len(on_sla(state, _update_overdue(0, due), ContractView.of(minimal), due)[1]) == 1
    state, _ = opened(minimal)
    assert on_sla(state, _update_overdue(0, due), ContractView.of(contract), due)[1] == []


def test_no_escalation_for_a_late_update_of_a_closed_incident(minimal: Contract) -> None:
    contract = _with_update_level(minimal)
    state, _ = open_route(
        opened_event(contract, "pg-main", NIGHT), ContractView.of(contract), NIGHT
    )
    due = NIGHT + timedelta(minutes=30)
    assert (
        on_sla(on_closed(state), _update_overdue(0, due), ContractView.of(contract), due)[1] == []
    )
