"""A first-line desk that is not a contractor (ADR 25): "the customer's service desk accepts the
ticket, then hands it to the coordinator". The desk is told of every incident (the router's
``first_line`` assignment, chased by no timer), may record notes on it (intake's standing rules)
and owns no work and no clock; the drill says who accepts while the desk is open and closed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from intake.actions import check_standing, verdict
from intake.incidents import IncidentState, Refused
from router.routing import open_route

from shared.contract import Contract
from shared.contract.drill import drill
from shared.contract.lint import check_contract
from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    AssignmentIssuedV3,
    AssignmentRole,
    Layer,
    PartyActionV2,
    parse_event,
    stable_id,
)
from tests.factories import open_incident, opened_on

ROOT = Path(__file__).resolve().parents[2]
MINIMAL: dict[str, Any] = yaml.safe_load(
    (ROOT / "examples" / "minimal" / "contract.yaml").read_text(encoding="utf-8")
)
DAY = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # Thursday 10:00 in Almaty: the desk is open
NIGHT = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)  # 02:30 Friday in Almaty: closed


def contract(**changes: Any) -> Contract:
    return Contract.model_validate({**MINIMAL, **changes})


# The customer's own service desk, a party that is neither a contractor nor the customer's IT
# management: open in office hours, reached on its phone.
DESK_PARTY = {
    "name": "Customer service desk",
    "kind": "other",
    "contact": "servicedesk@customer.example",
    "contacts": {"agent": {"name": "Service desk agent", "channels": {"phone": "+7 700 000 0100"}}},
    "duty": [{"calendar": "office", "contact": "agent"}],
}
WITH_DESK = contract(first_line="desk", parties={**MINIMAL["parties"], "desk": DESK_PARTY})
WITHOUT_DESK = contract()


def opened(c: Contract, object_id: str | None, at: datetime) -> Any:
    return opened_on(
        c,
        object_id,
        at,
        priority="P1",
        summary="the database server is down",
        event_id=stable_id("open", "inc-1"),
    )


def issued(events: list[Any]) -> dict[AssignmentRole, AssignmentIssuedV3]:
    return {e.data.role: e.data for e in events if isinstance(e.data, AssignmentIssuedV3)}


# --------------------------------------------------------------------------- router


@pytest.mark.parametrize("object_id", ["srv-db-01", None], ids=["object", "outside"])
def test_the_desk_is_told_of_every_incident_and_chased_by_nobody(object_id: str | None) -> None:
    state, events = open_route(
        opened(WITH_DESK, object_id, NIGHT), ContractView.of(WITH_DESK), NIGHT
    )
    roles = issued(events)
    assert set(roles) == {
        AssignmentRole.PRIMARY,
        AssignmentRole.COORDINATOR,
        AssignmentRole.FIRST_LINE,
    }
    desk = roles[AssignmentRole.FIRST_LINE]
    assert (desk.party, desk.contact, desk.coordinator) == (
        "desk",
        "servicedesk@customer.example",
        "apps",
    )
    # what the desk tells a user who calls: who coordinates and who answers for them now
    assert desk.coordinator_on_duty is not None
    assert desk.coordinator_on_duty.name == "Applications duty engineer"
    assert desk.on_duty is None  # closed at night: the message waits in its topic
    assert "desk" not in state.ack_due  # it owns nothing: no backup is called for it
    assert roles[AssignmentRole.PRIMARY].party == ("hw" if object_id else "apps")


def test_without_a_desk_of_its_own_two_assignments_as_before() -> None:
    _, events = open_route(
        opened(WITHOUT_DESK, "srv-db-01", DAY), ContractView.of(WITHOUT_DESK), DAY
    )
    assert set(issued(events)) == {AssignmentRole.PRIMARY, AssignmentRole.COORDINATOR}
    same = contract(first_line="apps")  # the coordinator's own desk: nothing extra
    _, events = open_route(opened(same, "srv-db-01", DAY), ContractView.of(same), DAY)
    assert set(issued(events)) == {AssignmentRole.PRIMARY, AssignmentRole.COORDINATOR}


# --------------------------------------------------------------------------- intake's rights


def incident(object_id: str | None, layer: Layer | None) -> IncidentState:
    return open_incident(object_id, layer, NIGHT)


def action(kind: ActionKind, party: str = "desk") -> PartyActionV2:
    return PartyActionV2(action=kind, party=party, actor="agent", note="3 more users call")


@pytest.mark.parametrize(
    "state", [incident("srv-db-01", Layer.HARDWARE), incident(None, None)], ids=["obj", "out"]
)
def test_the_desk_records_notes_on_any_incident(state: IncidentState) -> None:
    check_standing(action(ActionKind.NOTE), state, ContractView.of(WITH_DESK))
    assert verdict(action(ActionKind.NOTE), state, ContractView.of(WITH_DESK)) == (202, "")


@pytest.mark.parametrize(
    "kind",
    [
        ActionKind.ACKNOWLEDGE,
        ActionKind.RESTORED,
        ActionKind.PAUSE,
        ActionKind.REOPEN,
        ActionKind.CONFIRM,
    ],
)
def test_the_desk_owns_no_work_and_no_clock(kind: ActionKind) -> None:
    with pytest.raises(Refused) as refused:
        check_standing(
            action(kind), incident("srv-db-01", Layer.HARDWARE), ContractView.of(WITH_DESK)
        )
    assert refused.value.forbidden
    if kind not in (ActionKind.CONFIRM,):
        assert "desk (first line) may not" in refused.value.reason


def test_without_first_line_the_same_party_is_not_assigned() -> None:
    other = contract(parties={**MINIMAL["parties"], "desk": DESK_PARTY})
    status, reason = verdict(
        action(ActionKind.NOTE), incident("srv-db-01", Layer.HARDWARE), ContractView.of(other)
    )
    assert (status, reason) == (403, "party: desk is not assigned to incident inc-1")


# --------------------------------------------------------------------------- the drill


def test_the_drill_says_the_desk_accepts_and_hands_to_the_coordinator() -> None:
    report = drill(ContractView.of(WITH_DESK), "srv-db-01", DAY)
    assert report.accepts is not None
    assert (report.accepts.party, report.accepts.on_duty) == (
        "desk",
        "Service desk agent (phone +7 700 000 0100)",
    )
    assert report.first_line is not None
    assert "hands the incident to the coordinator AppWorks" in report.first_line
    assert not [g for g in report.gaps if "first line" in g.message]


def test_the_coordinator_accepts_while_the_desk_is_closed() -> None:
    report = drill(ContractView.of(WITH_DESK), "srv-db-01", NIGHT)
    assert report.accepts is not None
    assert report.accepts.party == "apps"
    assert report.first_line is not None
    assert "is closed at Fri 2026-11-27 02:30 Asia/Almaty" in report.first_line
    assert not [g for g in report.gaps if g.code == "BTN301"]
    assert drill(ContractView.of(WITHOUT_DESK), "srv-db-01", NIGHT).first_line is None


def test_a_v3_first_line_assignment_round_trips() -> None:
    _, events = open_route(opened(WITH_DESK, "srv-db-01", DAY), ContractView.of(WITH_DESK), DAY)
    desk = next(e for e in events if getattr(e.data, "role", None) == "first_line")
    back = parse_event(desk.to_json())
    assert back.dataversion == 3
    assert back.data_as(AssignmentIssuedV3).role is AssignmentRole.FIRST_LINE


def test_lint_asks_the_coordinator_not_an_office_hours_desk_to_answer_round_the_clock() -> None:
    """A desk open in office hours is lint-clean: the coordinator (24/7) accepts at night. The
    coordinator without a 24/7 shift is still BTN301, named as the intake."""
    assert [i for i in check_contract(WITH_DESK) if i.code == "BTN301"] == []
    daytime = {**MINIMAL["parties"]["apps"], "duty": [{"calendar": "office", "contact": "duty"}]}
    closed = contract(
        first_line="desk", parties={**MINIMAL["parties"], "desk": DESK_PARTY, "apps": daytime}
    )
    assert any(i.code == "BTN301" and "intake apps" in i.message for i in check_contract(closed))


# --------------------------------------------------------------------------- a party's contact


# The customer's service desk is one of the customer's contacts, with its own hours (a long
# day); the customer's duty at night is its night approver, who does not take tickets.
EXTENDED = {
    "id": "desk-hours",
    "kind": "business_hours",
    "timezone": "Asia/Almaty",
    "weekly": {d: ["07:00-23:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}
CUSTOMER_WITH_DESK = {
    **MINIMAL["parties"]["customer"],
    "contacts": {
        **MINIMAL["parties"]["customer"]["contacts"],
        "night-approver": {"name": "Night approver", "channels": {"phone": "+7 700 000 0099"}},
        "service-desk": {
            "name": "Customer service desk",
            "channels": {"phone": "+7 700 000 0100"},
            "hours": "desk-hours",
        },
    },
    "duty": [
        {"calendar": "office", "contact": "it-head"},
        {"calendar": "24x7", "contact": "night-approver"},
    ],
}
WITH_CONTACT_DESK = contract(
    first_line="customer/service-desk",
    calendars=[*MINIMAL["calendars"], EXTENDED],
    parties={**MINIMAL["parties"], "customer": CUSTOMER_WITH_DESK},
)
EVENING = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)  # 21:30 Thursday in Almaty: desk open


def test_first_line_may_name_a_contact_who_accepts_in_its_own_hours() -> None:
    """At 21:30 the customer's duty is its night approver, but the ticket goes to the service
    desk, open until 23:00: the drill names the desk, not the approver."""
    report = drill(ContractView.of(WITH_CONTACT_DESK), "srv-db-01", EVENING)
    assert report.accepts is not None
    assert report.accepts.party == "customer"
    assert report.accepts.on_duty == "Customer service desk (phone +7 700 000 0100)"
    assert report.first_line is not None
    assert "Customer service desk" in report.first_line
    assert "Night approver" not in report.first_line


def test_a_contact_desk_outside_its_hours_leaves_the_ticket_to_the_coordinator() -> None:
    report = drill(
        ContractView.of(WITH_CONTACT_DESK), "srv-db-01", NIGHT
    )  # 02:30: the desk is closed
    assert report.accepts is not None
    assert report.accepts.party == "apps"
    assert report.first_line is not None
    assert "Customer service desk" in report.first_line
    assert "closed" in report.first_line


def test_the_router_and_intake_treat_a_contact_desk_as_its_party() -> None:
    _, events = open_route(
        opened(WITH_CONTACT_DESK, "srv-db-01", EVENING), ContractView.of(WITH_CONTACT_DESK), EVENING
    )
    assert issued(events)[AssignmentRole.FIRST_LINE].party == "customer"
    assert WITH_CONTACT_DESK.intake == "customer"
    codes = {i.code for i in check_contract(WITH_CONTACT_DESK)}
    assert not codes & {"BTN005", "BTN106", "BTN108"}


def test_lint_names_an_unknown_first_line_contact_and_an_unknown_hours_calendar() -> None:
    unknown = contract(first_line="customer/nobody")
    assert any(
        i.code == "BTN005" and "customer/nobody" in i.message for i in check_contract(unknown)
    )
    bad_hours = {
        **CUSTOMER_WITH_DESK,
        "contacts": {
            **CUSTOMER_WITH_DESK["contacts"],
            "service-desk": {"name": "Desk", "hours": "nowhere"},
        },
    }
    broken = contract(
        first_line="customer/service-desk",
        parties={**MINIMAL["parties"], "customer": bad_hours},
    )
    assert any(i.code == "BTN005" and "nowhere" in i.message for i in check_contract(broken))


def test_the_appendix_names_the_contact_desk_and_its_hours() -> None:
    from shared.contract.appendix import build_appendix

    doc = build_appendix(WITH_CONTACT_DESK)
    accepted = next(f.value for f in doc.facts if f.label == "Tickets accepted by")
    assert accepted.startswith("Customer service desk (Customer IT, ")
    assert "07:00" in accepted
    assert "otherwise AppWorks" in accepted
