"""Who may do what to which incident: only parties assigned to it, each within its part — the
primary owner, the coordinator, a check party on its own layer, the customer — and everyone else
refused (403) with the reason. A table of part × action × assigned or not, on the minimal
contract (hw owns hardware, osdb the OS and DBMS, apps applications and integrations and
coordinates)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from intake.actions import apply_action, check_standing, hidden, verdict
from intake.incidents import IncidentState, Refused

from shared.contract import load_contract
from shared.contract.view import ContractView
from shared.events import ActionKind, EventType, Layer, PartyActionV2, make_event
from tests.factories import open_incident

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = load_contract(ROOT / "examples" / "minimal" / "contract.yaml")
VIEW = ContractView.of(CONTRACT)
AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def incident(object_id: str | None, layer: Layer | None) -> IncidentState:
    return open_incident(object_id, layer, AT)


SERVER = incident("srv-db-01", Layer.HARDWARE)  # hw primary; osdb, apps check; apps coordinates
OUTSIDE = incident(None, None)  # outside the perimeter: the coordinator owns it, nobody checks


def action(kind: ActionKind, party: str, layer: Layer | None = None) -> PartyActionV2:
    return PartyActionV2(
        action=kind,
        party=party,
        actor="eng",
        layer=layer,
        fault_found=False if kind == ActionKind.DIAGNOSIS else None,
    )


A = ActionKind
TABLE = [
    # the primary owner
    (SERVER, "hw", A.ACKNOWLEDGE, None, True),
    (SERVER, "hw", A.DIAGNOSIS, Layer.HARDWARE, True),
    (SERVER, "hw", A.RESTORED, None, True),
    (SERVER, "hw", A.CONFIRM, None, False),
    (SERVER, "hw", A.REOPEN, None, False),
    # a check party: its own layers only, and it does not restore
    (SERVER, "osdb", A.ACKNOWLEDGE, None, True),
    (SERVER, "osdb", A.DIAGNOSIS, Layer.OS, True),
    (SERVER, "osdb", A.DIAGNOSIS, Layer.DBMS, True),
    (SERVER, "osdb", A.DIAGNOSIS, Layer.HARDWARE, False),
    (SERVER, "osdb", A.RESTORED, None, False),
    (SERVER, "osdb", A.PAUSE, None, False),
    # the coordinator
    (SERVER, "apps", A.ACKNOWLEDGE, None, True),
    (SERVER, "apps", A.RESTORED, None, True),
    (SERVER, "apps", A.REOPEN, None, True),
    (SERVER, "apps", A.CONFIRM, None, False),
    # the customer
    (SERVER, "customer", A.CONFIRM, None, True),
    (SERVER, "customer", A.REJECT, None, True),
    (SERVER, "customer", A.REOPEN, None, True),
    (SERVER, "customer", A.NOTE, None, True),
    (SERVER, "customer", A.ACKNOWLEDGE, None, False),
    (SERVER, "customer", A.RESTORED, None, False),
    # not assigned: every action refused
    (OUTSIDE, "hw", A.ACKNOWLEDGE, None, False),
    (OUTSIDE, "hw", A.NOTE, None, False),
    (OUTSIDE, "osdb", A.RESTORED, None, False),
    (OUTSIDE, "osdb", A.DIAGNOSIS, Layer.OS, False),
    (OUTSIDE, "apps", A.ACKNOWLEDGE, None, True),
    (OUTSIDE, "apps", A.RESTORED, None, True),
    (OUTSIDE, "customer", A.CONFIRM, None, True),
]


@pytest.mark.parametrize(
    ("state", "party", "kind", "layer", "allowed"),
    TABLE,
    ids=[f"{s.object_id or 'outside'}-{p}-{k.value}-{lay}" for s, p, k, lay, _ in TABLE],
)
def test_part_by_action_by_assignment(
    state: IncidentState, party: str, kind: ActionKind, layer: Layer | None, allowed: bool
) -> None:
    if allowed:
        check_standing(action(kind, party, layer), state, VIEW)
        return
    with pytest.raises(Refused) as refused:
        check_standing(action(kind, party, layer), state, VIEW)
    assert refused.value.forbidden
    assert party in refused.value.reason or "layer" in refused.value.reason


def test_an_unassigned_contractor_is_told_why() -> None:
    status, reason = verdict(action(A.ACKNOWLEDGE, "hw"), OUTSIDE, VIEW)
    assert (status, reason) == (403, "party: hw is not assigned to incident inc-1")


def test_an_incident_an_unassigned_contractor_has_no_part_in_is_hidden_from_it() -> None:
    """Issue 25: its refused actions went into the incident's timeline and 403-vs-404 told
    which incident ids exist; the commands consumer answers 404 for a hidden incident."""
    assert hidden(action(A.ACKNOWLEDGE, "hw"), OUTSIDE, VIEW)
    assert not hidden(action(A.ACKNOWLEDGE, "apps"), OUTSIDE, VIEW)  # the coordinator
    assert not hidden(action(A.CONFIRM, "customer"), OUTSIDE, VIEW)
    assert not hidden(action(A.RESTORED, "osdb"), SERVER, VIEW)  # a check party: told why


def test_a_contractor_cannot_restore_another_contractors_incident() -> None:
    status, reason = verdict(action(A.RESTORED, "osdb"), SERVER, VIEW)
    assert status == 403
    assert reason == "party: osdb (check party) may not restored this incident"


def test_a_diagnosis_that_finds_the_fault_hands_the_incident_over() -> None:
    found = action(A.DIAGNOSIS, "osdb", Layer.DBMS).model_copy(update={"fault_found": True})
    command = make_event(found, source="t", time=AT, subject="inc-1")
    state, events = apply_action(command, SERVER, VIEW, AT)
    assert [e.type for e in events] == [EventType.ACTION_ACCEPTED]
    assert state.handed_to == [Layer.DBMS]
    check_standing(action(A.RESTORED, "osdb"), state, VIEW)  # now the primary owner
