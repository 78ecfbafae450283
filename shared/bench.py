"""What ``baton bench`` and ``intake.bench`` share: the Alertmanager webhooks they post, raw
aiokafka on the same broker as the yardstick they set Baton's figures beside (messages of the
same size produced, idempotent and acks=all, and consumed back), and the tail consumer they
read a run's output with."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.topic_admin import KafkaClient, client_kwargs

RAW_PARTITIONS = 3


def webhook(run: str, alerts: Iterable[int], now: datetime) -> dict[str, Any]:
    """An Alertmanager webhook with a firing alert per number in ``alerts``, each on its own
    unknown host (``bench-<run>-<i>``, also its fingerprint), so that each opens an incident."""
    return {
        "version": "4",
        "groupKey": f"bench-{run}",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "BenchAlert",
                    "instance": f"bench-{run}-{i}",
                    "severity": "critical",
                },
                "annotations": {"summary": f"bench alert {run} {i}"},
                "startsAt": now.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"bench-{run}-{i}",
            }
            for i in alerts
        ],
    }


async def tail_consumer(client: KafkaClient, topic: str, partitions: int) -> AIOKafkaConsumer:
    """A group-less consumer positioned at the current end of every partition of ``topic``."""
    consumer = AIOKafkaConsumer(**client_kwargs(client), enable_auto_commit=False)
    await consumer.start()
    parts = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)
    for tp in parts:
        await consumer.position(tp)  # resolve the end offset now, before anything is produced
    return consumer


async def raw_throughput(client: KafkaClient, topic: str, n: int, size: int) -> float:
    """Produce n messages of ``size`` bytes (batched, not awaited one by one), consume them back."""
    consumer = await tail_consumer(client, topic, RAW_PARTITIONS)
    producer = AIOKafkaProducer(**client_kwargs(client), enable_idempotence=True)
    await producer.start()
    payload = b"x" * size
    began = time.perf_counter()
    try:
        futures = [await producer.send(topic, payload, key=str(i % 64).encode()) for i in range(n)]
        await asyncio.gather(*futures)
        seen = 0
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(records) for records in batch.values())
        return n / (time.perf_counter() - began)
    finally:
        await producer.stop()
        await consumer.stop()


async def raw_rate(client: KafkaClient, n: int, size: int) -> float:
    """``raw_throughput`` on a scratch topic of ``RAW_PARTITIONS`` partitions, deleted after."""
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**client_kwargs(client))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, RAW_PARTITIONS, 1)])
        await asyncio.sleep(1)  # let the new partitions elect their leader
        return await raw_throughput(client, topic, n, size)
    finally:
        await admin.delete_topics([topic])
        await admin.close()
