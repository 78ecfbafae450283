"""Pure rules of the pipeline: the incident state machine and the first assignment.

The SLA clock's rules are tested in test_sla_timeline.py and test_sla_decide.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from intake.access import apply_access, request_id_for
from intake.actions import apply_action
from intake.alertmanager import AlertmanagerWebhook, normalise
from intake.decide import handle_alert
from intake.decide import opened as opened_by
from intake.incidents import IncidentState
from router.routing import assign

from shared.contract import Contract, load_contract
from shared.contract.view import ContractView
from shared.events import (
    AccessActionV1,
    AccessStep,
    ActionKind,
    AlertReceivedV1,
    Envelope,
    EventType,
    IncidentActionRefusedV3,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    IncidentStatus,
    PartyActionV2,
    Role,
    make_event,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # a night


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(ROOT / "examples" / "minimal" / "contract.yaml")


def webhook(labels: dict[str, str], fingerprint: str = "f1") -> AlertmanagerWebhook:
    return AlertmanagerWebhook.model_validate(
        {
            "version": "4",
            "groupKey": "g",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": "down"},
                    "startsAt": "2026-11-27T02:28:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": fingerprint,
                }
            ],
        }
    )


def received(contract: Contract, labels: dict[str, str], fingerprint: str = "f1") -> Envelope:
    (alert,) = normalise(webhook(labels, fingerprint), contract)
    return make_event(
        AlertReceivedV1(alert=alert, received_at=NOW),
        source="intake",
        time=NOW,
    )


def command(incident: str, action: ActionKind, party: str) -> Envelope:
    return make_event(
        PartyActionV2(action=action, party=party, actor="someone", cause="c"),
        source="test",
        time=NOW,
        subject=incident,
    )


def test_alertmanager_labels_pick_the_most_specific_object(contract: Contract) -> None:
    (alert,) = normalise(webhook({"instance": "srv-db-01", "job": "node"}), contract)
    assert alert.object_id == "os-db-01"
    (alert,) = normalise(webhook({"instance": "srv-db-01"}), contract)
    assert alert.object_id == "srv-db-01"
    assert alert.ends_at is None  # Alertmanager's zero time means "still firing"


def test_alert_outside_the_perimeter_opens_an_incident_for_the_coordinator(
    contract: Contract,
) -> None:
    _, opened = opened_by(
        received(contract, {"instance": "printer-7"}), ContractView.of(contract), NOW
    )
    assert isinstance(opened.data, IncidentOpenedV1)
    assert opened.data.outside_perimeter
    parties = {a.data.role: a.data.party for a in assign(opened, ContractView.of(contract), NOW)}  # type: ignore[attr-defined]
    assert parties == {Role.PRIMARY: "apps", Role.COORDINATOR: "apps"}


def test_repeat_alert_attaches_and_redelivery_repeats_the_same_event(contract: Contract) -> None:
    first = received(contract, {"service": "postgres", "severity": "critical"})
    state, opened = opened_by(first, ContractView.of(contract), NOW)
    assert opened.type == EventType.INCIDENT_OPENED
    assert opened_by(first, ContractView.of(contract), NOW)[1].id == opened.id
    again = received(contract, {"service": "postgres", "severity": "critical"})
    state2, (attached,) = handle_alert(again, state, ContractView.of(contract), NOW)
    assert attached.type == EventType.ALERT_ATTACHED
    assert state2 is not None
    assert state2.alerts == {"am:f1": 2}


def _open(contract: Contract) -> IncidentState:
    state, _ = opened_by(
        received(contract, {"service": "postgres", "severity": "critical"}),
        ContractView.of(contract),
        NOW,
    )
    return state


def test_lifecycle_to_closure_only_by_the_customer(contract: Contract) -> None:
    state = _open(contract)
    assert state.priority == "P1"
    state, out = apply_action(
        command(state.id, ActionKind.ACKNOWLEDGE, "osdb"), state, ContractView.of(contract), NOW
    )
    assert state.status == IncidentStatus.ACKNOWLEDGED
    state, out = apply_action(
        command(state.id, ActionKind.RESTORED, "osdb"), state, ContractView.of(contract), NOW
    )
    assert state.status == IncidentStatus.RESTORED
    state, out = apply_action(
        command(state.id, ActionKind.CONFIRM, "osdb"), state, ContractView.of(contract), NOW
    )
    assert state.status == IncidentStatus.RESTORED
    assert out[0].type == EventType.ACTION_REFUSED
    assert "only the customer" in out[0].data.reason  # type: ignore[attr-defined]
    state, out = apply_action(
        command(state.id, ActionKind.CONFIRM, "customer"), state, ContractView.of(contract), NOW
    )
    assert state.status == IncidentStatus.CLOSED
    assert [e.type for e in out] == [EventType.ACTION_ACCEPTED, EventType.INCIDENT_CLOSED]
    assert out[1].data.participants == ["osdb:someone", "customer:someone"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("action", "party", "reason"),
    [
        (ActionKind.CONFIRM, "customer", "cannot confirm an incident that is open"),
        (ActionKind.ACKNOWLEDGE, "customer", "the customer does not acknowledge"),
        (ActionKind.ACKNOWLEDGE, "mallory", "not a party"),
    ],
)
def test_refusals_name_the_reason(
    contract: Contract, action: ActionKind, party: str, reason: str
) -> None:
    state = _open(contract)
    after, (out,) = apply_action(
        command(state.id, action, party), state, ContractView.of(contract), NOW
    )
    assert after == state
    assert out.type == EventType.ACTION_REFUSED
    assert reason in out.data.reason  # type: ignore[attr-defined]


def test_router_assigns_layer_primary_and_coordinator_deterministically(
    contract: Contract,
) -> None:
    _, opened = opened_by(
        received(contract, {"instance": "srv-db-01"}), ContractView.of(contract), NOW
    )
    first = assign(opened, ContractView.of(contract), NOW)
    parties = {a.data.role: a.data.party for a in first}  # type: ignore[attr-defined]
    assert parties == {Role.PRIMARY: "hw", Role.COORDINATOR: "apps"}
    assert [a.id for a in assign(opened, ContractView.of(contract), NOW + timedelta(hours=1))] == [
        a.id for a in first
    ]


def pause(
    incident: str,
    party: str,
    *,
    action: ActionKind = ActionKind.PAUSE,
    extra: Mapping[str, object] | None = None,
) -> Envelope:
    data = PartyActionV2.model_validate(
        {
            "action": action,
            "party": party,
            "actor": "eng",
            "pause_reason": "no-access",
            **(extra or {}),
        }
    )
    return make_event(data, source="test", time=NOW, subject=incident)


def _asked(state: IncidentState, contract: Contract) -> tuple[IncidentState, str]:
    """``state`` with an access request (a no-access pause names one: ADR 50), and its id."""
    ask = AccessActionV1(action=AccessStep.REQUEST, party="osdb", actor="eng", rule="remote-vpn")
    asked = make_event(ask, source="test", time=NOW, subject=state.id)
    state, _, verdict = apply_access(asked, state, ContractView.of(contract), NOW)
    assert verdict == (202, "")
    return state, request_id_for(asked)


def test_pause_and_resume_by_contract_reason(contract: Contract) -> None:
    state = _open(contract)
    state, rid = _asked(state, contract)
    evidence = {"evidence": [f"request {rid} at 02:35"]}
    state, (accepted,) = apply_action(
        pause(state.id, "osdb", extra=evidence), state, ContractView.of(contract), NOW
    )
    assert accepted.type == EventType.ACTION_ACCEPTED
    assert accepted.data.pause_reason == "no-access"  # type: ignore[attr-defined]
    assert state.paused == {"recovery": "no-access"}
    _, (again,) = apply_action(
        pause(state.id, "osdb", extra=evidence), state, ContractView.of(contract), NOW
    )
    assert "already paused" in again.data.reason  # type: ignore[attr-defined]
    state, (resumed,) = apply_action(
        pause(state.id, "osdb", action=ActionKind.RESUME), state, ContractView.of(contract), NOW
    )
    assert resumed.type == EventType.ACTION_ACCEPTED
    assert state.paused == {}
    _, (twice,) = apply_action(
        pause(state.id, "osdb", action=ActionKind.RESUME), state, ContractView.of(contract), NOW
    )
    assert "not paused" in twice.data.reason  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"pause_reason": "tea-break", "evidence": ["x"]}, "not in the contract"),
        ({"clock": "response", "evidence": ["x"]}, "does not pause the response clock"),
        ({}, "evidence: no-access requires"),
        ({"party_override": "customer", "evidence": ["x"]}, "may not invoke"),
    ],
)
def test_pause_refusals_name_the_reason(
    contract: Contract, extra: dict[str, object], reason: str
) -> None:
    state = _open(contract)
    party = str(extra.pop("party_override", "osdb"))
    _, (out,) = apply_action(
        pause(state.id, party, extra=extra), state, ContractView.of(contract), NOW
    )
    assert out.type == EventType.ACTION_REFUSED
    assert reason in out.data.reason  # type: ignore[attr-defined]


def test_restoration_ends_a_pause_and_rejection_reopens_work(contract: Contract) -> None:
    state = _open(contract)
    state, _ = apply_action(
        pause(state.id, "osdb", extra={"evidence": ["x"]}), state, ContractView.of(contract), NOW
    )
    state, _ = apply_action(
        command(state.id, ActionKind.RESTORED, "osdb"), state, ContractView.of(contract), NOW
    )
    assert state.paused == {}
    state, (out,) = apply_action(
        command(state.id, ActionKind.REJECT, "customer"), state, ContractView.of(contract), NOW
    )
    assert out.type == EventType.ACTION_ACCEPTED
    assert state.status == IncidentStatus.ACKNOWLEDGED


def reclassify(incident: str, party: str, **fields: object) -> Envelope:
    data = PartyActionV2.model_validate(
        {"action": "reclassify", "party": party, "actor": "lead", **fields}
    )
    return make_event(data, source="test", time=NOW, subject=incident)


def test_reclassification_is_a_recorded_override(contract: Contract) -> None:
    state = _open(contract)
    assert (state.priority, state.category) == ("P1", "outage")
    command = reclassify(state.id, "apps", priority="P2", note="only one branch affected")
    state, out = apply_action(command, state, ContractView.of(contract), NOW)
    assert (state.priority, state.category) == ("P2", "outage")
    assert [e.type for e in out] == [EventType.ACTION_ACCEPTED, EventType.INCIDENT_RECLASSIFIED]
    done = out[1].data_as(IncidentReclassifiedV1)
    assert (done.priority, done.category, done.reason) == (
        "P2",
        "outage",
        "only one branch affected",
    )
    assert done.by == "apps:lead"


@pytest.mark.parametrize(
    ("party", "fields", "reason"),
    [
        ("osdb", {"priority": "P2", "note": "x"}, "only the coordinator or the customer"),
        ("apps", {"priority": "P2"}, "note: a reclassification records its reason"),
        ("apps", {"priority": "P9", "note": "x"}, "priority: 'P9' is not in the contract"),
        ("apps", {"note": "x"}, "names at least one"),
        ("customer", {"priority": "P1", "note": "x"}, "already has them"),
    ],
)
def test_reclassification_refusals(
    contract: Contract, party: str, fields: dict[str, object], reason: str
) -> None:
    state = _open(contract)
    after, (out,) = apply_action(
        reclassify(state.id, party, **fields), state, ContractView.of(contract), NOW
    )
    assert after == state
    assert reason in out.data_as(IncidentActionRefusedV3).reason


@pytest.mark.parametrize(
    ("party", "note", "refusal"),
    [
        ("osdb", "new contract", "only the coordinator re-routes"),
        ("apps", "", "note: a re-route records its reason"),
        ("apps", "contract 2026.12 moved the DBMS layer", None),
    ],
)
def test_only_the_coordinator_reroutes_with_a_reason(
    contract: Contract, party: str, note: str, refusal: str | None
) -> None:
    state = _open(contract)
    data = PartyActionV2(action=ActionKind.REROUTE, party=party, actor="lead", note=note)
    command = make_event(data, source="test", time=NOW, subject=state.id)
    _, (out,) = apply_action(command, state, ContractView.of(contract), NOW)
    if refusal is None:
        assert out.type == EventType.ACTION_ACCEPTED
    else:
        assert refusal in out.data_as(IncidentActionRefusedV3).reason


@pytest.mark.parametrize(
    ("evidence", "refused"),
    [
        ([], True),
        (["."], True),  # issue 25: one "." satisfied the reason's demand
        (["request {rid} at 02:35"], False),
    ],
)
def test_a_pause_carries_each_piece_of_evidence_its_reason_demands(
    contract: Contract, evidence: list[str], refused: bool
) -> None:
    state, rid = _asked(_open(contract), contract)
    named = [e.format(rid=rid) for e in evidence]
    _, (out,) = apply_action(
        pause(state.id, "osdb", extra={"evidence": named}), state, ContractView.of(contract), NOW
    )
    assert (out.type == EventType.ACTION_REFUSED) == refused
    if refused:
        assert out.data.reason.startswith("evidence: no-access requires 1 piece(s)")  # type: ignore[attr-defined]


def test_two_demanded_pieces_need_two(contract: Contract) -> None:
    demanding = contract.model_copy(
        update={
            "pause_reasons": [
                r.model_copy(update={"evidence": [*r.evidence, "the lead time that passed"]})
                for r in contract.pause_reasons
            ]
        }
    )
    state, rid = _asked(_open(demanding), demanding)
    one = {"evidence": [f"request {rid} at 02:35"]}
    _, (out,) = apply_action(
        pause(state.id, "osdb", extra=one), state, ContractView.of(demanding), NOW
    )
    assert "requires 2 piece(s)" in out.data.reason  # type: ignore[attr-defined]
    two = {"evidence": [f"request {rid} at 02:35", "lead time 4h passed at 06:35"]}
    _, (out,) = apply_action(
        pause(state.id, "osdb", extra=two), state, ContractView.of(demanding), NOW
    )
    assert out.type == EventType.ACTION_ACCEPTED


def test_an_actions_free_text_is_bounded(contract: Contract) -> None:
    state = _open(contract)
    huge = make_event(
        PartyActionV2(action=ActionKind.NOTE, party="osdb", actor="eng", note="x" * 400_000),
        source="test",
        time=NOW,
        subject=state.id,
    )
    _, (out,) = apply_action(huge, state, ContractView.of(contract), NOW)
    assert out.type == EventType.ACTION_REFUSED
    assert out.data.reason == "note: 400000 characters, at most 4000"  # type: ignore[attr-defined]
