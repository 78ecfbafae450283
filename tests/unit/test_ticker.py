"""The one tick loop: rounds in order, a failed round logged and retried, stop is clean."""

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
    assert task.cancelled(), "the loop still runs after stop()"


async def test_stop_before_start_and_twice_is_harmless() -> None:
    ticker = Ticker("idle", 1.0)
    await ticker.stop()
    ticker.start()
    await ticker.stop()
    await ticker.stop()
