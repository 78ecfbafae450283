"""Which incidents-topic partitions this instance may fire timers for.

A partition is *ready* when the consumer group assigned it to this instance and the instance has
processed every message that was in it at assignment time. Firing only for ready partitions
means (1) two instances never both fire one partition's timers, and (2) after a restart or a
rebalance, the facts that arrived while nobody was reading (an acknowledgement, a pause) are
applied before any deadline is judged — a breach is never fired on stale state and then
contradicted. Row locks (``FOR UPDATE SKIP LOCKED``) and the fired mark make a double fire
impossible anyway; ownership keeps the work where the state is fresh.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

log = logging.getLogger("sla-clock.ownership")
ANY_PARTITION = -1
"""Timers stored before partitions were recorded: any instance may fire them."""


Assigned = Callable[[list[int], int], Awaitable[None]]
"""Told the partitions gained and the topic's partition count (e.g. to load their state)."""


async def _load_nothing(partitions: list[int], count: int) -> None:
    return None


def _drop_nothing(partitions: list[int]) -> None:
    return None


class Ownership(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        consumer: Callable[[], AIOKafkaConsumer | None],
        *,
        assigned: Assigned = _load_nothing,
        revoked: Callable[[list[int]], None] = _drop_nothing,
    ) -> None:
        self._consumer = consumer
        self._target: dict[int, int] = {}
        self._done: dict[int, int] = {}
        self._assigned = assigned
        self._revoked = revoked

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        for tp in revoked:
            self._target.pop(tp.partition, None)
            self._done.pop(tp.partition, None)
        self._revoked(sorted(tp.partition for tp in revoked))
        log.info("partitions revoked", extra={"partitions": sorted(tp.partition for tp in revoked)})

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        consumer = self._consumer()
        if consumer is None or not assigned:
            return
        ends = await consumer.end_offsets(list(assigned))
        starts = await consumer.beginning_offsets(list(assigned))
        for tp in assigned:
            committed = await consumer.committed(tp)
            self._done[tp.partition] = committed if committed is not None else starts[tp]
            self._target[tp.partition] = ends[tp]
        topic = next(iter(assigned)).topic  # aiokafka hands a set
        count = len(consumer.partitions_for_topic(topic) or ())
        await self._assigned(sorted(tp.partition for tp in assigned), count)
        log.info(
            "partitions assigned",
            extra={
                "partitions": sorted(self._target),
                "backlog_until": {str(p): end for p, end in self._target.items()},
            },
        )

    def processed(self, partition: int, offset: int) -> None:
        """The handler finished the message at ``offset`` (committed or about to be)."""
        if partition in self._target:
            self._done[partition] = max(self._done.get(partition, 0), offset + 1)

    def ready(self) -> list[int]:
        """Owned partitions whose backlog at assignment is processed, plus ``ANY_PARTITION``."""
        owned = [p for p, end in self._target.items() if self._done.get(p, 0) >= end]
        return [ANY_PARTITION, *sorted(owned)] if self._target else []

    @property
    def owned(self) -> list[int]:
        return sorted(self._target)
