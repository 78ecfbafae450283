"""Partition ownership: fire only for partitions assigned here and caught up on."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from sla_clock.ownership import ANY_PARTITION, Ownership

TOPIC = "t.incidents"


class FakeConsumer:
    """The three offset questions the listener asks, answered from dicts."""

    def __init__(self, ends: dict[int, int], committed: dict[int, int | None]) -> None:
        self.ends, self._committed = ends, committed

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp.partition] for tp in tps}

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    async def committed(self, tp: TopicPartition) -> int | None:
        return self._committed[tp.partition]

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self.ends) | {5}  # one partition never assigned here


def tps(*partitions: int) -> list[TopicPartition]:
    return [TopicPartition(TOPIC, p) for p in partitions]


async def test_a_partition_is_ready_once_its_backlog_at_assignment_is_processed() -> None:
    consumer: Any = FakeConsumer(ends={0: 10, 1: 5, 2: 7}, committed={0: 10, 1: 3, 2: None})
    own = Ownership(lambda: consumer)
    assert own.ready() == []  # nothing assigned: fire nothing, not even legacy rows
    await own.on_partitions_assigned(tps(0, 1, 2))
    # 0 was committed up to its end; 1 has two messages to go; 2 was never read
    assert own.ready() == [ANY_PARTITION, 0]
    own.processed(1, 3)
    assert own.ready() == [ANY_PARTITION, 0]
    own.processed(1, 4)
    assert own.ready() == [ANY_PARTITION, 0, 1]
    own.processed(2, 6)
    assert own.ready() == [ANY_PARTITION, 0, 1, 2]


async def test_a_revoked_partition_stops_firing_at_once() -> None:
    consumer: Any = FakeConsumer(ends={0: 0, 1: 0}, committed={0: None, 1: None})
    own = Ownership(lambda: consumer)
    await own.on_partitions_assigned(tps(0, 1))
    assert own.ready() == [ANY_PARTITION, 0, 1]
    await own.on_partitions_revoked(tps(1))
    assert (own.ready(), own.owned) == ([ANY_PARTITION, 0], [0])
    own.processed(1, 99)  # a late message of a partition no longer ours changes nothing
    assert own.owned == [0]


async def test_the_service_is_told_each_partition_gained_and_lost() -> None:
    """sla-clock loads a gained partition's open clocks for its gauges and drops a lost one's,
    so each clock is counted by one instance only (ADR 67)."""
    consumer: Any = FakeConsumer(ends={0: 0, 1: 0, 2: 0}, committed={0: None, 1: None, 2: None})
    told: list[tuple[str, list[int], int]] = []

    async def gained(partitions: list[int], count: int) -> None:
        told.append(("gained", partitions, count))

    own = Ownership(
        lambda: consumer,
        assigned=gained,
        revoked=lambda partitions: told.append(("lost", partitions, 0)),
    )
    await own.on_partitions_assigned(set(tps(2, 0)))  # aiokafka hands a set
    await own.on_partitions_revoked(tps(2))
    assert told == [("gained", [0, 2], 4), ("lost", [2], 0)]
