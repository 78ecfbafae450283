"""What `baton bench` measures with, beside the traffic it sends (``baton/scenarios.py``): the
CPU each service process used, how far each consumer group of the alert path is behind and
whether its members have settled, and how a run could spread over instances — the partitions
of each group's topics and the records each partition got (ADR 67)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from baton.stack.layout import service_of
from shared.settings import Settings
from shared.topic_admin import KafkaClient, client_kwargs
from shared.topics import TOPIC_SPECS, Topic

POLL_S = 0.05
JOIN_LIMIT_S = 120.0  # for the extra instances to join every group (a rebalance takes seconds)


class CpuMeter:
    """CPU seconds (user + system) each service process used between ``start`` and ``stop``,
    by instance name (``intake``, ``intake-2``: ``per_service`` sums them). A process counts
    with its children: the live ones (the router's sending process, ``router/outbox.py``
    ``Sender``) and the ended ones it waited for."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._tick = os.sysconf("SC_CLK_TCK")
        self._start: dict[str, float] = {}

    def _processes(self) -> dict[int, tuple[int, float]]:
        """Every process: its parent and its CPU seconds with its waited-for children's."""
        out = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended while we looked
            ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
            out[int(stat.parent.name)] = (int(fields[1]), ticks / self._tick)
        return out

    def _now(self) -> dict[str, float]:
        processes = self._processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, _) in processes.items():
            children.setdefault(parent, []).append(pid)
        out = {}
        for name, pid in self._pids.items():
            if pid not in processes:
                continue
            tree, total = [pid], 0.0
            while tree:
                one = tree.pop()
                total += processes[one][1]
                tree.extend(children.get(one, []))
            out[name] = total
        return out

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> dict[str, float]:
        end = self._now()
        return {name: end[name] - self._start.get(name, end[name]) for name in end}


def per_service(used: dict[str, float]) -> dict[str, float]:
    """Every instance's CPU summed under its service's name (``intake-2`` counts as intake)."""
    out: dict[str, float] = {}
    for instance, seconds in used.items():
        out[service_of(instance)] = out.get(service_of(instance), 0.0) + seconds
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def partitions(topic: Topic) -> int:
    return next(s.partitions for s in TOPIC_SPECS if s.topic == topic)


def pipeline_groups(settings: Settings) -> dict[str, list[Topic]]:
    """Each consumer group of the alert path and the topics it reads."""
    return {
        settings.group("intake.alerts"): [Topic.ALERTS],
        settings.group("router"): [Topic.INCIDENTS],
        settings.group("router-sla"): [Topic.SLA],
        settings.group("sla-clock"): [Topic.INCIDENTS],
        settings.group("reporting"): [Topic.INCIDENTS, Topic.ASSIGNMENTS, Topic.SLA],
    }


class Lag:
    """How many records each group still has to commit on its topics."""

    def __init__(self, bootstrap: KafkaClient, settings: Settings) -> None:
        self._bootstrap = bootstrap
        self._groups = {
            group: [
                TopicPartition(settings.topic(t), p) for t in topics for p in range(partitions(t))
            ]
            for group, topics in pipeline_groups(settings).items()
        }

    async def __aenter__(self) -> Lag:
        self._admin = AIOKafkaAdminClient(**client_kwargs(self._bootstrap))
        self._consumer = AIOKafkaConsumer(**client_kwargs(self._bootstrap))
        await self._admin.start()
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def of(self, group: str) -> int:
        parts = self._groups[group]
        ends = await self._consumer.end_offsets(parts)
        committed = await self._admin.list_consumer_group_offsets(group, partitions=parts)
        return sum(
            ends[tp] - max(committed[tp].offset if tp in committed else 0, 0) for tp in parts
        )

    async def members(self, group: str) -> tuple[str, int]:
        """The group's state (``Stable`` once a rebalance is over) and how many members it has."""
        (response,) = await self._admin.describe_consumer_groups([group])
        _, _, state, _, _, members, *_ = response.groups[0]
        return str(state), len(members)

    async def wait_members(self, groups: list[str], count: int, limit_s: float) -> None:
        """Wait until every group is stable with ``count`` members: instances that joined have
        their partitions before the first alert, so no rebalance pauses the run."""
        deadline = time.perf_counter() + limit_s
        while True:
            seen = {group: await self.members(group) for group in groups}
            if all(found == ("Stable", count) for found in seen.values()):
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(f"groups not stable with {count} members each: {seen}")
            await asyncio.sleep(POLL_S * 4)

    async def ends(self) -> dict[TopicPartition, int]:
        """The end offset of every partition the groups read."""
        parts = sorted({tp for tps in self._groups.values() for tp in tps})
        return dict(await self._consumer.end_offsets(parts))

    async def wait_drained(self, groups: list[str], limit_s: float) -> dict[str, float]:
        """Wait until every group has committed the end of its topics, all at once (one
        caught up earlier may get more work from another); when each last caught up (perf
        counter seconds)."""
        done: dict[str, float] = {}
        deadline = time.perf_counter() + limit_s
        while True:
            behind = []
            for group in groups:
                if await self.of(group) == 0:
                    done.setdefault(group, time.perf_counter())
                else:
                    done.pop(group, None)
                    behind.append(group)
            if not behind:
                return done
            if time.perf_counter() > deadline:
                raise TimeoutError(f"consumer groups still behind after {limit_s} s: {behind}")
            await asyncio.sleep(POLL_S)


def scale_out(
    settings: Settings,
    instances: int,
    before: dict[TopicPartition, int],
    after: dict[TopicPartition, int],
) -> dict[str, Any]:
    """How the run could spread over instances: the processes of each service, the partitions
    of each consumer group's topics (an instance beyond a group's partitions idles), and the
    records each partition got during the run (a storm on one component is one partition)."""
    prefix = settings.group_prefix
    records: dict[str, list[int]] = {}
    for tp in sorted(after):
        name = tp.topic.removeprefix(settings.topic_prefix)
        records.setdefault(name, []).append(after[tp] - before.get(tp, after[tp]))
    return {
        "instances": instances,
        "partitions": {
            group.removeprefix(prefix): {str(t): partitions(t) for t in topics}
            for group, topics in pipeline_groups(settings).items()
        },
        "records_per_partition": records,
    }


def scale_lines(scale: dict[str, Any]) -> list[str]:
    """``scale_out``'s document as lines: instances, partitions per group, records per
    partition."""
    if not scale:
        return []
    count = scale["instances"]
    groups = "; ".join(
        f"{group} " + ", ".join(f"{topic} {n}" for topic, n in topics.items())
        for group, topics in scale["partitions"].items()
    )
    out = [
        f"  instances: {count} of each service; partitions per consumer group: {groups}"
        + (" (an instance beyond its group's partitions idles)" if count > 1 else "")
    ]
    out.extend(
        f"  records per partition during the run, {topic}: {counts}"
        for topic, counts in scale["records_per_partition"].items()
    )
    return out
