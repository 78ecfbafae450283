"""Expected events: the schedule arithmetic and the watchdog's pure core."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sla_clock.watchdog import Ping, State, on_ping, on_timer, plan

from shared.checkins import (
    KEY_NAMESPACE,
    Duty,
    Expectation,
    by_key,
    checkin_key,
    derive_key,
    expectations,
    expected_events,
    next_expected,
    schedule_in_words,
    skipped_between,
)
from shared.contract import Contract, load_contract
from shared.contract.lint import check_contract
from shared.contract.view import ContractView
from tests import factories

ALMATY = ZoneInfo("Asia/Almaty")


def local(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ALMATY)


def contract_with(*, maintenance: bool = False, approved: bool = True, **schedule: Any) -> Contract:
    doc = load_contract(factories.MINIMAL).model_dump(mode="json")
    bank = next(o for o in doc["objects"] if o["id"] == "bank-exchange")
    bank["schedule"] = {
        "cron": "0 2 * * *",
        "timezone": "Asia/Almaty",
        "grace": "30m",
        "timeout": "20m",
        **schedule,
    }
    if maintenance:
        doc["maintenance_windows"] = [
            {
                "id": "exchange-upgrade",
                "objects": ["bank-exchange"],
                "approved_by": "customer/it-head" if approved else None,
                "start": "2026-12-03T01:00:00+05:00",
                "end": "2026-12-03T04:00:00+05:00",
            }
        ]
    return Contract.model_validate(doc)


def bank(contract: Contract) -> Expectation:
    return next(e for e in expectations(contract) if e.object_id == "bank-exchange")


def planned_bank(at: datetime) -> tuple[Contract, Expectation, State]:
    """The default contract, the bank exchange's nightly run and its watch planned at ``at``."""
    contract = contract_with()
    exp = bank(contract)
    return contract, exp, plan(contract, exp, None, at).state


def test_every_schedule_and_backup_duty_is_an_expected_event_with_a_stable_key() -> None:
    contract = load_contract(factories.MINIMAL)
    found = {(e.object_id, e.duty): e for e in expectations(contract)}
    assert set(found) == {("bank-exchange", Duty.RUN), ("pg-main", Duty.TEST_RESTORE)}
    assert found["bank-exchange", Duty.RUN].category.value == "integration_issue"
    assert found["pg-main", Duty.TEST_RESTORE].category.value == "request"
    again = {(e.object_id, e.duty): e.key for e in expectations(contract)}
    assert again == {k: e.key for k, e in found.items()}
    assert len({e.key for e in found.values()}) == 2


SECRET = "a-check-in-secret-for-tests-only"


def test_a_key_is_a_secret_nobody_rebuilds_from_the_contract() -> None:
    """Issue 25: every key was UUIDv5 of a constant namespace and ``contract/object/duty``;
    an outsider rebuilt them all. Under a secret, the rebuilt key finds no check-in."""
    contract = load_contract(factories.MINIMAL)
    keyed = by_key(contract, [SECRET])
    rebuilt = str(uuid.uuid5(KEY_NAMESPACE, f"{contract.id}/bank-exchange/run"))
    assert rebuilt not in keyed
    assert derive_key(contract, "bank-exchange", Duty.RUN) not in keyed
    (exp,) = [e for e in keyed.values() if e.object_id == "bank-exchange"]
    assert exp.key == checkin_key(SECRET, f"{contract.id}/bank-exchange/run")
    assert len(exp.key) == 43
    assert {e.key for e in expectations(contract, "another")}.isdisjoint(keyed)
    # a key the contract names is a name too: public, so it is keyed under the secret as well
    named = contract_with(key="bank-night-run-0001")
    (mine,) = [e for e in expectations(named, SECRET) if e.object_id == "bank-exchange"]
    assert mine.key == checkin_key(SECRET, "bank-night-run-0001")


def test_while_the_secret_is_rotated_the_old_keys_report_to_the_new_ones() -> None:
    contract = load_contract(factories.MINIMAL)
    new, old = expectations(contract, "new-secret"), expectations(contract, SECRET)
    keyed = by_key(contract, ["new-secret", SECRET])
    assert len(keyed) == 2 * len(new)
    for now, before in zip(new, old, strict=True):
        assert keyed[before.key].key == keyed[now.key].key == now.key


def test_a_contract_can_name_the_key_and_a_bad_cron_or_zone_names_the_field() -> None:
    assert bank(contract_with(key="bank-night-run-0001")).key == "bank-night-run-0001"
    with pytest.raises(ValidationError, match="cron"):
        contract_with(cron="0 25 * * *")
    with pytest.raises(ValidationError, match="timezone"):
        contract_with(timezone="Mars/Olympus")


def test_the_next_run_is_in_the_objects_zone_and_skips_maintenance_and_holidays() -> None:
    contract = contract_with(maintenance=True, skip_holidays="office")
    exp = bank(contract)
    assert next_expected(contract, exp, local(1, 3)) == local(2, 2)
    # 3 December 02:00 lies in the maintenance window; 16 December is Independence Day (KZ)
    assert next_expected(contract, exp, local(2, 3)) == local(4, 2)
    assert next_expected(contract, exp, local(15, 3)) == local(17, 2)
    assert skipped_between(contract, exp, local(1, 3), local(17, 0)) == [local(3, 2), local(16, 2)]
    # the same instant in UTC gives the same answer
    assert next_expected(contract, exp, local(1, 3).astimezone(UTC)) == local(2, 2)


def test_without_skip_holidays_a_holiday_run_is_still_expected() -> None:
    contract = contract_with()
    assert next_expected(contract, bank(contract), local(15, 3)) == local(16, 2)


def test_a_missed_run_fires_at_expected_time_plus_grace_once_then_a_late_run_resolves() -> None:
    contract = contract_with()
    exp = bank(contract)
    first = plan(contract, exp, None, local(1, 12))
    (timer,) = first.timers
    assert (timer.kind, timer.expected_at, timer.due) == ("missed", local(2, 2), local(2, 2, 30))
    missed = on_timer(contract, exp, first.state, timer)
    (alert,) = missed.alerts
    assert alert["status"] == "firing"
    assert alert["category"] == "integration_issue"
    assert alert["object_id"] == "bank-exchange"
    assert alert["starts_at"] == local(2, 2, 30).isoformat()
    assert alert["annotations"]["expected_run"] == "2026-12-02 02:00 +05"
    assert alert["annotations"]["last_seen_run"] == "never"
    assert exp.key not in str(alert)  # the key is a capability: never in an alert
    assert missed.state.down
    assert [(t.expected_at, t.due) for t in missed.timers] == [(local(3, 2), local(3, 2, 30))]
    late = on_ping(contract, exp, missed.state, Ping("success", local(2, 5)))
    (resolved,) = late.alerts
    assert resolved["status"] == "resolved"
    assert resolved["fingerprint"] == alert["fingerprint"]
    assert not late.state.down
    assert late.state.last_success == local(2, 5)
    assert late.cancel == ("missed", "timeout")
    assert [t.expected_at for t in late.timers] == [local(3, 2)]
    # the next on-time run raises nothing
    assert on_ping(contract, exp, late.state, Ping("success", local(3, 2, 10))).alerts == ()


def test_the_alert_names_the_last_seen_run() -> None:
    contract = contract_with()
    exp = bank(contract)
    ok = on_ping(
        contract,
        exp,
        plan(contract, exp, None, local(1, 12)).state,
        Ping("success", local(2, 2, 5)),
    )
    (timer,) = ok.timers
    (alert,) = on_timer(contract, exp, ok.state, timer).alerts
    assert alert["annotations"]["last_seen_run"] == "2026-12-02 02:05 +05"
    assert alert["annotations"]["expected_run"] == "2026-12-03 02:00 +05"


def test_a_failed_run_fires_at_once_with_its_log_and_exit_status() -> None:
    contract, exp, state = planned_bank(local(1, 12))
    out = on_ping(contract, exp, state, Ping("fail", local(2, 2, 3), exit_status=2, log="no file"))
    (alert,) = out.alerts
    assert alert["status"] == "firing"
    assert "exit status 2" in alert["summary"]
    assert alert["annotations"]["run_log"] == "no file"
    assert alert["starts_at"] == local(2, 2, 3).isoformat()
    assert [t.expected_at for t in out.timers] == [local(3, 2)]


def test_a_started_run_that_never_finishes_fails_after_its_timeout() -> None:
    contract, exp, state = planned_bank(local(1, 12))
    started = on_ping(contract, exp, state, Ping("start", local(2, 2)))
    (timeout,) = started.timers
    assert (timeout.kind, timeout.due) == ("timeout", local(2, 2, 20))
    (alert,) = on_timer(contract, exp, started.state, timeout).alerts
    assert "did not finish within 20m" in alert["summary"]
    # a run that finished in time makes the same timer a no-op
    done = on_ping(contract, exp, started.state, Ping("success", local(2, 2, 10)))
    assert on_timer(contract, exp, done.state, timeout).alerts == ()


def test_exit_status_zero_is_success_and_log_changes_nothing() -> None:
    contract, exp, state = planned_bank(local(1, 12))
    logged = on_ping(contract, exp, state, Ping("log", local(1, 13)))
    assert (logged.timers, logged.alerts, logged.cancel) == ((), (), ())
    assert logged.state.expected_at == state.expected_at


def test_a_schedule_change_replans_and_an_unchanged_one_does_not() -> None:
    contract = contract_with()
    exp = bank(contract)
    first = plan(contract, exp, None, local(1, 12))
    assert plan(contract, exp, first.state, local(1, 13)).timers == ()
    moved = contract_with(cron="30 3 * * *")
    again = plan(moved, bank(moved), first.state, local(1, 13))
    assert again.cancel == ("missed",)
    assert [t.expected_at for t in again.timers] == [local(2, 3, 30)]


def test_an_overdue_test_restore_is_a_request_every_n_days() -> None:
    contract = contract_with()
    exp = next(e for e in expectations(contract) if e.duty is Duty.TEST_RESTORE)
    start = local(1, 12)
    (timer,) = plan(contract, exp, None, start).timers
    assert timer.due == start + timedelta(days=31)
    (alert,) = on_timer(contract, exp, plan(contract, exp, None, start).state, timer).alerts
    assert alert["category"] == "request"


def test_the_listing_says_the_schedule_in_words_the_grace_and_who_is_paged() -> None:
    contract = contract_with(skip_holidays="office")
    rows = {r.object_id: r for r in expected_events(ContractView.of(contract), at=local(2, 2))}
    row = rows["bank-exchange"]
    assert "0 2" not in row.schedule
    assert "At 02:00" in row.schedule
    assert "Asia/Almaty" in row.schedule
    assert "holidays of office" in row.schedule
    assert row.grace == "30m"
    assert row.paged.startswith("apps (AppWorks)")
    assert "Applications duty engineer" in row.paged
    assert rows["pg-main"].schedule == "every 30 days since the last one"
    assert schedule_in_words(bank(contract)) == row.schedule


def test_lint_names_an_unknown_holiday_calendar_of_a_schedule() -> None:
    findings = check_contract(contract_with(skip_holidays="nowhere"))
    (found,) = [f for f in findings if "nowhere" in f.message]
    assert found.code == "BTN005"
    assert "skip_holidays" in str(found.path)


def test_baton_checkins_list_prints_each_key_and_the_drill_lists_the_expected_events() -> None:
    import json

    from typer.testing import CliRunner

    from baton.cli import app

    minimal = str(factories.MINIMAL.parent)
    listed = CliRunner().invoke(
        app, ["checkins", "list", "--json", minimal], env={"BATON_CHECKIN_SECRET": SECRET}
    )
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    contract = load_contract(factories.MINIMAL)
    assert {(r["object_id"], r["key"]) for r in rows} == {
        (e.object_id, e.key) for e in expectations(contract, SECRET)
    }
    drilled = CliRunner().invoke(
        app, ["drill", minimal, "--object", "acc-app", "--at", "2026-12-16T02:30"]
    )
    assert "expected events" in drilled.output
    assert "bank-exchange" in drilled.output
    assert "At 02:00, Monday through Friday (Asia/Almaty); grace 15m" in drilled.output
    assert "pages apps (AppWorks)" in drilled.output


def test_a_report_older_than_the_last_success_changes_nothing() -> None:
    contract, exp, state = planned_bank(local(1, 12))
    ok = on_ping(contract, exp, state, Ping("success", local(2, 2, 10)))
    for kind in ("start", "fail"):
        late = on_ping(contract, exp, ok.state, Ping(kind, local(2, 2)))
        assert (late.timers, late.alerts, late.cancel) == ((), (), ())
        assert late.state == ok.state


def test_a_start_reported_late_times_out_at_once_when_its_timeout_has_passed() -> None:
    contract, exp, state = planned_bank(local(2, 9))
    started = on_ping(contract, exp, state, Ping("start", local(2, 2)))
    (timeout,) = started.timers
    assert timeout.due == local(2, 2, 20)  # already past at 09:00: the tick fires it at once
    (alert,) = on_timer(contract, exp, started.state, timeout).alerts
    assert "the run started at 2026-12-02 02:00 +05 did not finish within 20m" in alert["summary"]


def test_a_refused_ping_is_dead_lettered_without_its_key() -> None:
    from sla_clock.watchdog_app import _without_key

    kept = _without_key(b'{"type": "baton.checkin.ping", "data": {"key": "s3cr3t-key-0001"}}')
    assert b"s3cr3t" not in kept
    assert b"[redacted]" in kept
    assert b"s3cr3t" not in _without_key(b'{"data": {"key": "s3cr3t-key-0001", broken')


def test_an_unapproved_maintenance_window_suppresses_nothing() -> None:
    contract = contract_with(maintenance=True, approved=False)
    assert next_expected(contract, bank(contract), local(2, 3)) == local(3, 2)


@settings(max_examples=60, deadline=None)
@given(
    after=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)
    ),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    days=st.sampled_from(["*", "1-5", "6,0", "3"]),
)
def test_next_expected_is_the_first_unsuppressed_cron_instant_after(
    after: datetime, hour: int, minute: int, days: str
) -> None:
    """Against a plain walk over the minutes in the object's zone: the next expected run is a
    cron match, later than ``after``, not on a holiday or in a window, and none is skipped."""
    contract = contract_with(
        maintenance=True, skip_holidays="office", cron=f"{minute} {hour} * * {days}"
    )
    exp = bank(contract)
    office = contract.business_calendar("office")
    found = next_expected(contract, exp, after)
    assert found is not None
    assert found > after
    local_found = found.astimezone(ALMATY)
    assert (local_found.hour, local_found.minute) == (hour, minute)
    # no unsuppressed match between: walk the days in the zone
    day = after.astimezone(ALMATY).date()
    while True:
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ALMATY)
        weekday = (candidate.weekday() + 1) % 7  # cron: 0 = Sunday
        matches = days == "*" or (
            str(weekday) in days.split(",")
            if "-" not in days
            else int(days.split("-", maxsplit=1)[0]) <= weekday <= int(days.split("-")[1])
        )
        in_window = local(3, 1) <= candidate < local(3, 4)
        holiday = office.holiday_name(candidate.date()) is not None
        if candidate > after and matches and not in_window and not holiday:
            break
        day += timedelta(days=1)
    assert found == candidate
