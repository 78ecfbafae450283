"""sla-clock benchmark: 100,000 open clocks (50,000 incidents × response and recovery).

    .venv/bin/python -m sla_clock.bench [--incidents 50000]

Needs Kafka and PostgreSQL, reached as a service reaches them (``BATON_KAFKA_*`` with its
credentials, ``BATON_PG_DSN``); against the local stack, ``baton bench --service sla-clock``
fills them in (`baton stack up --infra-only` is enough). It uses its own topic prefix and a
throw-away database.
Prints:

* throughput of the pure core (``decide.apply``) for open/pause/resume/acknowledge events, and
  of the handler's database transaction (processed record, locked load, fold, save, timers);
* memory per open clock held by the service (the metrics' open-clock table, the only per-clock
  state in memory; the rest lives in PostgreSQL), by tracemalloc;
* timer fire lag p50/p99 of a real sla-clock process (tick 0.2 s) firing 20,000 timers that fall
  due over 20 s, published to Kafka — from each timer's ``fired_at - due``;
* recovery after kill -9 with 100,000 open clocks: time until the restarted process is healthy
  and until the 10,000 timers that fell due while it was down have fired;
* burst: how long 50,000 timers due at the same instant take to fire (fires per second);
* the running service end to end: 2,000 open/pause/resume/acknowledge events each, produced to
  the incidents topic, until each is recorded as processed.
"""

# A script that prints its figures and drives a service process: prints, blocking process
# calls and polling loops are its job; ``main`` reads as one scenario.
# ruff: noqa: T201, ASYNC110, ASYNC220, PLR0915

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from sla_clock import store
from sla_clock.decide import apply, timers

ROOT = Path(__file__).resolve().parents[3]
from shared.clock import FixedClock  # noqa: E402
from shared.contract import load_contract  # noqa: E402
from shared.contract.view import ContractView  # noqa: E402
from shared.db import create_pool, mark_processed, migrate  # noqa: E402
from shared.events import (  # noqa: E402
    ActionKind,
    Category,
    Envelope,
    IncidentActionAcceptedV3,
    IncidentOpenedV1,
    Layer,
    make_event,
    stable_id,
)
from shared.kafka import aiokafka_kwargs  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.topic_admin import TopicAdminError, ensure_topics, wait_kafka  # noqa: E402
from sla_clock.metrics import OpenClocks  # noqa: E402
from sla_clock.timeline import IncidentRecord, Rules, fold  # noqa: E402

CONTRACT = ROOT / "examples" / "minimal" / "contract.yaml"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
T0 = datetime(2026, 12, 2, 10, tzinfo=UTC)


def opened(n: int, at: datetime) -> Envelope:
    inc = f"inc-bench-{n}"
    return make_event(
        IncidentOpenedV1(
            object_id="pg-main",
            layer=Layer.DBMS,
            category=Category.OUTAGE,
            priority="P1",
            summary="bench",
            opened_at=at,
            first_alert_at=at,
            fingerprints=[inc],
        ),
        source="bench",
        time=at,
        subject=inc,
        event_id=stable_id("bench-open", inc),
    )


def action(n: int, kind: ActionKind, at: datetime) -> Envelope:
    inc = f"inc-bench-{n}"
    extra = (
        {"pause_reason": "no-access", "evidence": ["b"]}
        if kind
        in {
            ActionKind.PAUSE,
            ActionKind.RESUME,
        }
        else {}
    )
    return make_event(
        IncidentActionAcceptedV3.model_validate(
            {
                "action": kind,
                "party": "osdb",
                "actor": "b",
                "at": at,
                "command_id": stable_id("bench-cmd", inc, kind),
                **extra,
            }
        ),
        source="bench",
        time=at,
        subject=inc,
        event_id=stable_id("bench-act", inc, kind),
    )


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def bench_pure(rules: Rules, n: int) -> dict[str, IncidentRecord]:
    records: dict[str, IncidentRecord] = {}
    stages: list[tuple[str, Callable[[int], Envelope]]] = [
        ("open", lambda i: opened(i, T0)),
        ("pause", lambda i: action(i, ActionKind.PAUSE, T0 + timedelta(minutes=5))),
        ("resume", lambda i: action(i, ActionKind.RESUME, T0 + timedelta(minutes=6))),
        ("acknowledge", lambda i: action(i, ActionKind.ACKNOWLEDGE, T0 + timedelta(minutes=7))),
    ]
    for name, make in stages:
        events = [make(i) for i in range(n)]
        began = time.perf_counter()
        for e in events:
            subject = e.subject or ""
            record, _ = apply(records.get(subject), e, rules, T0)
            assert record is not None
            records[subject] = record
        print(f"pure core, {name:<12} {rate(n, time.perf_counter() - began)}")
    return records


async def bench_db(pool: asyncpg.Pool, rules: Rules, n: int) -> None:
    """The handler's transaction without Kafka, one event per transaction, 8 at a time."""
    events = [opened(i, T0) for i in range(n)] + [
        action(i, ActionKind.PAUSE, T0 + timedelta(minutes=5)) for i in range(n)
    ]

    async def handle(e: Envelope) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await mark_processed(conn, "incidents", e.id)
            before = await store.load(conn, e.subject or "")
            after, _ = apply(before, e, rules, T0)
            assert after is not None
            views = fold(after, rules)
            await store.save_many(conn, [(after, views, timers(after, views, rules), 0)])

    for label, batch in (("open", events[:n]), ("pause", events[n:])):
        began = time.perf_counter()
        queue = list(batch)

        async def worker(todo: list[Envelope]) -> None:
            while todo:
                await handle(todo.pop())

        await asyncio.gather(*(worker(queue) for _ in range(8)))
        print(f"handler + PostgreSQL, {label:<6} {rate(n, time.perf_counter() - began)}")


async def bench_service_events(pool: asyncpg.Pool, kafka: dict[str, Any], topic: str) -> None:
    """The running service end to end: events produced to the incidents topic until each is
    recorded as processed (Kafka in, fold, PostgreSQL, clock events out to Kafka)."""
    n = 2000
    stages = [
        ("open", [opened(100_000 + i, T0) for i in range(n)]),
        (
            "pause",
            [action(100_000 + i, ActionKind.PAUSE, T0 + timedelta(minutes=5)) for i in range(n)],
        ),
        (
            "resume",
            [action(100_000 + i, ActionKind.RESUME, T0 + timedelta(minutes=6)) for i in range(n)],
        ),
        (
            "acknowledge",
            [
                action(100_000 + i, ActionKind.ACKNOWLEDGE, T0 + timedelta(minutes=7))
                for i in range(n)
            ],
        ),
    ]
    producer = AIOKafkaProducer(**kafka, linger_ms=5)
    await producer.start()
    try:
        for name, events in stages:
            before = await pool.fetchval("SELECT count(*) FROM processed_events")
            began = time.perf_counter()
            for e in events:
                await producer.send(topic, e.to_json(), key=e.key())
            await producer.flush()
            while await pool.fetchval("SELECT count(*) FROM processed_events") < before + n:
                await asyncio.sleep(0.05)
            print(f"service end to end, {name:<12} {rate(n, time.perf_counter() - began)}")
    finally:
        await producer.stop()


def bench_memory(rules: Rules, records: dict[str, IncidentRecord]) -> None:
    views = {inc: fold(r, rules) for inc, r in records.items()}
    for inc, r in records.items():  # reopen the acknowledged response clocks: all open
        views[inc] = fold(r.model_copy(update={"facts": r.facts[:2]}), rules)
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    table = OpenClocks(FixedClock(T0).now, rules.view.calendar)
    for inc, v in views.items():
        table.update(inc, v)
    used = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    clocks = len(table.clocks)
    print(f"memory: {clocks:,} open clocks in the service's table, {used / clocks:,.0f} B/clock")


async def load_clocks(pool: asyncpg.Pool, n: int, due_at: list[datetime]) -> None:
    """n incidents × 2 clocks as the service stores them; the first ``len(due_at)`` breach
    timers fall due at ``due_at``, every other timer far ahead; bulk-loaded."""
    far = T0 + timedelta(days=3650)
    records, timer_rows, clock_rows = [], [], []
    for i in range(n):
        inc = f"inc-load-{i}"
        rec = IncidentRecord(
            incident_id=inc,
            object_id="pg-main",
            layer=Layer.DBMS,
            party="osdb",
            category=Category.OUTAGE,
            priority="P1",
            opened_at=T0,
            first_alert_at=T0,
            opened_event=uuid.uuid4(),
        )
        records.append((inc, rec.model_dump_json(), 0))
        for clock in ("response", "recovery"):
            for threshold in (75, 100):
                k = 2 * i + (clock == "recovery")
                due = due_at[k] if threshold == 100 and k < len(due_at) else far
                timer_rows.append(
                    (inc, clock, threshold, due, due, timedelta(0), "osdb", "P1", "outage", i % 3)
                )
            clock_rows.append(
                (inc, clock, T0, timedelta(hours=4), far, "24x7", "P1", "osdb", "running")
            )
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "incident_clocks", records=records, columns=["incident_id", "record", "facts"]
        )
        await conn.copy_records_to_table(
            "timers", records=timer_rows, columns=list(store.SLA_TIMERS.columns)
        )
        await conn.copy_records_to_table(
            "clocks",
            records=clock_rows,
            columns=[
                "incident_id",
                "clock",
                "started_at",
                "target",
                "deadline",
                "calendar",
                "priority",
                "party",
                "status",
            ],
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def start_service(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], float]:
    port = free_port()
    began = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sla_clock"],
            env={**os.environ, **env, "BATON_HTTP_PORT": str(port)},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    async with httpx.AsyncClient() as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sla-clock exited, see {log}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return proc, time.perf_counter() - began
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def wait_fired(pool: asyncpg.Pool, until: datetime) -> None:
    while await pool.fetchval(
        "SELECT count(*) FROM timers WHERE fired_at IS NULL AND due <= $1", until
    ):
        await asyncio.sleep(0.05)


def kafka_env(settings: Settings) -> dict[str, str]:
    """``settings``' Kafka connection (address, protocol, credentials) as the ``BATON_KAFKA_*``
    variables the service process reads."""
    env = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name.startswith("kafka_") and value is not None:
            shown = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            env[f"BATON_{name.upper()}"] = shown
    return env


async def main(settings: Settings, incidents: int) -> None:
    kafka, admin_dsn = aiokafka_kwargs(settings), settings.pg_dsn.get_secret_value()
    try:
        await wait_kafka(kafka, timeout=5)
    except TopicAdminError as exc:
        raise SystemExit(f"needs Kafka (`baton stack up --infra-only`): {exc}") from None
    contract = load_contract(CONTRACT)
    rules = Rules(ContractView.of(contract))
    print(f"sla-clock bench: {incidents:,} incidents = {2 * incidents:,} clocks")
    records = bench_pure(rules, incidents)
    bench_memory(rules, records)

    tag = uuid.uuid4().hex[:8]
    prefix, db = f"bench{tag}.", f"baton_bench_{tag}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f"CREATE DATABASE {db}")
    await admin.close()
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{db}"
    await ensure_topics(kafka, prefix)
    pool = await create_pool(dsn, "sla_clock")
    log = Path(tempfile.gettempdir()) / f"sla-bench-{tag}.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        await migrate(pool, MIGRATIONS)
        await bench_db(pool, rules, min(incidents, 5000))
        async with pool.acquire() as conn:
            await conn.execute("TRUNCATE incident_clocks, timers, clocks, processed_events")
        # 20,000 breach timers fall due over 20 s from 15 s after now; 10,000 more just after
        # the kill below
        now = datetime.now(UTC)
        first = [now + timedelta(seconds=15 + 20 * k / 20000) for k in range(20000)]
        began = time.perf_counter()
        await load_clocks(pool, incidents, first)
        print(f"bulk load of {2 * incidents:,} clocks: {time.perf_counter() - began:.1f} s")
        env = {
            **kafka_env(settings),
            "BATON_PG_DSN": dsn,
            "BATON_TOPIC_PREFIX": prefix,
            "BATON_GROUP_PREFIX": prefix,
            "BATON_CONTRACT_PATH": str(CONTRACT),
            "BATON_SLA_TICK_SECONDS": "0.2",
            "BATON_LOG_LEVEL": "WARNING",
        }
        proc, healthy = await start_service(env, log)
        print(f"cold start with {2 * incidents:,} open clocks: healthy in {healthy:.1f} s")
        await wait_fired(pool, first[-1])
        lag = await pool.fetchrow(
            "SELECT count(*) AS n,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due)) p50,"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due)) p99"
            " FROM timers WHERE fired_at IS NOT NULL"
        )
        assert lag is not None
        print(f"fire lag over {lag['n']:,} timers: p50 {lag['p50']:.3f} s, p99 {lag['p99']:.3f} s")
        # kill -9, let 10,000 more fall due while down, restart
        async with pool.acquire() as conn:
            down_due = datetime.now(UTC) + timedelta(seconds=1)
            await conn.execute(
                "UPDATE timers SET due = $1, deadline = $1"
                " WHERE fired_at IS NULL AND threshold = 100 AND ctid IN (SELECT ctid FROM timers"
                " WHERE fired_at IS NULL AND threshold = 100 LIMIT 10000)",
                down_due,
            )
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        await asyncio.sleep(2)
        began = time.perf_counter()
        proc, healthy = await start_service(env, log)
        await wait_fired(pool, down_due)
        caught_up = time.perf_counter() - began
        print(
            f"recovery after kill -9 with {2 * incidents:,} open clocks: healthy in"
            f" {healthy:.1f} s, 10,000 overdue timers fired {caught_up:.1f} s after restart"
        )
        # burst: 50,000 timers due at once
        async with pool.acquire() as conn:
            burst_due = datetime.now(UTC)
            await conn.execute(
                "UPDATE timers SET due = $1, deadline = $1"
                " WHERE fired_at IS NULL AND threshold = 100 AND ctid IN (SELECT ctid FROM timers"
                " WHERE fired_at IS NULL AND threshold = 100 LIMIT 50000)",
                burst_due,
            )
        began = time.perf_counter()
        await wait_fired(pool, burst_due)
        print(f"burst: 50,000 timers due at once fired in {time.perf_counter() - began:.1f} s")
        await bench_service_events(pool, kafka, f"{prefix}incidents")
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        await pool.close()
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    asyncio.run(main(Settings(), parser.parse_args().incidents))
