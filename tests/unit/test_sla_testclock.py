"""sla-clock's test-only clock file (``BATON_SLA_TEST_CLOCK``, ``sla_clock/simclock.py``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sla_clock.simclock import ScaledClock, clock_from

from shared.clock import FixedClock, SystemClock
from shared.settings import Settings

REAL = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CONTRACT = datetime(2026, 10, 23, 15, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def write(path: Path, now: datetime, anchor: datetime, speed: float) -> None:
    aside = path.with_suffix(".new")
    doc = {"now": now.isoformat(), "anchor": anchor.isoformat(), "speed": speed}
    aside.write_bytes(orjson.dumps(doc))
    os.replace(aside, path)


def started(tmp_path: Path, speed: float) -> tuple[Path, FixedClock, ScaledClock]:
    """The clock file (contract time CONTRACT at REAL, running at ``speed``), the real clock
    standing at REAL, and the scaled clock reading both."""
    path = tmp_path / "clock.json"
    real = FixedClock(REAL)
    write(path, CONTRACT, REAL, speed)
    return path, real, ScaledClock(real, path)


def test_contract_time_runs_stops_and_jumps_as_the_file_says(tmp_path: Path) -> None:
    path, real, clock = started(tmp_path, speed=0)
    real.set(REAL + 10 * S)
    assert clock.now() == CONTRACT  # speed 0: it stands still
    write(path, CONTRACT, REAL + 10 * S, 900)
    real.set(REAL + 12 * S)
    assert clock.now() == CONTRACT + 1800 * S
    write(path, CONTRACT + 4 * 3600 * S, REAL + 12 * S, 0)  # a jump, then it stands
    real.set(REAL + 20 * S)
    assert clock.now() == CONTRACT + 4 * 3600 * S


def test_time_never_runs_backwards_when_the_test_stops_it_a_moment_late(tmp_path: Path) -> None:
    path, real, clock = started(tmp_path, speed=1000)
    real.set(REAL + 2 * S)
    seen = clock.now()
    assert seen == CONTRACT + 2000 * S
    write(path, CONTRACT + 1000 * S, REAL + 1 * S, 0)  # stopped at an instant already passed
    assert clock.now() == seen


def test_a_missing_or_bad_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"sla_test_clock: .*missing\.json"):
        ScaledClock(SystemClock(), tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_bytes(
        orjson.dumps({"now": "2026-10-23T15:00:00", "anchor": REAL.isoformat(), "speed": 1})
    )
    with pytest.raises(ValueError, match=r"sla_test_clock: .*UTC offset"):
        ScaledClock(SystemClock(), bad)


def test_a_file_broken_later_keeps_the_pace_it_had(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    real = FixedClock(REAL)
    write(path, CONTRACT, REAL, 60)
    clock = ScaledClock(real, path)
    path.write_bytes(b"{")
    real.set(REAL + S)
    assert clock.now() == CONTRACT + 60 * S


def test_production_reads_the_real_clock() -> None:
    real = SystemClock()
    assert clock_from(Settings(), real) is real
