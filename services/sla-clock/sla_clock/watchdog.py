"""The check-in watchdog's pure core: pings and timers in, the next state, timers and alerts out.

One state per check-in key; two kinds of timer rows, each fired once ever (ADR 16):
``missed`` (expected run ``E`` had not reported by ``E + grace``) and ``timeout`` (a run that
started at ``S`` had not finished by ``S + timeout``). A missed or failed run becomes a *firing*
alert in Baton's generic format, fingerprint ``checkin:<object>/<duty>``, so intake opens (or
attaches to) one incident on the object; the next successful run sends the *resolved* alert —
monitoring recovery; the incident still closes only on the customer's confirmation.

The schedule follows healthchecks.io's cron checks: the run awaited is the first one expected
after the last successful ping (or after watching began), so a job pings when it finishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.checkins import DUTY_WORDS, Expectation, next_expected, schedule_in_words
from shared.contract import Contract
from shared.contract.model_validators import format_duration

PingKind = Literal["success", "start", "fail", "log"]
TimerKind = Literal["missed", "timeout"]
SOURCE = "checkin"
LOG_IN_ALERT = 500
"""Characters of a failed run's log copied into the alert (the whole log stays in the table)."""


@dataclass(frozen=True, slots=True)
class State:
    key: str
    schedule: str
    watch_since: datetime
    expected_at: datetime | None
    last_success: datetime | None = None
    last_ping_at: datetime | None = None
    last_ping_kind: str | None = None
    last_exit_status: int | None = None
    started_at: datetime | None = None
    down: bool = False


@dataclass(frozen=True, slots=True)
class Timer:
    key: str
    kind: TimerKind
    expected_at: datetime
    due: datetime


@dataclass(frozen=True, slots=True)
class Ping:
    kind: PingKind
    at: datetime
    exit_status: int | None = None
    log: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    state: State
    cancel: tuple[TimerKind, ...] = ()
    """Unfired timers of these kinds are dropped (a fired one stays: fired once ever)."""
    timers: tuple[Timer, ...] = ()
    alerts: tuple[dict[str, Any], ...] = field(default=())
    """Generic-format alerts (``{"alerts": [...]}`` items) for the raw alerts topic."""


def _missed_timer(exp: Expectation, expected: datetime | None) -> tuple[Timer, ...]:
    if expected is None:
        return ()
    return (Timer(exp.key, "missed", expected, expected + exp.grace),)


def plan(contract: Contract, exp: Expectation, state: State | None, now: datetime) -> Outcome:
    """Start watching ``exp`` (no state yet), or re-plan it after its schedule changed."""
    schedule = exp.fingerprint_of_schedule()
    if state is not None and state.schedule == schedule:
        return Outcome(state)
    expected = next_expected(contract, exp, now)
    if state is None:
        state = State(key=exp.key, schedule=schedule, watch_since=now, expected_at=expected)
    else:
        state = replace(state, schedule=schedule, expected_at=expected)
    return Outcome(state, cancel=("missed",), timers=_missed_timer(exp, expected))


def on_ping(contract: Contract, exp: Expectation, state: State, ping: Ping) -> Outcome:
    if state.last_ping_at is None or ping.at >= state.last_ping_at:
        state = replace(
            state,
            last_ping_at=ping.at,
            last_ping_kind=ping.kind,
            last_exit_status=ping.exit_status,
        )
    if ping.kind == "log" or (state.last_success is not None and ping.at < state.last_success):
        return Outcome(state)  # a log line, or a report older than the last success: kept only
    if ping.kind == "start":
        state = replace(state, started_at=ping.at)
        timers = (
            ()
            if exp.timeout is None
            else (Timer(exp.key, "timeout", ping.at, ping.at + exp.timeout),)
        )
        return Outcome(state, cancel=("timeout",), timers=timers)
    expected = next_expected(contract, exp, ping.at)
    if ping.kind == "success":
        recovered = state.down
        state = replace(
            state, last_success=ping.at, started_at=None, down=False, expected_at=expected
        )
        alerts = (
            (_alert(contract, exp, state, "resolved", ping.at, "the run reported"),)
            if recovered
            else ()
        )
        return Outcome(
            state, cancel=("missed", "timeout"), timers=_missed_timer(exp, expected), alerts=alerts
        )
    status = "" if ping.exit_status is None else f" (exit status {ping.exit_status})"
    reason = f"the run failed{status}"
    alert = _alert(contract, exp, state, "firing", ping.at, reason, log=ping.log)
    state = replace(state, started_at=None, down=True, expected_at=expected)
    return Outcome(
        state, cancel=("missed", "timeout"), timers=_missed_timer(exp, expected), alerts=(alert,)
    )


def on_timer(contract: Contract, exp: Expectation, state: State, timer: Timer) -> Outcome:
    """A timer fell due (the tick calls this once per row, ever)."""
    if timer.kind == "timeout":
        if state.started_at != timer.expected_at:
            return Outcome(state)  # that run finished (or a newer one started)
        zone = ZoneInfo(exp.timezone)
        reason = (
            f"the run started at {_local(timer.expected_at, zone)} did not finish within "
            f"{format_duration(timer.due - timer.expected_at)}"
        )
        alert = _alert(contract, exp, state, "firing", timer.due, reason)
        expected = next_expected(contract, exp, timer.due)
        state = replace(state, started_at=None, down=True, expected_at=expected)
        return Outcome(
            state, cancel=("missed",), timers=_missed_timer(exp, expected), alerts=(alert,)
        )
    zone = ZoneInfo(exp.timezone)
    reason = (
        f"the run expected at {_local(timer.expected_at, zone)} did not report within "
        f"{format_duration(exp.grace)}"
    )
    alert = _alert(contract, exp, state, "firing", timer.due, reason, expected=timer.expected_at)
    expected = next_expected(contract, exp, timer.expected_at)
    state = replace(state, down=True, expected_at=expected)
    return Outcome(state, timers=_missed_timer(exp, expected), alerts=(alert,))


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _alert(  # noqa: PLR0917 - the alert's facts, each named at the call
    contract: Contract,
    exp: Expectation,
    state: State,
    status: Literal["firing", "resolved"],
    at: datetime,
    reason: str,
    *,
    expected: datetime | None = None,
    log: str = "",
) -> dict[str, Any]:
    zone = ZoneInfo(exp.timezone)
    obj = contract.object(exp.object_id)
    what = f"{DUTY_WORDS[exp.duty]} of {obj.name if obj else exp.object_id}"
    expected = expected or state.expected_at
    annotations = {
        "reason": reason,
        "schedule": schedule_in_words(exp),
        "grace": format_duration(exp.grace),
        "expected_run": _local(expected, zone) if expected else "not scheduled",
        "last_seen_run": _local(state.last_success, zone) if state.last_success else "never",
    }
    if state.last_ping_at is not None:
        annotations["last_ping"] = f"{state.last_ping_kind} at {_local(state.last_ping_at, zone)}"
    if log:
        annotations["run_log"] = log[:LOG_IN_ALERT]
    item: dict[str, Any] = {
        "source": SOURCE,
        "fingerprint": exp.name,
        "status": status,
        "summary": (
            f"{what}: {reason}; last seen run: {annotations['last_seen_run']}"
            if status == "firing"
            else f"{what}: runs again"
        ),
        "severity": "warning" if exp.category.value == "request" else "critical",
        "category": exp.category.value,
        "object_id": exp.object_id,
        "labels": {"checkin": exp.name, "duty": exp.duty.value},
        "annotations": annotations,
        "starts_at": at.isoformat(),
    }
    if status == "resolved":
        item["ends_at"] = at.isoformat()
    return item
