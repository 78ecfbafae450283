"""Liveness and readiness: what a service can honestly say about itself.

``/livez`` answers while the process and its event loop run. ``/readyz`` answers 200 only when
PostgreSQL and Kafka each answered within ``BATON_READY_TIMEOUT_SECONDS`` and no consumer is
stalled: a partition with lag whose committed offset has not moved for
``BATON_READY_STALL_SECONDS`` (the stuck-consumer case of aiokafka after a broker restart or a
rebalance, or a handler that hangs). A background watch samples the same checks every
``BATON_HEALTH_INTERVAL_SECONDS`` and exports them as metrics, so Prometheus sees a dependency
down or a lag growing even when nobody asks ``/readyz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, Gauge

from shared.settings import Settings

log = logging.getLogger(__name__)
DEPENDENCIES = ("postgresql", "kafka")


@dataclass(frozen=True, slots=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    lag: int
    stalled_seconds: float


@dataclass
class Progress:
    """Per partition: the last offset seen and since when it has not moved while lagging.

    Pure: the caller passes ``now`` (a monotonic reading), so the rule is tested without waiting.
    """

    stall_after: float
    _seen: dict[tuple[str, str, int], tuple[int, float]] = field(default_factory=dict)

    def observe(self, key: tuple[str, str, int], offset: int, end: int, now: float) -> PartitionLag:
        """``key`` is (group, topic, partition); ``offset`` what the consumer has done."""
        lag = max(end - offset, 0)
        last = self._seen.get(key)
        # progress, or nothing to do: the stall timer starts again
        since = now if last is None or last[0] != offset or lag == 0 else last[1]
        self._seen[key] = (offset, since)
        return PartitionLag(*key, lag, now - since)

    def forget_except(self, keep: Iterable[tuple[str, str, int]]) -> None:
        """Drop partitions no longer assigned here (another instance took them)."""
        wanted = set(keep)
        for key in [k for k in self._seen if k not in wanted]:
            del self._seen[key]

    def stalled(self, lag: PartitionLag) -> bool:
        return lag.lag > 0 and lag.stalled_seconds >= self.stall_after


async def check_postgres(pool: asyncpg.Pool | None, limit: float) -> str | None:
    """None when PostgreSQL answered ``SELECT 1`` within ``limit`` seconds, else why not."""
    if pool is None:
        return "starting"
    try:
        async with asyncio.timeout(limit):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except TimeoutError:
        return f"no answer within {limit:g} s"
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    return None


async def check_kafka(broker: KafkaBroker, limit: float) -> str | None:
    """None when the cluster answered a metadata request within ``limit`` seconds, else why."""
    if not broker.running:
        return "starting"
    try:
        async with asyncio.timeout(limit + 1):  # ping bounds itself; this is the backstop
            ok = await broker.ping(limit)
    except TimeoutError:
        ok = False
    return None if ok else f"no answer within {limit:g} s"


def _consumers(broker: KafkaBroker) -> list[tuple[str, Any]]:
    """(group, aiokafka consumer) of every running subscriber; group "" for a consumer that
    follows a topic without a group (the contract topic)."""
    found: list[tuple[str, Any]] = []
    for sub in broker.subscribers:
        group = str(getattr(sub, "group_id", None) or "")
        many = getattr(sub, "consumer_subgroup", None) or []
        one = getattr(sub, "consumer", None)
        found.extend((group, c) for c in many or ([one] if one is not None else []))
    return found


async def sample_consumers(
    broker: KafkaBroker, progress: Progress, limit: float, now: float
) -> list[PartitionLag]:
    """Lag per partition assigned to this instance: end offset minus the group's committed
    offset. Committed offsets come from the admin client, never through the service's own
    consumer, so sampling cannot interfere with its group membership or commits; a consumer
    without a group (the contract topic) commits nothing and is left out."""
    lags: list[PartitionLag] = []
    admin = broker.config.admin_client
    for group, consumer in _consumers(broker):
        assigned = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
        if not group or not assigned:
            continue
        async with asyncio.timeout(limit):
            ends = await consumer.end_offsets(assigned)
            done = await admin.list_consumer_group_offsets(group, partitions=assigned)
        for tp in assigned:
            found = done.get(tp)
            offset = found.offset if found is not None and found.offset >= 0 else 0
            lags.append(progress.observe((group, tp.topic, tp.partition), offset, ends[tp], now))
    progress.forget_except((x.group, x.topic, x.partition) for x in lags)
    return lags


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, str]
    stalled: list[PartitionLag]

    def body(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "unready",
            "checks": self.checks,
            "stalled": [
                {
                    "group": s.group,
                    "topic": s.topic,
                    "partition": s.partition,
                    "lag": s.lag,
                    "stalled_seconds": round(s.stalled_seconds, 1),
                }
                for s in self.stalled
            ],
        }


class Health:
    """The checks behind ``/readyz`` and their metrics."""

    def __init__(
        self,
        service: str,
        settings: Settings,
        registry: CollectorRegistry,
        *,
        broker: KafkaBroker,
        pool: Callable[[], asyncpg.Pool | None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._settings = settings
        self._broker = broker
        self._pool = pool
        self._monotonic = monotonic
        self.progress = Progress(settings.ready_stall_seconds)
        self.stalled: list[PartitionLag] = []
        self.dependency_down: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._up = Gauge(
            "baton_dependency_up",
            "1 while the dependency answered the last check in time, else 0",
            ["service", "dependency"],
            registry=registry,
        )
        self._check_seconds = Gauge(
            "baton_dependency_check_seconds",
            "How long the last check of the dependency took",
            ["service", "dependency"],
            registry=registry,
        )
        self._lag = Gauge(
            "baton_consumer_lag",
            "Messages on an assigned partition not yet committed by this instance's consumer",
            ["service", "group", "topic", "partition"],
            registry=registry,
        )
        self._stall = Gauge(
            "baton_consumer_stalled_seconds",
            "Seconds the committed offset has not moved while the partition has lag",
            ["service", "group", "topic", "partition"],
            registry=registry,
        )
        self._ready = Gauge(
            "baton_ready", "1 while the service is ready (/readyz answers 200)", registry=registry
        )

    @property
    def kafka_down(self) -> bool:
        """Known unreachable at the last check (callers answer 503 at once, without waiting)."""
        return "kafka" in self.dependency_down

    async def _timed(self, dependency: str, check: Any) -> str | None:
        start = self._monotonic()
        problem: str | None = await check
        self._check_seconds.labels(self._service, dependency).set(self._monotonic() - start)
        self._up.labels(self._service, dependency).set(0 if problem else 1)
        if problem:
            self.dependency_down[dependency] = problem
        else:
            self.dependency_down.pop(dependency, None)
        return problem

    async def check_dependencies(self) -> dict[str, str]:
        timeout = self._settings.ready_timeout_seconds
        pg, kafka = await asyncio.gather(
            self._timed("postgresql", check_postgres(self._pool(), timeout)),
            self._timed("kafka", check_kafka(self._broker, timeout)),
        )
        return {"postgresql": pg or "ok", "kafka": kafka or "ok"}

    async def sample(self) -> None:
        """Lag and stall per assigned partition, into the metrics and ``self.stalled``."""
        if not self._broker.running:
            return
        try:
            lags = await sample_consumers(
                self._broker,
                self.progress,
                self._settings.ready_timeout_seconds,
                self._monotonic(),
            )
        except Exception as exc:  # Kafka away or slow: the dependency check says so
            log.warning("consumer lag sample failed", extra={"error": repr(exc)[:200]})
            return
        self._lag.clear()
        self._stall.clear()
        for x in lags:
            labels = (self._service, x.group or "(none)", x.topic, str(x.partition))
            self._lag.labels(*labels).set(x.lag)
            self._stall.labels(*labels).set(x.stalled_seconds if x.lag else 0)
        self.stalled = [x for x in lags if self.progress.stalled(x)]

    async def readiness(self) -> Readiness:
        checks = await self.check_dependencies()
        ok = all(v == "ok" for v in checks.values())
        checks["consumers"] = f"{len(self.stalled)} stalled" if self.stalled else "ok"
        ready = ok and not self.stalled
        self._ready.set(1 if ready else 0)
        return Readiness(ready, checks, list(self.stalled))

    async def _loop(self) -> None:
        while True:
            try:
                await self.readiness()
                await self.sample()
            except Exception:  # a failed round is retried at the next one
                log.exception("health round failed")
            await asyncio.sleep(self._settings.health_interval_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="health-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
