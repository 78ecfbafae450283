"""The coordinator keeps the customer informed (issue 27, ADR 47): ``update`` is the
coordinator's action only, carries its text, and is taken while the incident is not closed; every
other party, an empty text and a closed incident are refused with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from intake.actions import apply_action, verdict

from shared.contract import load_contract
from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    IncidentActionAcceptedV3,
    IncidentActionRefusedV3,
    IncidentStatus,
    Layer,
    PartyActionV2,
    make_event,
)
from tests import factories

CONTRACT = load_contract(factories.MINIMAL)
VIEW = ContractView.of(CONTRACT)
AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
# hw owns the server; osdb checks the OS and DBMS on it; apps coordinates
SERVER = factories.open_incident("srv-db-01", Layer.HARDWARE, AT)


def update(party: str, note: str = "DB failover in progress; next news at 02:30") -> PartyActionV2:
    return PartyActionV2(action=ActionKind.UPDATE, party=party, actor="duty", note=note)


@pytest.mark.parametrize(
    "status", [IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESTORED]
)
def test_the_coordinator_updates_an_incident_not_closed(status: IncidentStatus) -> None:
    incident = SERVER.model_copy(update={"status": status})
    assert verdict(update("apps"), incident, VIEW) == (202, "")


def test_an_update_is_on_the_timeline_with_its_text_and_changes_no_status() -> None:
    command = make_event(update("apps"), source="test", time=AT, subject="inc-1")
    state, events = apply_action(command, SERVER, VIEW, AT)
    assert state.status == IncidentStatus.OPEN
    [accepted] = events
    data = accepted.data_as(IncidentActionAcceptedV3)
    assert (data.action, data.party, data.note) == (
        ActionKind.UPDATE,
        "apps",
        "DB failover in progress; next news at 02:30",
    )


@pytest.mark.parametrize(
    ("party", "why"),
    [
        ("hw", "hw (primary owner) may not update this incident"),
        ("osdb", "osdb (check party) may not update this incident"),
        ("customer", "customer (customer) may not update this incident"),
        ("ghost", "'ghost' is not a party"),
    ],
)
def test_only_the_coordinator_updates_the_customer(party: str, why: str) -> None:
    status, reason = verdict(update(party), SERVER, VIEW)
    assert status == 403
    assert why in reason


def test_an_update_without_text_is_refused() -> None:
    status, reason = verdict(update("apps", note="  "), SERVER, VIEW)
    assert (status, reason) == (409, "note: an update carries its text for the customer")


def test_a_closed_incident_takes_no_update() -> None:
    closed = SERVER.model_copy(update={"status": IncidentStatus.CLOSED})
    command = make_event(update("apps"), source="test", time=AT, subject="inc-1")
    state, [refused] = apply_action(command, closed, VIEW, AT)
    assert state == closed
    assert (
        refused.data_as(IncidentActionRefusedV3).reason
        == "cannot update an incident that is closed"
    )


def test_the_appendix_says_the_cadence_and_the_problem_rule_and_whose_defaults() -> None:
    """Signed terms: how often the customer hears of an open incident, and when recurring
    incidents become a problem record — Baton's defaults marked as such (ADR 47, 48)."""
    from shared.contract.appendix import build_appendix, render

    text = render(build_appendix(CONTRACT), "md").decode()  # the minimal contract writes none
    assert (
        "Baton's default: while an incident is open the coordinator updates the customer"
        " P1 every 30 minutes, P2 every 2 hours (sla.update_every)" in text
    )
    assert "reminded 10 minutes before an update is due" in text
    assert "(an escalation) (sla.update_remind_before)" in text
    assert "Baton's default: 3 incidents on one origin within 30 days open a problem record" in text
    example = factories.example()
    written = render(build_appendix(example), "md").decode()
    assert (
        "While an incident is open the coordinator updates the customer P1 every 30 minutes,"
        " P2 every 2 hours, P3 every 4 hours." in written
    )
