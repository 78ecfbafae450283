"""Intake's own benchmark: alerts accepted per second over HTTP and through the raw-alerts
topic, the share of intake's time spent validating, and raw aiokafka beside them.

    python -m intake.bench --url http://127.0.0.1:8080 [--n 5000]

It reaches Kafka as intake does (``BATON_KAFKA_*`` with credentials, ``BATON_TOPIC_PREFIX``) and
posts with intake's Alertmanager source token (``BATON_INTAKE_SOURCE_TOKENS``): run it with
intake's environment, or against the local stack as ``baton bench --service intake``.

Figures:
- **HTTP accepted**: Alertmanager webhooks (``--per-request`` alerts each, every alert on its
  own unknown host) POSTed with ``--concurrency`` connections until every one was answered 202,
  i.e. every alert is durably in Kafka (acks=all);
- **validation share**: growth of intake's ``baton_intake_validation_seconds`` (guard, JSON,
  schema, normalisation) over the run, divided by the run's wall time — intake is one process
  on one event loop, so this is the share of its time; beside it the same work measured
  in-process, per alert;
- **Kafka accepted**: the same webhooks produced to ``<prefix>alerts.raw`` (header
  ``format: alertmanager``) until each normalised alert is on ``<prefix>alerts``;
- **raw aiokafka**: messages of the same size produced (idempotent, acks=all) and consumed
  back on a scratch topic of the same broker.
The client runs on the same machine as intake and the broker and takes CPU from them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from intake.formats import FORMATS
from intake.guard import parse_json
from shared.bench import raw_rate, tail_consumer, webhook
from shared.contract import load_contract
from shared.kafka import aiokafka_kwargs
from shared.settings import DEFAULT_CONTRACT, Settings

PARTITIONS = 3
_VALIDATION = re.compile(
    r'^baton_intake_validation_seconds_sum\{source="alertmanager"\} ([0-9.e+-]+)$', re.M
)


@dataclass(frozen=True)
class IntakeBench:
    alerts: int
    per_request: int
    http_per_s: float
    validation_share: float
    validation_us_per_alert: float
    kafka_per_s: float
    raw_per_s: float

    def lines(self) -> list[str]:
        return [
            f"alerts:                           {self.alerts} ({self.per_request} per webhook)",
            f"intake HTTP accepted (202, acks=all): {self.http_per_s:,.0f} alerts/s "
            f"(ratio to raw: {self.http_per_s / self.raw_per_s:.3f})",
            f"  validation share of intake's time:  {self.validation_share:.1%} "
            f"({self.validation_us_per_alert:.0f} µs/alert in-process)",
            f"intake Kafka (alerts.raw → alerts):   {self.kafka_per_s:,.0f} alerts/s "
            f"(ratio to raw: {self.kafka_per_s / self.raw_per_s:.3f})",
            f"raw aiokafka produce→consume:         {self.raw_per_s:,.0f} msg/s",
        ]


def validation_cost(body: bytes, per_request: int, rounds: int = 2000) -> float:
    """Seconds per alert to guard, parse, validate and normalise ``body`` in-process."""
    contract = load_contract(DEFAULT_CONTRACT)
    decode = FORMATS["alertmanager"].decode
    now = datetime.now(UTC)
    began = time.perf_counter()
    for i in range(rounds):
        decode(parse_json(body, 32), contract, now, str(i))
    return (time.perf_counter() - began) / (rounds * per_request)


async def _validation_seconds(client: httpx.AsyncClient, url: str) -> float:
    found = _VALIDATION.search((await client.get(f"{url}/metrics")).text)
    return float(found.group(1)) if found else 0.0


async def _post_many(url: str, path: str, bodies: list[bytes], token: str | None) -> None:
    """POST ``bodies`` one after another on one keep-alive HTTP/1.1 connection.

    A bare asyncio client: httpx costs about 3 ms of client CPU per request on this machine,
    which would measure the client rather than intake.
    """
    parsed = httpx.URL(url)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    reader, writer = await asyncio.open_connection(parsed.host, parsed.port or 80)
    try:
        for body in bodies:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {parsed.host}\r\n{auth}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            answer = await reader.readexactly(length)
            if status != 202:
                raise RuntimeError(f"{path}: {status} {answer[:200]!r}")
    finally:
        writer.close()


def webhooks(run: str, n: int, per_request: int) -> dict[int, bytes]:
    """``n`` alerts in webhooks of ``per_request`` each, by the number of their first alert."""
    now = datetime.now(UTC)
    return {
        start: orjson.dumps(webhook(run, range(start, min(start + per_request, n)), now))
        for start in range(0, n, per_request)
    }


async def http_rate(
    url: str, token: str | None, n: int, per_request: int, concurrency: int
) -> tuple[float, float]:
    """Alerts/s accepted over HTTP, and the validation share of intake's time."""
    run = uuid.uuid4().hex[:8]
    bodies = list(webhooks(run, n, per_request).values())
    async with httpx.AsyncClient(timeout=60) as client:
        before = await _validation_seconds(client, url)
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _post_many(url, "/v1/alerts/alertmanager", bodies[i::concurrency], token)
                for i in range(concurrency)
            )
        )
        elapsed = time.perf_counter() - began
        spent = await _validation_seconds(client, url) - before
    return n / elapsed, spent / elapsed


async def kafka_rate(kafka: Mapping[str, Any], prefix: str, n: int, per_request: int) -> float:
    """Alerts/s from the raw-alerts topic to the alerts topic."""
    run = uuid.uuid4().hex[:8]
    consumer = await tail_consumer(kafka, f"{prefix}alerts", PARTITIONS)
    producer = AIOKafkaProducer(**kafka, enable_idempotence=True)
    await producer.start()
    marker = f"bench-{run}-".encode()
    try:
        began = time.perf_counter()
        futures = [
            await producer.send(
                f"{prefix}alerts.raw",
                body,
                key=str(start).encode(),
                headers=[("format", b"alertmanager")],
            )
            for start, body in webhooks(run, n, per_request).items()
        ]
        await asyncio.gather(*futures)
        seen = 0
        deadline = time.monotonic() + 300
        while seen < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += sum(1 for rs in batch.values() for r in rs if marker in r.value)
        if seen < n:
            raise TimeoutError(f"only {seen} of {n} alerts reached {prefix}alerts")
        return n / (time.perf_counter() - began)
    finally:
        await producer.stop()
        await consumer.stop()


async def run(
    url: str,
    kafka: Mapping[str, Any],
    prefix: str,
    *,
    token: str | None,
    n: int,
    per_request: int,
    concurrency: int,
) -> IntakeBench:
    """``kafka``: aiokafka connection keywords (``shared.kafka.aiokafka_kwargs``); ``token``:
    the Alertmanager source's bearer token, when intake asks for one."""
    sample = orjson.dumps(webhook("x" * 8, range(per_request), datetime.now(UTC)))
    raw = await raw_rate(kafka, max(n // per_request, 1), len(sample))
    http, share = await http_rate(url, token, n, per_request, concurrency)
    through_kafka = await kafka_rate(kafka, prefix, n, per_request)
    return IntakeBench(
        alerts=n,
        per_request=per_request,
        http_per_s=http,
        validation_share=share,
        validation_us_per_alert=validation_cost(sample, per_request) * 1e6,
        kafka_per_s=through_kafka,
        raw_per_s=raw * per_request,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="intake's base URL")
    parser.add_argument("--n", type=int, default=5000, help="alerts per figure")
    parser.add_argument("--per-request", type=int, default=1, help="alerts per webhook")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    settings = Settings()
    token = settings.intake_source_tokens.get("alertmanager")
    result = asyncio.run(
        run(
            args.url,
            aiokafka_kwargs(settings),
            settings.topic_prefix,
            token=token[0].get_secret_value() if token else None,  # the new one comes first
            n=args.n,
            per_request=args.per_request,
            concurrency=args.concurrency,
        )
    )
    for line in result.lines():
        print(line)  # noqa: T201 - a command-line report


if __name__ == "__main__":
    main()
