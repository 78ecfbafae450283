"""The one tick loop: rounds in order, a failed round logged and retried, stop is clean and
lets the tick under way finish."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.ticker import Ticker


async def test_a_failed_round_neither_stops_the_loop_nor_the_next_round(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    ticked = asyncio.Event()

    async def flaky() -> None:
        calls.append("flaky")
        raise RuntimeError("database away")

    async def steady() -> None:
        calls.append("steady")
        if calls.count("steady") >= 3:
            ticked.set()

    ticker = Ticker("test-tick", 0.01, ("flaky round", flaky), ("steady round", steady))
    with caplog.at_level(logging.ERROR, logger="shared.ticker"):
        ticker.start()
        await asyncio.wait_for(ticked.wait(), 5)
        task = ticker._task
        await ticker.stop()

    assert calls[:4] == ["flaky", "steady", "flaky", "steady"]
    assert "flaky round failed; retrying at the next tick" in caplog.text
    assert "database away" in caplog.text
    assert task is not None
    assert task.done(), "the loop still runs after stop()"


async def test_stop_before_start_and_twice_is_harmless() -> None:
    ticker = Ticker("idle", 1.0)
    await ticker.stop()
    ticker.start()
    await ticker.stop()
    await ticker.stop()


async def test_stop_lets_the_tick_under_way_finish_its_commit() -> None:
    """SIGTERM while a round is between its publish and its commit: the round commits before
    stop() returns (cut off there, the next owner of the work would publish it again), and
    no further tick starts."""
    steps: list[str] = []
    published = asyncio.Event()
    may_commit = asyncio.Event()

    async def fire() -> None:
        steps.append("publish")
        published.set()
        await may_commit.wait()
        steps.append("commit")

    ticker = Ticker("fire", 0.01, ("fire due timers", fire))
    ticker.start()
    await asyncio.wait_for(published.wait(), 5)
    stopping = asyncio.create_task(ticker.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done(), "stop() returned in the middle of a round"
    may_commit.set()
    await asyncio.wait_for(stopping, 5)

    assert steps == ["publish", "commit"]


async def test_a_round_that_outlives_the_grace_is_cancelled() -> None:
    started = asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()

    ticker = Ticker("stuck", 0.01, ("stuck round", stuck))
    ticker.start()
    await asyncio.wait_for(started.wait(), 5)
    task = ticker._task
    await asyncio.wait_for(ticker.stop(grace=0.1), 5)

    assert task is not None
    assert task.cancelled()
