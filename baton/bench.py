"""`baton bench`: the pipeline's throughput and latency beside raw aiokafka on the same broker.

Baton's figure: N Alertmanager webhooks POSTed to intake (each on its own unknown object, so each
opens an incident) until every assignment has appeared on the assignments topic — alerts per
second end to end through intake → router (sla-clock consumes the same incidents in parallel),
and per-alert latency from the POST to the assignment's broker timestamp.
Raw figure: N messages of the same size produced with aiokafka and consumed back on the same broker.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from shared.bench import raw_rate, tail_consumer, webhook
from shared.events import AssignmentIssuedV3, parse_event
from shared.topic_admin import KafkaClient
from shared.topics import TOPIC_SPECS, Topic


@dataclass(frozen=True)
class BenchResult:
    n: int
    raw_per_s: float
    baton_per_s: float
    p50_ms: float
    p99_ms: float

    @property
    def ratio(self) -> float:
        return self.baton_per_s / self.raw_per_s

    def lines(self) -> list[str]:
        return [
            f"alerts:                         {self.n}",
            f"raw aiokafka produce→consume:   {self.raw_per_s:,.0f} msg/s",
            f"baton intake→router→assignment: {self.baton_per_s:,.0f} alerts/s "
            f"(ratio to raw: {self.ratio:.3f})",
            f"alert→assignment latency:       p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms",
        ]


async def baton_throughput(
    intake: str,
    bootstrap: KafkaClient,
    assignments_topic: str,
    n: int,
    concurrency: int,
    *,
    auth: httpx.Auth | None = None,
) -> tuple[float, list[float]]:
    run = uuid.uuid4().hex[:8]
    spec = next(s for s in TOPIC_SPECS if s.topic == Topic.ASSIGNMENTS)
    consumer = await tail_consumer(bootstrap, assignments_topic, spec.partitions)
    posted: dict[str, float] = {}  # alert summary (unique per alert) -> POST start (epoch s)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def poster(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            sent = time.time()
            response = await client.post(
                f"{intake}/v1/alerts/alertmanager", json=webhook(run, [i], datetime.now(UTC))
            )
            response.raise_for_status()
            posted[f"bench alert {run} {i}"] = sent

    latencies: list[float] = []
    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, auth=auth) as client:
        posters = asyncio.gather(*(poster(client) for _ in range(concurrency)))
        done: set[str] = set()
        pending: dict[str, float] = {}  # assignments seen before their POST returned
        try:
            while len(done) < n:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        event = parse_event(record.value)
                        data = event.data
                        if not isinstance(data, AssignmentIssuedV3) or data.summary in done:
                            continue
                        pending[data.summary] = record.timestamp / 1000
                for summary, at in list(pending.items()):
                    if summary in posted:
                        latencies.append((at - posted[summary]) * 1000)
                        done.add(summary)
                        del pending[summary]
                if posters.done() and posters.exception():
                    raise posters.exception()  # type: ignore[misc]
            await posters
        finally:
            await consumer.stop()
    return n / (time.perf_counter() - began), latencies


async def run_bench(
    intake: str,
    bootstrap: KafkaClient,
    prefix: str,
    n: int,
    concurrency: int = 32,
    *,
    auth: httpx.Auth | None = None,
) -> BenchResult:
    sample = str(webhook("x" * 8, [0], datetime.now(UTC)))
    raw = await raw_rate(bootstrap, n, len(sample))
    baton, latencies = await baton_throughput(
        intake, bootstrap, f"{prefix}assignments", n, concurrency, auth=auth
    )
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return BenchResult(
        n=n, raw_per_s=raw, baton_per_s=baton, p50_ms=statistics.median(latencies), p99_ms=p99
    )


__all__ = ["BenchResult", "run_bench"]
