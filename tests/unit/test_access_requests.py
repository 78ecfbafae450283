"""Access requests as actions (ADR 49) on the example contract, in contract time (Asia/Almaty):
a P1 on the accounting database ``pg-acc`` (rule ``db-privileged``: issued by
customer/security in 15 min, after-hours approval by customer/it-duty), the DBMS contractor
``sysops`` its primary owner. Who may ask, grant and approve, and each refusal."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from intake.access import apply_access, apply_command, speaks_for
from intake.actions import verdict
from intake.incidents import IncidentState

from shared.contract.view import ContractView
from shared.events import (
    AccessActionV1,
    AccessRefusedV1,
    AccessRequestV1,
    AccessStatus,
    AccessStep,
    ActionKind,
    ClockKind,
    Envelope,
    EventType,
    IncidentStatus,
    Layer,
    PartyActionV2,
    PauseAnsweredV1,
    PauseAnswerV1,
    make_event,
)
from tests import factories

CONTRACT = factories.example()
VIEW = ContractView.of(CONTRACT)
ALMATY = ZoneInfo("Asia/Almaty")


def at(hh: int, mm: int, day: int = 11) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=ALMATY)  # a Wednesday


P1 = factories.open_incident("pg-acc", Layer.DBMS, at(2, 5), incident="inc-acc")


def command(step: AccessStep, party: str, actor: str, when: datetime, **fields: object) -> Envelope:
    data = AccessActionV1(action=step, party=party, actor=actor, **fields)
    return make_event(data, source="test", time=when, subject=P1.id, event_id=uuid.uuid4())


def run(state: IncidentState, cmd: Envelope) -> tuple[IncidentState, Envelope, tuple[int, str]]:
    new, events, answer = apply_access(cmd, state, VIEW, cmd.time)
    assert len(events) == 1
    return new, events[0], answer


def requested(when: datetime | None = None) -> tuple[IncidentState, AccessRequestV1]:
    cmd = command(
        AccessStep.REQUEST,
        "sysops",
        "dba",
        when or at(2, 10),
        rule="db-privileged",
        purpose="restore the accounting database",
        duration=timedelta(hours=2),
    )
    state, event, answer = run(P1, cmd)
    assert answer == (202, "")
    return state, event.data_as(AccessRequestV1)


def test_a_night_request_records_the_rule_the_issuer_and_the_approver_needed_now() -> None:
    state, request = requested()
    assert request.status == AccessStatus.REQUESTED
    assert (request.rule, request.object_id, request.mode) == ("db-privileged", "pg-acc", "remote")
    assert request.issued_by == "customer/security"
    assert request.lead_time == timedelta(minutes=15)
    assert request.due_at == at(2, 25)
    assert request.after_hours
    assert request.needs_approval
    assert request.approver == "customer/it-duty"
    assert request.tell == ["customer/security", "customer/it-duty"]
    assert request.waiting_for == "approval"
    assert state.access[request.request_id] == request
    assert "sysops:dba" in state.participants


def test_in_business_hours_the_same_rule_needs_no_approval() -> None:
    _, request = requested(at(11, 0))
    assert not request.after_hours
    assert not request.needs_approval
    assert request.approver is None
    assert request.tell == ["customer/security"]
    assert request.waiting_for == "grant"


def test_approval_then_grant_by_their_contacts() -> None:
    state, request = requested()
    rid = request.request_id
    state, event, answer = run(
        state, command(AccessStep.APPROVE, "customer", "it-duty", at(2, 40), request_id=rid)
    )
    assert answer == (202, "")
    approved = event.data_as(AccessRequestV1)
    assert approved.status == AccessStatus.APPROVED
    assert (approved.approved_at, approved.approved_by) == (at(2, 40), "customer:it-duty")
    assert approved.tell == ["customer/security"]
    assert approved.waiting_for == "grant"
    state, event, answer = run(
        state,
        command(AccessStep.GRANT, "customer", "security (link)", at(2, 45), request_id=rid),
    )
    assert answer == (202, "")
    granted = event.data_as(AccessRequestV1)
    assert granted.status == AccessStatus.GRANTED
    assert granted.waiting_for is None


def refused(state: IncidentState, cmd: Envelope, status: int, says: str) -> None:
    new, event, answer = run(state, cmd)
    assert new == state
    assert event.type == EventType.ACCESS_REFUSED
    assert answer[0] == status, answer
    assert says in answer[1]
    assert event.data_as(AccessRefusedV1).reason == answer[1]


def test_a_non_approver_approving_is_refused() -> None:
    state, request = requested()
    rid = request.request_id
    # the issuer is not the approver; nor is the customer's head of IT; nor a contractor
    for party, actor in (("customer", "security"), ("customer", "it-head"), ("sysops", "it-duty")):
        cmd = command(AccessStep.APPROVE, party, actor, at(2, 30), request_id=rid)
        refused(state, cmd, 403, "only the rule's approver customer/it-duty")


def test_a_grant_by_a_contractor_is_refused() -> None:
    state, request = requested(at(11, 0))
    cmd = command(AccessStep.GRANT, "sysops", "security", at(11, 5), request_id=request.request_id)
    refused(state, cmd, 403, "only the rule's issuer customer/security")


def test_approving_twice_is_refused() -> None:
    state, request = requested()
    rid = request.request_id
    state, _, _ = run(
        state, command(AccessStep.APPROVE, "customer", "it-duty", at(2, 40), request_id=rid)
    )
    again = command(AccessStep.APPROVE, "customer", "it-duty", at(2, 41), request_id=rid)
    refused(state, again, 409, "already answered")


def test_the_issuer_does_not_grant_before_the_approval() -> None:
    state, request = requested()
    cmd = command(
        AccessStep.GRANT, "customer", "security", at(2, 20), request_id=request.request_id
    )
    refused(state, cmd, 409, "waits for approval by customer/it-duty")


def test_approving_what_needs_no_approval_is_refused() -> None:
    state, request = requested(at(11, 0))
    cmd = command(
        AccessStep.APPROVE, "customer", "it-duty", at(11, 5), request_id=request.request_id
    )
    refused(state, cmd, 409, "needs no approval")


def test_a_denied_request_takes_no_more_answers() -> None:
    state, request = requested()
    rid = request.request_id
    deny = command(AccessStep.DENY, "customer", "security", at(2, 20), request_id=rid)
    refused(state, deny, 409, "reason: a deny records its reason")
    deny = command(
        AccessStep.DENY,
        "customer",
        "security",
        at(2, 20),
        request_id=rid,
        reason="no change window",
    )
    state, event, answer = run(state, deny)
    assert answer == (202, "")
    assert event.data_as(AccessRequestV1).status == AccessStatus.DENIED
    approve = command(AccessStep.APPROVE, "customer", "it-duty", at(2, 30), request_id=rid)
    refused(state, approve, 409, "is denied")


@pytest.mark.parametrize(
    ("party", "fields", "status", "says"),
    [
        ("customer", {"rule": "db-privileged"}, 403, "the primary owner or a check party asks"),
        ("onec", {"rule": "db-privileged"}, 403, "may not request_access"),
        ("sysops", {"rule": "dc-hands"}, 409, "is not the access rule of"),
        ("sysops", {"rule": "nope"}, 409, "rule: 'nope' is not in the contract"),
        ("sysops", {}, 409, "rule: name the access rule"),
        ("sysops", {"rule": "db-privileged", "object_id": "srv-pg-01"}, 409, "not an object"),
        ("stranger", {"rule": "db-privileged"}, 403, "not a party of contract"),
    ],
)
def test_who_may_ask_and_for_what(
    party: str, fields: dict[str, object], status: int, says: str
) -> None:
    refused(P1, command(AccessStep.REQUEST, party, "eng", at(2, 10), **fields), status, says)


def test_a_check_party_may_ask() -> None:
    cmd = command(AccessStep.REQUEST, "hw", "lead", at(2, 10), rule="db-privileged")
    _, event, answer = run(P1, cmd)
    assert answer == (202, "")
    assert event.type == EventType.ACCESS_REQUEST


def test_an_unknown_request_is_refused() -> None:
    cmd = command(AccessStep.APPROVE, "customer", "it-duty", at(2, 10), request_id="acc-nope")
    refused(P1, cmd, 409, "no access request 'acc-nope'")


def test_no_request_on_a_restored_incident() -> None:
    restored = P1.model_copy(update={"status": IncidentStatus.RESTORED})
    cmd = command(AccessStep.REQUEST, "sysops", "dba", at(2, 10), rule="db-privileged")
    refused(restored, cmd, 409, "the incident is restored")


def test_break_glass_needs_no_approval_records_why_and_tells_approver_and_security() -> None:
    cmd = command(
        AccessStep.EMERGENCY,
        "sysops",
        "dba",
        at(2, 12),
        rule="db-privileged",
        reason="data loss in progress",
    )
    _state, event, answer = run(P1, cmd)
    assert answer == (202, "")
    glass = event.data_as(AccessRequestV1)
    assert glass.status == AccessStatus.EMERGENCY
    assert glass.waiting_for is None
    assert not glass.needs_approval
    assert glass.emergency.startswith("DBA break-glass role")
    assert (glass.by, glass.reason) == ("sysops:dba", "data loss in progress")
    assert glass.tell == ["customer/it-duty", "customer/security"]
    without_reason = command(AccessStep.EMERGENCY, "sysops", "dba", at(2, 12), rule="db-privileged")
    refused(P1, without_reason, 409, "reason: break glass records why")


def test_the_actor_names_the_contact() -> None:
    def act(party: str, actor: str) -> AccessActionV1:
        return AccessActionV1(action=AccessStep.APPROVE, party=party, actor=actor)

    ref = "customer/it-duty"
    name = CONTRACT.contact(ref)
    assert name is not None
    assert speaks_for(act("customer", "it-duty"), ref, VIEW)
    assert speaks_for(act("customer", name[1].name), ref, VIEW)
    assert speaks_for(act("customer", "it-duty (link)"), ref, VIEW)
    assert not speaks_for(act("customer", "it-duty-2"), ref, VIEW)
    assert not speaks_for(act("customer", "it-duty-2 (link)"), ref, VIEW)
    assert not speaks_for(act("appint", "it-duty"), ref, VIEW)
    assert not speaks_for(act("customer", "it-duty"), None, VIEW)


def pause(reason: str, evidence: list[str]) -> PartyActionV2:
    return PartyActionV2(
        action=ActionKind.PAUSE,
        party="sysops",
        actor="dba",
        clock=ClockKind.RECOVERY,
        pause_reason=reason,
        evidence=evidence,
    )


def test_a_manual_no_access_pause_without_a_request_is_refused() -> None:
    acked = P1.model_copy(update={"status": IncidentStatus.ACKNOWLEDGED})
    two = ["asked security by phone at 02:10", "lead time 15m passed at 02:25"]
    status, reason = verdict(pause("no-access", two), acked, VIEW)
    assert status == 409
    assert "no-access must point at an access request of inc-acc" in reason
    state, request = requested()
    state = state.model_copy(update={"status": IncidentStatus.ACKNOWLEDGED})
    named = [f"request {request.request_id} at 02:10", "lead time 15m passed at 02:25"]
    assert verdict(pause("no-approver", named), state, VIEW) == (202, "")


def answer(verdict: str, party: str, **over: object) -> Envelope:
    data = PauseAnswerV1.model_validate(
        {
            "verdict": verdict,
            "party": party,
            "actor": "it-duty",
            "clock": "recovery",
            "pause_reason": "no-approver",
            "paused_at": at(2, 25),
            **over,
        }
    )
    return make_event(data, source="test", time=at(3, 0), subject=P1.id, event_id=uuid.uuid4())


def test_the_customer_confirms_or_disputes_a_pause_its_reason_names_it_for() -> None:
    _, (event,), verdict_ = apply_command(answer("confirm", "customer"), P1, VIEW, at(3, 0))
    assert verdict_ == (202, "")
    answered = event.data_as(PauseAnsweredV1)
    assert (answered.verdict, answered.paused_at, answered.at) == ("confirm", at(2, 25), at(3, 0))
    why = {"note": "the IT duty manager was reachable by phone at 02:20"}
    _, (event,), verdict_ = apply_command(answer("dispute", "customer", **why), P1, VIEW, at(3, 0))
    assert verdict_ == (202, "")


@pytest.mark.parametrize(
    ("party", "over", "status", "says"),
    [
        ("sysops", {}, 403, "confirmed by customer, not sysops"),
        ("customer", {"pause_reason": "tea"}, 409, "'tea' is not in the contract"),
        ("customer", {"clock": "response"}, 409, "does not pause the response clock"),
        ("customer", {"verdict": "dispute"}, 409, "note: a dispute records why"),
    ],
)
def test_a_pause_answer_by_another_party_or_without_its_reason_is_refused(
    party: str, over: dict[str, object], status: int, says: str
) -> None:
    cmd = answer(str(over.pop("verdict", "confirm")), party, **over)
    _, (event,), verdict_ = apply_command(cmd, P1, VIEW, at(3, 0))
    assert verdict_[0] == status
    assert says in verdict_[1]
    assert event.type == EventType.PAUSE_ANSWER_REFUSED
