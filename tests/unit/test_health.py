"""The readiness rules that need no broker: when a partition counts as stalled."""

from __future__ import annotations

import pytest

from shared.health import Progress
from shared.instants import parse_month

KEY = ("baton.router", "baton.incidents", 0)


def test_lag_with_progress_is_not_stalled() -> None:
    progress = Progress(stall_after=30)
    for i, now in enumerate(range(0, 300, 10)):
        lag = progress.observe(KEY, offset=i * 5, end=i * 5 + 100, now=now)
        assert lag.lag == 100
        assert not progress.stalled(lag)


def test_lag_without_progress_stalls_after_the_bound_and_recovers() -> None:
    progress = Progress(stall_after=30)
    assert not progress.stalled(progress.observe(KEY, offset=7, end=10, now=0))
    assert not progress.stalled(progress.observe(KEY, offset=7, end=12, now=29))
    stuck = progress.observe(KEY, offset=7, end=15, now=30)
    assert progress.stalled(stuck)
    assert (stuck.lag, stuck.stalled_seconds) == (8, 30)
    moved = progress.observe(KEY, offset=8, end=15, now=31)
    assert not progress.stalled(moved)
    assert moved.stalled_seconds == 0


def test_no_lag_is_never_stalled() -> None:
    progress = Progress(stall_after=1)
    for now in range(100):
        assert not progress.stalled(progress.observe(KEY, offset=42, end=42, now=now))


def test_partitions_handed_to_another_instance_are_forgotten() -> None:
    progress = Progress(stall_after=30)
    progress.observe(KEY, offset=1, end=5, now=0)
    progress.forget_except([])
    # taken back later: the stall timer starts from the new sighting, not the old one
    assert not progress.stalled(progress.observe(KEY, offset=1, end=5, now=100))


def test_months_outside_the_range_are_refused() -> None:
    assert str(parse_month("2026-11")) == "2026-11-01"
    for bad in ("9999-12", "1999-12", "2100-01", "0000-01", "2026-13", "26-11", ""):
        with pytest.raises(ValueError, match=r"YYYY-MM|outside"):
            parse_month(bad)
