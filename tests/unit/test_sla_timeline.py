"""The SLA clock's pure core: hand-worked tables, then properties checked by hypothesis.

Expected instants are worked out by hand in Europe/Berlin wall time with the UTC reading in the
comment (CET = UTC+1 in winter, CEST = UTC+2 in summer; 2026-10-25 is the fall-back Sunday).
Calendars of the test contract:

* ``office``: Mon–Fri 09:00–18:00 Europe/Berlin, German public holidays (2026-12-25/26);
* ``extended``: every day 08:00–20:00 Europe/Berlin;
* ``24x7``: always open.

Targets: outage P1 15m/4h and P2 30m/8h round the clock; degradation P3 2h/8h on ``office``;
integration issue P3 1h/4h on ``extended``. Warnings at 50/75/90 %, and the minimal
contract's escalation level 2 adds 80 % to the response clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sla_clock.timeline import (
    BREACH,
    ClockState,
    Fact,
    FactKind,
    IncidentRecord,
    Rules,
    at_instant,
    ended_pauses,
    fold,
    share,
)

from shared.contract import Contract, load_contract
from shared.contract.model import classify
from shared.contract.view import ContractView
from shared.events import Category, ClockKind, Layer

ROOT = Path(__file__).resolve().parents[2]
H = timedelta(hours=1)
M = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def build_contract(**sla: Any) -> Contract:
    base = load_contract(ROOT / "examples" / "minimal" / "contract.yaml").model_dump(mode="json")
    week = ["mon", "tue", "wed", "thu", "fri"]
    base["calendars"] = [
        {"id": "24x7", "kind": "24x7", "timezone": "Europe/Berlin"},
        {
            "id": "office",
            "kind": "business_hours",
            "timezone": "Europe/Berlin",
            "weekly": {d: ["09:00-18:00"] for d in week},
            "holidays_country": "DE",
        },
        {
            "id": "extended",
            "kind": "business_hours",
            "timezone": "Europe/Berlin",
            "weekly": {d: ["08:00-20:00"] for d in [*week, "sat", "sun"]},
        },
    ]
    base["parties"]["customer"]["duty"] = [{"calendar": "office", "contact": "it-head"}]
    base["sla"] = {
        "period_calendar": "office",
        "warnings": [0.5, 0.75, 0.9],
        "clock_start": "registered",
        "targets": [
            {"category": "outage", "priority": "P1", "response": "15m", "recovery": "4h"},
            {"category": "outage", "priority": "P2", "response": "30m", "recovery": "8h"},
            {
                "category": "degradation",
                "priority": "P3",
                "response": "2h",
                "recovery": "8h",
                "calendar": "office",
            },
            {
                "category": "integration_issue",
                "priority": "P3",
                "response": "1h",
                "recovery": "4h",
                "calendar": "extended",
            },
        ],
        **sla,
    }
    base["pause_reasons"] = [
        {"id": "no-access", "text": "no access", "clocks": ["recovery"]},
        {"id": "no-approver", "text": "no approver", "clocks": ["response", "recovery"]},
    ]
    return Contract.model_validate(base)


RULES = Rules(ContractView.of(build_contract()))

OBJECTS = {
    # category -> (object, layer, priority)
    Category.OUTAGE: ("pg-main", Layer.DBMS, "P1"),
    Category.DEGRADATION: ("acc-app", Layer.APPLICATION, "P3"),
    Category.INTEGRATION_ISSUE: ("bank-exchange", Layer.INTEGRATION, "P3"),
}


def record(
    category: Category, opened: datetime, *facts: Fact, first: datetime | None = None
) -> IncidentRecord:
    obj, layer, priority = OBJECTS[category]
    return IncidentRecord(
        incident_id="inc-1",
        object_id=obj,
        layer=layer,
        party="osdb",
        category=category,
        priority=priority,
        opened_at=opened,
        first_alert_at=first or opened,
        opened_event=uuid.uuid4(),
        facts=list(facts),
    )


def fact(kind: FactKind, at: datetime, **extra: Any) -> Fact:
    return Fact.model_validate(
        {"kind": kind, "at": at, "event_id": uuid.uuid4(), "party": "osdb", "actor": "eng", **extra}
    )


def pause(at: datetime, reason: str = "no-access", **extra: Any) -> Fact:
    return fact("pause", at, reason=reason, evidence=["req #42"], **extra)


def resume(at: datetime, reason: str = "no-access") -> Fact:
    return fact("resume", at, reason=reason)


def reclassify(at: datetime, priority: str, category: Category = Category.OUTAGE) -> Fact:
    return fact("reclassified", at, priority=priority, category=category, reason="impact")


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("case", "kind", "opened", "response_due", "recovery_due"),
    # each instant in UTC
    [
        # Wed 22:00 CET, night: counting starts Thu 09:00; +2h = Thu 11:00 (10:00Z);
        # +8h = Thu 17:00 (16:00Z)
        ("night", "degradation", "2026-12-02 21:00", "2026-12-03 10:00", "2026-12-03 16:00"),
        # Fri 17:00 CET: 1h on Friday, the weekend is closed; response: Mon 09:00 + 1h = 10:00
        # (09:00Z); recovery: Mon 09:00 + 7h = 16:00 (15:00Z)
        ("weekend", "degradation", "2026-12-04 16:00", "2026-12-07 09:00", "2026-12-07 15:00"),
        # Thu 24 Dec 16:00 CET (Christmas Eve is a working day in DE): response: 2h run out at
        # the 18:00 close (17:00Z); recovery: 2h Thu, Fri 25 and Sat 26 holidays, Sun closed,
        # Mon 28 09:00 + 6h = 15:00 (14:00Z)
        ("holiday", "degradation", "2026-12-24 15:00", "2026-12-24 17:00", "2026-12-28 14:00"),
        # Sat 24 Oct 18:00 CEST (16:00Z) on the extended calendar: response 1h = 19:00 CEST
        # (17:00Z); recovery: 2h until 20:00 CEST (18:00Z), clocks go back overnight, Sun 08:00
        # CET = 07:00Z, + 2h = 09:00Z (not 08:00Z, which a fixed offset would give)
        ("dst", "integration_issue", "2026-10-24 16:00", "2026-10-24 17:00", "2026-10-25 09:00"),
        # round the clock: 03:00Z + 15m, + 4h
        ("24x7 night", "outage", "2026-12-05 03:00", "2026-12-05 03:15", "2026-12-05 07:00"),
    ],
)
def test_deadlines_under_the_contract_calendar(
    case: str, kind: str, opened: str, response_due: str, recovery_due: str
) -> None:
    category = Category(kind)
    opened_at, response_at, recovery_at = (
        datetime.fromisoformat(t).replace(tzinfo=UTC) for t in (opened, response_due, recovery_due)
    )
    clocks = fold(record(category, opened_at), RULES)
    assert clocks[ClockKind.RESPONSE].deadline == response_at, case
    assert clocks[ClockKind.RECOVERY].deadline == recovery_at, case
    # the contract model's own answer agrees for a fresh clock
    resolved = RULES.view.due(
        OBJECTS[category][0], category, OBJECTS[category][2], opened_at=opened_at
    )
    assert resolved is not None
    assert (resolved.response_due, resolved.recovery_due) == (response_at, recovery_at)


def test_pause_across_a_weekend_excludes_only_business_hours() -> None:
    """GLPI 10594 counted the whole wall-clock pause (67h) as excluded time."""
    # Fri 4 Dec 09:00 CET (08:00Z) open; pause Fri 15:00 (14:00Z) after 6h; resume Mon 10:00
    # (09:00Z). Excluded: Fri 15–18 (3h) + Mon 09–10 (1h) = 4h. Remaining 2h: Mon 12:00 (11:00Z)
    rec = record(
        Category.DEGRADATION,
        utc(2026, 12, 4, 8),
        pause(utc(2026, 12, 4, 14)),
        resume(utc(2026, 12, 7, 9)),
    )
    recovery = fold(rec, RULES)[ClockKind.RECOVERY]
    assert recovery.status == ClockState.RUNNING
    assert recovery.elapsed == 6 * H
    assert recovery.paused == 4 * H
    assert recovery.paused_by("reason") == {"no-access": 4 * H}
    assert recovery.paused_by("party") == {"osdb": 4 * H}
    assert recovery.deadline == utc(2026, 12, 7, 11)
    # the response clock is not paused by no-access: 09:00 + 2h = 11:00 (10:00Z), breached
    response = fold(rec, RULES)[ClockKind.RESPONSE]
    assert response.paused == timedelta(0)
    assert response.crossed[BREACH] == utc(2026, 12, 4, 10)


def test_a_resume_reports_the_pause_it_ended_with_its_business_time() -> None:
    opened = utc(2026, 12, 4, 8)
    paused = record(Category.DEGRADATION, opened, pause(utc(2026, 12, 4, 14)))
    resumed = paused.with_fact(resume(utc(2026, 12, 7, 9)))
    ((clock, ended),) = ended_pauses(fold(paused, RULES), fold(resumed, RULES))
    assert (clock, ended.reason, ended.party, ended.excluded) == (
        ClockKind.RECOVERY,
        "no-access",
        "osdb",
        4 * H,
    )
    assert ended_pauses(fold(resumed, RULES), fold(resumed, RULES)) == []


def test_pause_time_is_kept_when_priority_changes() -> None:
    """GLPI 6902/15605 lost the accumulated pause when the priority changed."""
    # P1 outage 24x7 opened 10:00Z; recovery paused 10:30–11:30 (1h); at 12:00 raised... lowered
    # to P2 (8h): elapsed 10:00–10:30 + 11:30–12:00 = 1h, paused 1h, deadline 12:00 + 7h = 19:00Z
    rec = record(
        Category.OUTAGE,
        utc(2026, 12, 2, 10),
        pause(utc(2026, 12, 2, 10, 30)),
        resume(utc(2026, 12, 2, 11, 30)),
        reclassify(utc(2026, 12, 2, 12), "P2"),
    )
    recovery = fold(rec, RULES)[ClockKind.RECOVERY]
    assert recovery.policy.priority == "P2"
    assert recovery.policy.target == 8 * H
    assert (recovery.elapsed, recovery.paused) == (1 * H, 1 * H)
    assert recovery.deadline == utc(2026, 12, 2, 19)
    # without the reclassification the P1 deadline is 10:00 + 4h + 1h paused = 15:00Z
    assert fold(record(Category.OUTAGE, utc(2026, 12, 2, 10), *rec.facts[:2]), RULES)[
        ClockKind.RECOVERY
    ].deadline == utc(2026, 12, 2, 15)


def test_reclassification_during_a_pause_keeps_the_pause_running() -> None:
    # paused 10:30, reclassified P2 at 11:00 while paused, resumed 12:00: elapsed 30m, paused
    # 1h30m; deadline 12:00 + 7h30m = 19:30Z
    rec = record(
        Category.OUTAGE,
        utc(2026, 12, 2, 10),
        pause(utc(2026, 12, 2, 10, 30)),
        reclassify(utc(2026, 12, 2, 11), "P2"),
    )
    paused = fold(rec, RULES)[ClockKind.RECOVERY]
    assert paused.status == ClockState.PAUSED
    assert paused.deadline is None
    resumed = fold(rec.with_fact(resume(utc(2026, 12, 2, 12))), RULES)[ClockKind.RECOVERY]
    assert (resumed.elapsed, resumed.paused) == (30 * M, 90 * M)
    assert resumed.deadline == utc(2026, 12, 2, 19, 30)


def test_reclassification_is_a_replay_so_its_path_does_not_matter() -> None:
    opened = utc(2026, 12, 2, 10)
    facts = [pause(utc(2026, 12, 2, 10, 30)), resume(utc(2026, 12, 2, 11, 30))]
    direct = fold(record(Category.OUTAGE, opened, *facts, reclassify(opened + 3 * H, "P2")), RULES)
    detour = fold(
        record(
            Category.OUTAGE,
            opened,
            reclassify(opened + 5 * M, "P2"),
            facts[0],
            reclassify(opened + 50 * M, "P1"),
            facts[1],
            reclassify(opened + 3 * H, "P2"),
        ),
        RULES,
    )
    assert direct == detour


def test_warnings_and_breach_cross_at_their_share_of_the_target() -> None:
    # office P3 recovery 8h from Mon 7 Dec 09:00 CET (08:00Z): 50% = 4h -> 13:00 (12:00Z),
    # 75% = 6h -> 15:00 (14:00Z), 90% = 7h12m -> 16:12 (15:12Z), 100% = 17:00 (16:00Z)
    rec = record(Category.DEGRADATION, utc(2026, 12, 7, 8))
    recovery = at_instant(rec, RULES, utc(2026, 12, 8, 8))[ClockKind.RECOVERY]
    assert recovery.crossed == {
        50: utc(2026, 12, 7, 12),
        75: utc(2026, 12, 7, 14),
        90: utc(2026, 12, 7, 15, 12),
        BREACH: utc(2026, 12, 7, 16),
    }
    assert (
        recovery.remaining(utc(2026, 12, 8, 8), RULES.view.calendar("office")) == timedelta(0) - H
    )
    # nothing is crossed by the fold itself until a fact passes the instant
    assert fold(rec, RULES)[ClockKind.RECOVERY].crossed == {}


def test_stopped_clock_is_met_with_its_margin_or_breached() -> None:
    opened = utc(2026, 12, 2, 10)
    rec = record(Category.OUTAGE, opened, fact("acknowledge", opened + 10 * M))
    response = fold(rec, RULES)[ClockKind.RESPONSE]
    assert (response.status, response.met, response.margin) == (ClockState.STOPPED, True, 5 * M)
    late = fold(record(Category.OUTAGE, opened, fact("acknowledge", opened + 15 * M)), RULES)
    assert late[ClockKind.RESPONSE].met is False  # stopped at the deadline: breached
    assert late[ClockKind.RESPONSE].margin == timedelta(0)


def test_restored_stops_both_clocks_and_ends_the_pause() -> None:
    opened = utc(2026, 12, 2, 10)
    rec = record(Category.OUTAGE, opened, pause(opened + H), fact("restored", opened + 2 * H))
    clocks = fold(rec, RULES)
    assert {c.status for c in clocks.values()} == {ClockState.STOPPED}
    recovery = clocks[ClockKind.RECOVERY]
    assert (recovery.elapsed, recovery.paused, recovery.margin) == (H, H, 3 * H)
    assert recovery.pauses[0].end == opened + 2 * H


def test_reject_counts_the_false_restoration_and_reopen_does_not() -> None:
    opened = utc(2026, 12, 2, 10)
    restored = fact("restored", opened + H)
    rejected = fold(
        record(Category.OUTAGE, opened, restored, fact("reject", opened + 3 * H)), RULES
    )
    # the service was never restored: 10:00–13:00 all counts, deadline stays 14:00Z
    assert rejected[ClockKind.RECOVERY].status == ClockState.RUNNING
    assert rejected[ClockKind.RECOVERY].elapsed == 3 * H
    assert rejected[ClockKind.RECOVERY].deadline == opened + 4 * H
    reopened = fold(
        record(Category.OUTAGE, opened, restored, fact("reopen", opened + 3 * H)), RULES
    )
    # confirmed and closed in between: counting resumes at 13:00 with 3h left -> 16:00Z
    assert reopened[ClockKind.RECOVERY].elapsed == H
    assert reopened[ClockKind.RECOVERY].deadline == opened + 6 * H
    assert rejected[ClockKind.RESPONSE].status == ClockState.STOPPED


def test_overlapping_pauses_book_shared_time_once() -> None:
    opened = utc(2026, 12, 2, 10)
    rec = record(
        Category.OUTAGE,
        opened,
        pause(opened + 1 * H, "no-access"),
        pause(opened + 2 * H, "no-approver", party="customer"),
        resume(opened + 3 * H, "no-access"),
    )
    recovery = fold(rec, RULES)[ClockKind.RECOVERY]
    assert recovery.status == ClockState.PAUSED  # no-approver still holds it
    done = fold(rec.with_fact(resume(opened + 4 * H, "no-approver")), RULES)[ClockKind.RECOVERY]
    assert done.status == ClockState.RUNNING
    assert done.paused == 3 * H
    assert done.paused_by("reason") == {"no-access": 2 * H, "no-approver": H}
    assert done.deadline == opened + 7 * H
    # no-approver pauses the response clock too, from 12:00 (it breached at 10:15 already)
    response = fold(rec, RULES)[ClockKind.RESPONSE]
    assert response.status == ClockState.PAUSED
    assert response.crossed[BREACH] == opened + 15 * M


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        ([resume(utc(2026, 12, 2, 11))], "resume without pause"),
        (
            [
                fact("acknowledge", utc(2026, 12, 2, 10, 5)),
                pause(utc(2026, 12, 2, 11), clock=ClockKind.RESPONSE),
            ],
            "pause of a stopped clock",
        ),
        ([pause(utc(2026, 12, 2, 11)), pause(utc(2026, 12, 2, 11, 30))], "the same reason twice"),
    ],
)
def test_pauses_that_make_no_sense_change_nothing(facts: list[Fact], why: str) -> None:
    opened = utc(2026, 12, 2, 10)
    now = opened + 3 * H
    with_noise = at_instant(record(Category.OUTAGE, opened, *facts), RULES, now)
    expected = at_instant(
        record(Category.OUTAGE, opened, *facts[:1])
        if why != "resume without pause"
        else record(Category.OUTAGE, opened),
        RULES,
        now,
    )
    assert with_noise[ClockKind.RESPONSE].status == expected[ClockKind.RESPONSE].status, why
    assert with_noise[ClockKind.RECOVERY].elapsed == expected[ClockKind.RECOVERY].elapsed, why
    assert with_noise[ClockKind.RECOVERY].deadline == expected[ClockKind.RECOVERY].deadline, why
    assert len(with_noise[ClockKind.RECOVERY].pauses) == len(expected[ClockKind.RECOVERY].pauses), (
        why
    )


def test_a_late_report_never_runs_time_backwards() -> None:
    opened = utc(2026, 12, 2, 10)
    rec = record(Category.OUTAGE, opened, pause(opened + 2 * H), resume(opened + H))
    recovery = fold(rec, RULES)[ClockKind.RECOVERY]
    assert recovery.paused == timedelta(0)
    assert recovery.deadline == opened + 4 * H


@pytest.mark.parametrize(
    ("first_alert_before", "started_before"),
    [(20 * M, 20 * M), (2 * H, H), (-5 * M, timedelta(0))],
    ids=["retroactive", "capped by max_backdate", "alert after registration"],
)
def test_clocks_start_at_the_first_alert_where_the_contract_says_so(
    first_alert_before: timedelta, started_before: timedelta
) -> None:
    rules = Rules(ContractView.of(build_contract(clock_start="first_alert", max_backdate="1h")))
    opened = utc(2026, 12, 2, 10)
    rec = record(Category.OUTAGE, opened, first=opened - first_alert_before)
    response = fold(rec, rules)[ClockKind.RESPONSE]
    assert response.started_at == opened - started_before
    assert response.deadline == opened - started_before + 15 * M


def test_no_sla_row_means_no_clocks() -> None:
    rec = record(Category.OUTAGE, utc(2026, 12, 2, 10)).model_copy(update={"priority": "P9"})
    assert fold(rec, RULES) == {}


# --------------------------------------------------------------------------- properties

START = utc(2026, 12, 1, 0)
minutes = st.integers(min_value=0, max_value=7 * 24 * 60)


@st.composite
def histories(draw: st.DrawFn, *, reclassify_too: bool = False) -> IncidentRecord:
    category = draw(st.sampled_from(list(OBJECTS)))
    opened = START + draw(minutes) * M
    kinds: list[FactKind] = [
        "pause",
        "resume",
        "pause",
        "resume",
        "acknowledge",
        "restored",
        "reject",
        "reopen",
    ]
    if reclassify_too:
        kinds.append("reclassified")
    facts = []
    t = opened
    for _ in range(draw(st.integers(0, 8))):
        t += draw(st.integers(0, 3 * 24 * 60)) * M
        kind = draw(st.sampled_from(kinds))
        reason = draw(st.sampled_from(["no-access", "no-approver"]))
        if kind == "reclassified":
            facts.append(reclassify(t, draw(st.sampled_from(["P1", "P2"])), Category.OUTAGE))
        elif kind in ("pause", "resume"):
            facts.append(fact(kind, t, reason=reason))
        else:
            facts.append(fact(kind, t))
    return record(category, opened, *facts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rec=histories(), later=minutes)
def test_elapsed_plus_paused_is_the_calendar_time_until_the_stop(
    rec: IncidentRecord, later: int
) -> None:
    """Conservation: every open minute between start and stop (or now) is either counted or
    booked to exactly one pause — unless a reopen skipped the closed gap."""
    now = (rec.facts[-1].at if rec.facts else rec.opened_at) + later * M
    for view in at_instant(rec, RULES, now).values():
        if any(f.kind == "reopen" for f in rec.facts):
            continue
        cal = RULES.view.calendar(view.policy.calendar)
        # a stopped clock is accounted up to its stop, the others up to now
        assert view.mark == (
            view.stopped_at if view.status == ClockState.STOPPED else max(now, view.mark)
        )
        assert view.elapsed + view.paused == cal.elapsed(view.started_at, view.mark)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rec=histories())
def test_a_running_clock_has_exactly_its_target_elapsed_at_its_deadline(
    rec: IncidentRecord,
) -> None:
    for clock, view in fold(rec, RULES).items():
        if view.status != ClockState.RUNNING or BREACH in view.crossed:
            continue
        assert view.deadline is not None
        at_deadline = at_instant(rec, RULES, view.deadline)[clock]
        assert at_deadline.elapsed == view.policy.target
        assert at_deadline.crossed[BREACH] == view.deadline


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rec=histories())
def test_a_crossing_never_moves_once_the_facts_passed_it(rec: IncidentRecord) -> None:
    """What a prefix of the history crossed, the whole history crossed at the same instant:
    the instant a warning or breach fires at is final (reclassification aside)."""
    full = fold(rec, RULES)
    for n in range(len(rec.facts)):
        prefix = fold(rec.model_copy(update={"facts": rec.facts[:n]}), RULES)
        for clock, view in prefix.items():
            for th, instant in view.crossed.items():
                assert full[clock].crossed[th] == instant


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rec=histories(reclassify_too=True))
def test_only_the_last_classification_matters(rec: IncidentRecord) -> None:
    category, priority = rec.classification
    plain = rec.model_copy(
        update={
            "category": category,
            "priority": priority,
            "facts": [f for f in rec.facts if f.kind != "reclassified"],
        }
    )
    now = (rec.facts[-1].at if rec.facts else rec.opened_at) + timedelta(days=1)
    assert at_instant(rec, RULES, now) == at_instant(plain, RULES, now)


@given(target=st.integers(0, 10**12), percent=st.integers(1, 100))
def test_share_is_exact_and_monotone(target: int, percent: int) -> None:
    whole = timedelta(microseconds=target)
    assert share(whole, 100) == whole
    assert share(whole, percent) <= share(whole, min(percent + 1, 100))


@settings(max_examples=60, deadline=None)
@given(minute=st.integers(0, 366 * 24 * 60))
def test_the_cached_period_agrees_with_the_contract(minute: int) -> None:
    at = utc(2026, 1, 1) + minute * M
    calendar_id = RULES.contract.sla.period_calendar
    assert calendar_id is not None
    assert RULES.view.period(at) == classify(RULES.contract.business_calendar(calendar_id), at)


def test_thresholds_are_the_warnings_plus_each_clocks_escalation_levels() -> None:
    assert RULES.view.thresholds == {
        ClockKind.RESPONSE: (50, 75, 80, 90),
        ClockKind.RECOVERY: (50, 75, 90),
    }
    bare = Rules(
        ContractView.of(build_contract(warnings=[0.75]).model_copy(update={"escalation": []}))
    )
    assert bare.view.thresholds == {ClockKind.RESPONSE: (75,), ClockKind.RECOVERY: (75,)}


def with_window(**window: Any) -> Rules:
    doc = build_contract().model_dump(mode="json")
    doc["maintenance_windows"] = [
        {"id": "db-patching", "objects": ["pg-main"], "approved_by": "customer/it-head", **window}
    ]
    return Rules(ContractView.of(Contract.model_validate(doc)))


def test_an_approved_window_the_contract_excludes_does_not_count() -> None:
    # P1 outage on pg-main at Tue 01:00 UTC, 24x7: recovery 4 h → 05:00. A window 02:00–03:00
    # excluded from SLA time moves the deadline one hour, to 06:00; the response (15 min,
    # 01:15) is untouched.
    opened = utc(2026, 11, 24, 1)
    window = {"start": "2026-11-24T02:00:00Z", "end": "2026-11-24T03:00:00Z"}
    clocks = fold(record(Category.OUTAGE, opened), with_window(excludes_sla=True, **window))
    assert clocks[ClockKind.RECOVERY].deadline == utc(2026, 11, 24, 6)
    assert clocks[ClockKind.RESPONSE].deadline == utc(2026, 11, 24, 1, 15)
    # the same window without the exclusion, or not approved, counts as usual
    counted = fold(record(Category.OUTAGE, opened), with_window(**window))
    assert counted[ClockKind.RECOVERY].deadline == utc(2026, 11, 24, 5)
    unapproved = with_window(excludes_sla=True, approved_by=None, **window)
    assert fold(record(Category.OUTAGE, opened), unapproved)[ClockKind.RECOVERY].deadline == utc(
        2026, 11, 24, 5
    )


def test_a_weekly_excluded_window_recurs() -> None:
    # nightly 02:00–02:30 Berlin (01:00–01:30 UTC in November) on Tue and Wed: an outage at
    # Tue 00:00 UTC with 4 h recovery loses 30 minutes → 04:30 UTC.
    rules = with_window(
        excludes_sla=True,
        weekly={
            "days": ["tue", "wed"],
            "start": "02:00",
            "duration": "30m",
            "timezone": "Europe/Berlin",
        },
    )
    clocks = fold(record(Category.OUTAGE, utc(2026, 11, 24, 0)), rules)
    assert clocks[ClockKind.RECOVERY].deadline == utc(2026, 11, 24, 4, 30)
