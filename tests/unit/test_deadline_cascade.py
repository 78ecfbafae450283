"""One deadline at every moment (issue 23): for random cascades — alerts on objects of
different calendars in any order, from any hour of any day, with pauses between — the deadline
reporting shows after every event is the breach timer sla-clock would fire.

Pure: intake's alert decision makes the incident events, sla-clock's ``apply`` and ``timers``
consume them, and reporting's ``project_clock`` projects sla-clock's events onto the rows its
read API, closure and monthly reports read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake.correlation import graph_of
from intake.decide import handle_alert
from reporting.clocks import project_clock
from sla_clock.decide import apply, timers
from sla_clock.timeline import BREACH, IncidentRecord, Rules, at_instant

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    Category,
    ClockKind,
    Envelope,
)
from tests.factories import accepted, alert_received

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "intake" / "contract.yaml"
CALENDARS = {"ws-accounting": "office-hub", "acc-app": "office"}  # the rest round the clock


def _contract() -> Contract:
    """The intake fixture on two sites: the workstations at a hub four hours east of the head
    office (its own office hours and periods), the application on the head office's hours,
    everything else round the clock; every target on its object's calendar."""
    doc = yaml.safe_load(FIXTURE.read_text())
    doc["calendars"].append(
        {
            "id": "office-hub",
            "kind": "business_hours",
            "timezone": "Asia/Vladivostok",
            "weekly": {day: ["08:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        }
    )
    doc.setdefault("locations", {})["hub"] = {
        "name": "Hub",
        "kind": "warehouse",
        "timezone": "Asia/Vladivostok",
        "period_calendar": "office-hub",
    }
    for target in doc["sla"]["targets"]:
        target.pop("calendar", None)
    for obj in doc["objects"]:
        obj["calendar"] = CALENDARS.get(obj["id"], "24x7")
        if obj["id"] == "ws-accounting":
            obj["location"] = "hub"
    return Contract.model_validate(doc)


CONTRACT = _contract()
GRAPH = graph_of(CONTRACT)
OBJECTS = ["ws-accounting", "acc-app", "pg-main", "os-db-01", "mail-01"]


def alert(object_id: str, category: Category, at: datetime) -> Envelope:
    return alert_received(CONTRACT, object_id, category, at)


def action(kind: ActionKind, incident: str, at: datetime) -> Envelope:
    return accepted(
        incident,
        kind,
        at,
        party="hw",
        actor="duty",
        pause_reason="no-access" if kind in (ActionKind.PAUSE, ActionKind.RESUME) else None,
    )


step = st.one_of(
    st.tuples(
        st.sampled_from(OBJECTS),
        st.sampled_from([Category.DEGRADATION, Category.OUTAGE]),
        st.integers(0, 600),
    ),
    st.tuples(st.sampled_from(["pause", "resume"]), st.none(), st.integers(0, 600)),
)


def check(record: IncidentRecord, rows: dict[ClockKind, dict[str, Any]], now: datetime) -> None:
    """Every clock reporting shows running has the deadline sla-clock's breach timer fires at."""
    rules = Rules(ContractView.of(CONTRACT))
    views = at_instant(record, rules, now)
    breach = {t.clock: t.due for t in timers(record, views, rules) if t.threshold == BREACH}
    for clock, row in rows.items():
        if row["stopped_at"] is None and row["paused_reason"] is None:
            assert clock in breach, (clock, row)
            assert row["deadline"] == breach[clock], (clock, row["deadline"], breach[clock])
            assert row["calendar"] == views[clock].policy.calendar
            assert row["target"] == views[clock].policy.target


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.datetimes(
        min_value=datetime(2026, 11, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    first=st.sampled_from(OBJECTS),
    steps=st.lists(step, min_size=1, max_size=6),
)
def test_reporting_shows_the_deadline_sla_clock_fires(
    start: datetime, first: str, steps: list[tuple[str, Category | None, int]]
) -> None:
    rules = Rules(ContractView.of(CONTRACT))
    now = start
    opening = alert(first, Category.DEGRADATION, now)
    state, events = handle_alert(opening, None, ContractView.of(CONTRACT), now)
    assert state is not None
    incident = events[0].subject or ""
    record: IncidentRecord | None = None
    rows: dict[ClockKind, dict[str, Any]] = {}

    def consume(incident_events: list[Envelope]) -> None:
        nonlocal record
        for event in incident_events:
            record, out = apply(record, event, rules, now)
            for clock_event in out:
                clock = clock_event.data.clock  # type: ignore[attr-defined]
                row = project_clock(rows.get(clock), clock_event.data)
                if row is not None:
                    rows[clock] = row
            assert record is not None
            check(record, rows, now)

    consume(events)
    for what, category, minutes in steps:
        now += timedelta(minutes=minutes)
        if category is None:
            kind = ActionKind.PAUSE if what == "pause" else ActionKind.RESUME
            consume([action(kind, incident, now)])
            continue
        state, events = handle_alert(
            alert(what, category, now), state, ContractView.of(CONTRACT), now
        )
        assert state is not None
        consume(events)
