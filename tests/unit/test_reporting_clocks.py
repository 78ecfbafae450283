"""Clocks visible: each clock's target, deadline (UTC and local), state and time left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reporting.clocks import clock_reading

from baton.cli import clock_cells
from shared.contract import load_contract
from shared.contract.view import ContractView

VIEW = ContractView.of(
    load_contract(Path(__file__).resolve().parents[2] / "examples" / "minimal" / "contract.yaml")
)
START = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 08:00 in Almaty (UTC+5)


def row(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "clock": "response",
        "started_at": START,
        "target": timedelta(minutes=15),
        "deadline": START + timedelta(minutes=15),
        "calendar": "24x7",
        "stopped_at": None,
        "met": None,
        "margin": None,
        "breached_at": None,
        "paused_reason": None,
        "paused_party": None,
        "paused_remaining": None,
    }
    return {**base, **over}


def test_a_running_clock_shows_its_deadline_here_and_there_and_what_is_left() -> None:
    reading = clock_reading(row(), "pg-main", VIEW, START + timedelta(minutes=5))
    assert reading.state == "running"
    assert reading.deadline == START + timedelta(minutes=15)
    assert reading.deadline_local == "Wed 2026-11-25 08:15 Asia/Almaty"
    assert reading.remaining == timedelta(minutes=10)
    late = clock_reading(row(), "pg-main", VIEW, START + timedelta(minutes=20))
    assert late.remaining == -timedelta(minutes=5)
    assert clock_cells(late.model_dump(mode="json"))[1:5] == [
        "running, breached",
        "15m",
        "Wed 2026-11-25 08:15 Asia/Almaty",
        "-5m",
    ]


def test_a_running_clock_on_office_hours_counts_business_time_left() -> None:
    evening = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 18:00 Almaty: the office closed
    deadline = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 10:00 next morning
    reading = clock_reading(
        row(calendar="office", target=timedelta(hours=2), deadline=deadline),
        "acc-app",
        VIEW,
        evening - timedelta(minutes=30),
    )
    assert reading.remaining == timedelta(hours=1, minutes=30)  # 30 min tonight, 1 h tomorrow


def test_a_paused_clock_shows_why_who_and_what_was_left() -> None:
    reading = clock_reading(
        row(
            clock="recovery",
            paused_reason="no-access",
            paused_party="osdb",
            paused_remaining=timedelta(hours=3),
        ),
        "pg-main",
        VIEW,
        START + timedelta(hours=1),
    )
    assert (reading.state, reading.paused_reason, reading.paused_by) == (
        "paused",
        "no-access",
        "osdb",
    )
    assert reading.deadline is None
    assert reading.remaining == timedelta(hours=3)
    cells = clock_cells(reading.model_dump(mode="json"))
    assert cells[1] == "paused"
    assert cells[5] == "no-access by osdb"


def test_a_stopped_clock_shows_met_or_breached_with_its_margin() -> None:
    met = clock_reading(
        row(stopped_at=START + timedelta(minutes=5), met=True, margin=timedelta(minutes=10)),
        "pg-main",
        VIEW,
        START + timedelta(hours=1),
    )
    assert (met.state, met.met, met.margin) == ("stopped", True, timedelta(minutes=10))
    assert clock_cells(met.model_dump(mode="json"))[1:5:3] == ["stopped, met", "margin 10m"]
    breached = clock_reading(
        row(stopped_at=START + timedelta(minutes=20), met=False, margin=-timedelta(minutes=5)),
        "pg-main",
        VIEW,
        START + timedelta(hours=1),
    )
    assert clock_cells(breached.model_dump(mode="json"))[1:5:3] == [
        "stopped, breached",
        "margin -5m",
    ]
    assert breached.model_dump(mode="json")["margin"] == -300.0  # seconds, like the read API


def test_a_target_on_office_hours_reads_in_business_units() -> None:
    """``3bd`` on the 9-hour office day is shown "3bd", not the "1d3h" it counts."""
    reading = clock_reading(
        row(calendar="office", target=timedelta(hours=27), deadline=None),
        "acc-app",
        VIEW,
        START,
    )
    assert reading.target_text == "3bd"
    assert clock_reading(row(), "pg-main", VIEW, START).target_text == "15m"
