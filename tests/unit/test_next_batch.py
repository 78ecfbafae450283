"""A batch subscriber takes what ``getmany`` has and polls again at once: FastStream slept
``batch_timeout_ms`` after every empty poll, and a record arriving then waited for it on every
hop of the pipeline (issue 28). The pause stays only while the consumer has no partitions."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from shared.service import next_batch


class Consumer:
    def __init__(self, batches: dict[Any, list[Any]], assigned: bool) -> None:
        self.batches = batches
        self.assigned = assigned
        self.asked: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        self.asked.append((timeout_ms, max_records))
        return self.batches

    def assignment(self) -> set[str]:
        return {"tp"} if self.assigned else set()


SUBSCRIBER = SimpleNamespace(batch_timeout_ms=20, max_records=2000)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return pauses


def test_records_of_every_partition_in_one_batch(slept: list[float]) -> None:
    consumer = Consumer({"p0": [1, 2], "p1": [3]}, assigned=True)
    batch = asyncio.run(next_batch(SUBSCRIBER, consumer))  # type: ignore[arg-type]
    assert batch == (1, 2, 3)
    assert consumer.asked == [(20, 2000)]
    assert slept == []


def test_an_empty_poll_with_partitions_is_not_followed_by_a_pause(slept: list[float]) -> None:
    batch = asyncio.run(next_batch(SUBSCRIBER, Consumer({}, assigned=True)))  # type: ignore[arg-type]
    assert batch == ()
    assert slept == []


def test_an_empty_poll_without_partitions_pauses(slept: list[float]) -> None:
    batch = asyncio.run(next_batch(SUBSCRIBER, Consumer({}, assigned=False)))  # type: ignore[arg-type]
    assert batch == ()
    assert slept == [0.02]
