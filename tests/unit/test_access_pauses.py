"""The recovery clock pauses by itself when an access request's lead time passes unanswered, and
resumes at the answer (ADR 50) — the pure core, on the example contract in contract time: a P1
on the accounting database at 02:05, ``db-privileged`` requested at 02:10 (15 min lead time,
after-hours approval by customer/it-duty), approved at 02:40: 15 minutes paused for
``no-approver``, with its evidence."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from intake.access import apply_access
from intake.incidents import IncidentState
from reporting.closure_report import closure_document
from reporting.document_facts import ClosureFacts, MonthlyFacts
from reporting.monthly_report import monthly_document
from sla_clock import access_timers
from sla_clock.access_timers import NO_ACCESS, NO_APPROVER, AccessTimer
from sla_clock.decide import opened_record
from sla_clock.timeline import IncidentRecord, Rules, fold

from shared.contract.view import ContractView
from shared.documents import Section
from shared.events import (
    AccessActionV1,
    AccessRequestV1,
    AccessStep,
    ClockKind,
    Envelope,
    IncidentStatus,
    PauseAnsweredV1,
    PauseVerdict,
    SlaClockPausedV1,
    SlaClockResumedV1,
    make_event,
)
from tests import factories

CONTRACT = factories.example()
VIEW = ContractView.of(CONTRACT)
RULES = Rules(ContractView.of(CONTRACT))
REASONS = {r.id: list(r.clocks) for r in CONTRACT.pause_reasons}
ALMATY = ZoneInfo("Asia/Almaty")
INC = "inc-acc"


def at(hh: int, mm: int) -> datetime:
    return datetime(2026, 3, 11, hh, mm, tzinfo=ALMATY)


OPENED = factories.opened(
    INC, at(2, 5), object_id="pg-acc", summary="accounting database down", event_id=uuid.UUID(int=1)
)
STATE = factories.state_of(OPENED, IncidentStatus.ACKNOWLEDGED)


def record() -> IncidentRecord:
    return opened_record(OPENED, RULES.view)


def step(
    state: IncidentState, kind: AccessStep, party: str, actor: str, when: datetime, **f: object
) -> tuple[IncidentState, AccessRequestV1]:
    data = AccessActionV1(action=kind, party=party, actor=actor, **f)
    cmd = make_event(data, source="test", time=when, subject=INC, event_id=uuid.uuid4())
    state, events, answer = apply_access(cmd, state, VIEW, when)
    assert answer == (202, ""), answer
    return state, events[0].data_as(AccessRequestV1)


def night_request() -> tuple[IncidentState, AccessRequestV1]:
    return step(STATE, AccessStep.REQUEST, "sysops", "dba", at(2, 10), rule="db-privileged")


def break_glass(reason: str) -> AccessRequestV1:
    """sysops' DBA takes the privileged role at 02:12 without approval, for ``reason``."""
    return step(
        STATE, AccessStep.EMERGENCY, "sysops", "dba", at(2, 12), rule="db-privileged", reason=reason
    )[1]


def approve(state: IncidentState, rid: str, when: datetime) -> AccessRequestV1:
    return step(state, AccessStep.APPROVE, "customer", "it-duty", when, request_id=rid)[1]


def planned(request: AccessRequestV1, found: AccessTimer | None = None) -> AccessTimer:
    plan = access_timers.on_request(found, request, INC, 0, REASONS)
    assert plan.facts == []
    assert plan.timer is not None
    return plan.timer


def paused_events(events: list[Envelope]) -> list[SlaClockPausedV1]:
    return [e.data for e in events if isinstance(e.data, SlaClockPausedV1)]


def resumed_events(events: list[Envelope]) -> list[SlaClockResumedV1]:
    return [e.data for e in events if isinstance(e.data, SlaClockResumedV1)]


def test_nobody_approves_the_clock_pauses_at_the_lead_time_and_resumes_at_the_approval() -> None:
    state, request = night_request()
    timer = planned(request)
    assert (timer.reason, timer.due) == (NO_APPROVER, at(2, 25))

    # 02:25: the tick fires the row
    facts = access_timers.on_fire(timer, REASONS)
    rec, events = access_timers.with_facts(record(), facts, RULES, at(2, 25))
    [paused] = paused_events(events)
    assert paused.clock == ClockKind.RECOVERY
    assert paused.pause_reason == NO_APPROVER
    assert paused.paused_at == at(2, 25)
    assert (paused.party, paused.actor) == ("sysops", "baton")
    assert request.request_id in paused.evidence[0]
    assert "lead time 0:15:00 of db-privileged passed" in paused.evidence[1]
    assert "without approval by customer/it-duty" in paused.evidence[1]
    assert "customer/security, customer/it-duty" in paused.evidence[2]

    # 02:40: the approver approves: the clock resumes, 15 minutes excluded
    approved = approve(state, request.request_id, at(2, 40))
    fired = dataclasses.replace(timer, fired_at=at(2, 25))
    plan = access_timers.on_request(fired, approved, INC, 0, REASONS)
    rec, events = access_timers.with_facts(rec, plan.facts, RULES, at(2, 40))
    [resumed] = resumed_events(events)
    assert resumed.pause_reason == NO_APPROVER
    assert resumed.resumed_at == at(2, 40)
    assert resumed.paused == timedelta(minutes=15)
    assert fold(rec, RULES)[ClockKind.RECOVERY].paused_by("reason") == {
        NO_APPROVER: timedelta(minutes=15)
    }
    # the grant that follows neither pauses nor resumes anything again
    granted = step(
        state.model_copy(update={"access": {request.request_id: approved}}),
        AccessStep.GRANT,
        "customer",
        "security",
        at(2, 45),
        request_id=request.request_id,
    )[1]
    again = access_timers.on_request(plan.timer, granted, INC, 0, REASONS)
    assert again.facts == []


def test_a_late_tick_pauses_from_the_lead_time_all_the_same() -> None:
    state, request = night_request()
    timer = planned(request)
    approved = approve(state, request.request_id, at(2, 40))
    plan = access_timers.on_request(timer, approved, INC, 0, REASONS)  # the row never fired
    assert plan.timer is not None
    assert plan.timer.fired_at == at(2, 40)
    rec, events = access_timers.with_facts(record(), plan.facts, RULES, at(2, 40))
    assert [p.paused_at for p in paused_events(events)] == [at(2, 25)]
    assert [r.paused for r in resumed_events(events)] == [timedelta(minutes=15)]
    assert fold(rec, RULES)[ClockKind.RECOVERY].paused == timedelta(minutes=15)


def test_approved_in_time_then_waits_for_the_grant_as_no_access() -> None:
    state, request = night_request()
    timer = planned(request)
    approved = approve(state, request.request_id, at(2, 20))
    retimed = planned(approved, timer)
    assert (retimed.reason, retimed.due) == (NO_ACCESS, at(2, 25))
    state = state.model_copy(update={"access": {request.request_id: approved}})
    granted = step(
        state, AccessStep.GRANT, "customer", "security", at(2, 22), request_id=request.request_id
    )[1]
    done = access_timers.on_request(retimed, granted, INC, 0, REASONS)
    assert (done.facts, done.timer) == ([], None)  # answered in time: nothing paused


def test_no_pause_where_the_contract_does_not_list_the_reason() -> None:
    _, request = night_request()
    plan = access_timers.on_request(None, request, INC, 0, {"customer-unavailable": []})
    assert (plan.facts, plan.timer) == ([], None)


def test_break_glass_sets_no_timer() -> None:
    glass = break_glass("data loss")
    plan = access_timers.on_request(None, glass, INC, 0, REASONS)
    assert (plan.facts, plan.timer) == ([], None)


def test_a_denial_after_the_lead_time_leaves_the_clock_paused() -> None:
    state, request = night_request()
    timer = planned(request)
    denied = step(
        state,
        AccessStep.DENY,
        "customer",
        "security",
        at(2, 30),
        request_id=request.request_id,
        reason="not tonight",
    )[1]
    plan = access_timers.on_request(timer, denied, INC, 0, REASONS)
    rec, events = access_timers.with_facts(record(), plan.facts, RULES, at(2, 30))
    assert len(paused_events(events)) == 1
    assert resumed_events(events) == []
    assert fold(rec, RULES)[ClockKind.RECOVERY].open_pause is not None


def stored(event: Envelope) -> dict[str, Any]:
    """An event's data as reporting's audit trail keeps it (JSON)."""
    return event.data.model_dump(mode="json")


def night() -> tuple[AccessRequestV1, list[dict[str, Any]]]:
    """The night as reporting records it: the request at 02:10, the pause at 02:25, the
    approval and the resume at 02:40."""
    state, request = night_request()
    timer = planned(request)
    rec, paused = access_timers.with_facts(
        record(), access_timers.on_fire(timer, REASONS), RULES, at(2, 25)
    )
    approved = approve(state, request.request_id, at(2, 40))
    fired = dataclasses.replace(timer, fired_at=at(2, 25))
    plan = access_timers.on_request(fired, approved, INC, 0, REASONS)
    _, resumed = access_timers.with_facts(rec, plan.facts, RULES, at(2, 40))
    asked = make_event(request, source="intake", time=at(2, 10), subject=INC)
    answered = make_event(approved, source="intake", time=at(2, 40), subject=INC)
    events = [
        {
            "incident_id": INC,
            "type": e.type.value,
            "time": e.time,
            "data": stored(e),
        }
        for e in (asked, *paused, answered, *resumed)
    ]
    return request, events


ROW = factories.incident_row(
    at(2, 5), id=INC, summary="accounting database down", acknowledged_at=None
)
"""The incident as reporting's row reads."""


def section(events: list[dict[str, Any]], title: str) -> Section:
    doc = closure_document(ClosureFacts(ROW, None, [], events), ContractView.of(CONTRACT))
    return next(s for s in doc.sections if s.title == title)


def test_the_closure_report_lists_the_request_who_approved_and_the_15_minutes_paused() -> None:
    request, events = night()
    [row] = section(events, "Access and approvals").tables[0].rows
    assert row[0] == request.request_id
    assert row[2] == "sysops:dba at 2026-03-11 02:10"
    assert row[4] == "customer:it-duty at 2026-03-11 02:40 (waited 30 minutes)"
    assert row[6] == "15 minutes"
    [pause] = section(events, "SLA clocks").tables[1].rows
    assert pause[3:6] == ("2026-03-11 02:25", "2026-03-11 02:40", "15 minutes")
    assert request.request_id in pause[6]
    assert "lead time 0:15:00 of db-privileged passed" in pause[6]


def test_the_closure_report_says_the_rules_contact_confirmed_completion() -> None:
    confirm: dict[str, Any] = {
        "incident_id": INC,
        "type": "baton.incident.action_accepted",
        "time": at(3, 0),
        "data": {
            "action": "confirm",
            "party": "customer",
            "actor": "it-duty (link)",
            "at": at(3, 0).isoformat(),
            "command_id": str(uuid.uuid4()),
        },
    }
    said = section([confirm], "Participants and confirmation").paragraphs[0]
    assert "Completion of work on pg-acc confirmed by customer/it-duty" in said
    other = {**confirm, "data": {**confirm["data"], "actor": "it-head"}}
    said = section([other], "Participants and confirmation").paragraphs[0]
    assert "confirmed by customer/it-duty under db-privileged: not yet" in said


def monthly(events: list[dict[str, Any]], title: str) -> tuple[str, ...]:
    facts = MonthlyFacts(date(2026, 3, 1), [], [], events, [], [], [], [], [], {"incidents": 1})
    found = next(s for s in monthly_document(facts, CONTRACT).sections if s.title == title)
    [row] = found.tables[0].rows
    return row


def test_the_monthly_report_sums_the_waits_per_rule_and_party() -> None:
    _, events = night()
    row = monthly(events, "Waiting for access and approvals")
    assert row[0] == "db-privileged"
    assert "SysOps" in row[1]
    assert row[2:] == ("1", "30 minutes", "none", "15 minutes")  # not granted yet


def _answered(verdict: str, note: str = "") -> dict[str, Any]:
    data = PauseAnsweredV1(
        verdict=PauseVerdict(verdict),
        party="customer",
        actor="it-duty",
        clock=ClockKind.RECOVERY,
        pause_reason=NO_APPROVER,
        paused_at=at(2, 25),
        at=at(3, 0),
        command_id=uuid.uuid4(),
        note=note,
    )
    return {
        "incident_id": INC,
        "type": "baton.incident.pause_answered",
        "time": at(3, 0),
        "data": data.model_dump(mode="json"),
    }


def test_a_pause_the_customer_confirms_shows_unconfirmed_until_it_answers() -> None:
    _, events = night()

    def customer_column(evs: list[dict[str, Any]]) -> str:
        [pause] = section(evs, "SLA clocks").tables[1].rows
        return pause[7]

    assert customer_column(events) == "unconfirmed"
    assert customer_column([*events, _answered("confirm")]).startswith("confirmed by it-duty")
    disputed = customer_column([*events, _answered("dispute", "reachable at 02:20")])
    assert disputed.startswith("disputed by it-duty")
    assert disputed.endswith(": reachable at 02:20")
    # the monthly report counts unconfirmed and disputed pause time apart
    assert monthly(events, "Pauses")[2:] == ("15 minutes", "15 minutes", "none")
    assert monthly([*events, _answered("confirm")], "Pauses")[3:] == ("none", "none")
    assert monthly([*events, _answered("dispute", "no")], "Pauses")[3:] == ("none", "15 minutes")


def test_break_glass_is_listed_in_the_closure_report_with_who_and_why() -> None:
    glass = break_glass("data loss in progress")
    event = make_event(glass, source="intake", time=at(2, 12), subject=INC)
    row = {"incident_id": INC, "type": event.type.value, "time": event.time, "data": stored(event)}
    [listed] = section([row], "Access and approvals").tables[0].rows
    assert listed[2] == "sysops:dba at 2026-03-11 02:12"
    assert listed[4] == "break glass, no prior approval: data loss in progress"
    assert listed[5].startswith("DBA break-glass role")
