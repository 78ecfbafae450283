"""Reusable chaos machinery: a stack of its own, an HTTP alert storm, fault injectors, and the
accounting read back from the record (the Kafka topics) once the storm is over.

- :class:`ChaosStack` — a stack in its own folder on its own ports (never the shared one), the
  four services plus extra instances (``intake-2`` …) on free ports; ``kill9``/``restart`` one
  process, ``kill_kafka``, ``stop_postgres``/``crash_postgres``, ``start_infra`` (whatever of
  them is down); ``not_ready`` lists what fails ``/readyz``. :func:`standard_faults` and
  :func:`run_fault` break, restore and time them.
- :class:`Storm` — alerts over HTTP, loopback only: each alert sent once (a batch of
  ``per_request`` alerts per request), at most ``concurrency`` requests in flight, each bounded by
  ``timeout``, paced to ``rate`` alerts/s and gated (``release``) so that a fault can be made to
  fall inside the storm. A request that could not connect (nothing reached the server) goes to
  the next intake instance, as a load balancer would; nothing else is retried, so every fact in
  the record comes from exactly one request.
- :class:`Record` — the incidents, assignments and sla topics read from the start, ids
  deduplicated (a repeat with the same id is what at-least-once delivery allows; consumers drop
  it), with the figures the suite asserts: landed / lost / doubled per fingerprint, primary and
  coordinator assignments per incident, warnings and breaches per clock.
- :func:`expected_clock_events` — what an unharmed sla-clock emits for the recorded facts by
  ``until``: the same pure core the service runs (``sla_clock.decide``), folded once, in order.

Kept free of pytest so that other chaos runs (the three-broker leader kill) can reuse it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from sla_clock.decide import apply, fire, timers
from sla_clock.timeline import IncidentRecord, Rules, fold

from baton import credentials, stack
from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    AlertAttachedV1,
    AlertCorrelatedV1,
    AssignmentIssuedV3,
    Envelope,
    EventType,
    HandoverV2,
    IncidentOpenedV1,
    parse_event,
)
from shared.topic_admin import KafkaClient, client_kwargs

SERVICES = ("intake", "router", "sla-clock", "reporting")
FIRES = (EventType.SLA_WARNING, EventType.SLA_BREACHED, EventType.SLA_OVERDUE)
# (event type, incident, clock, threshold): one sla event; a warning's threshold, else None
ClockKey = tuple[str, str, str, int | None]


# --------------------------------------------------------------------------- the stack


@dataclass
class ChaosStack:
    """A stack of its own: ``paths`` (its folder), its recorded ports, extra instances."""

    paths: stack.StackPaths
    extra: dict[str, stack.Service] = field(default_factory=dict)

    @classmethod
    def up(
        cls,
        root: Path,
        *,
        ports: stack.StackPorts | None = None,
        env: Mapping[str, str] = {},
        extra: Sequence[str] = (),
        timeout: float = 120.0,
    ) -> ChaosStack:
        """Kafka, PostgreSQL, then the four services and one more instance of each name in
        ``extra`` (``("intake",)`` adds ``intake-2`` on a free port), all started at once.
        ``env`` goes into this process's environment, which the services inherit."""
        os.environ.update(env)
        paths = stack.stack_paths({stack.STACK_DIR_ENV: str(root)})
        stack.up_infra(paths, ports=ports or stack.StackPorts.free(), timeout=timeout)
        chaos = cls(paths)
        table = {s.name: s for s in chaos.ports.service_table()}
        for name in extra:
            n = 2 + sum(1 for e in chaos.extra.values() if e.module == table[name].module)
            port = stack.StackPorts.free().services[0]
            chaos.extra[f"{name}-{n}"] = stack.Service(f"{name}-{n}", table[name].module, port)
        stack.ensure_credentials(paths)
        stack.start_services(paths, chaos.services(), timeout, chaos.ports)
        return chaos

    def down(self) -> None:
        """Gone and deleted: every process killed (nothing in it is kept, so no graceful stop
        that waits out consumers and the broker's shutdown), then ``stack down --purge``; its
        logs are kept beside it (``keep_logs``)."""
        for pidfile in self.paths.run.glob("*.pid"):
            if (pid := stack._running_pid(pidfile)) is not None:
                os.kill(pid, signal.SIGKILL)
        keep_logs(self.paths)
        stack.down(self.paths, purge=True)

    @property
    def ports(self) -> stack.StackPorts:
        return stack.stack_ports(self.paths)

    @property
    def dsn(self) -> str:
        """With the password its ``stack up`` made (never print it)."""
        return self.ports.dsn_with(credentials.require(self.paths.root).postgres_password)

    @property
    def kafka(self) -> dict[str, Any]:
        """aiokafka keywords for its brokers, as its Kafka ``admin``."""
        return stack.kafka_client(self.ports, credentials.require(self.paths.root))

    def services(self) -> list[stack.Service]:
        """Every service process: the four, then the extra instances."""
        return [*self.ports.service_table(), *self.extra.values()]

    def service(self, name: str) -> stack.Service:
        return next(s for s in self.services() if s.name == name)

    def intake_urls(self) -> list[str]:
        return [s.url for s in self.services() if s.module == "intake"]

    def auth(self) -> httpx.Auth:
        """The credentials its ``stack up`` made, for its services' APIs."""
        return credentials.StackAuth(credentials.require(self.paths.root))

    def pid(self, name: str) -> int | None:
        return stack._running_pid(self.paths.pidfile(name))

    # -- faults: each blocks (run them in a thread)

    def kill9(self, name: str) -> None:
        """SIGKILL a service process and wait until it and its port are gone."""
        pid = self.pid(name)
        assert pid is not None, f"{name} is not running"
        os.kill(pid, signal.SIGKILL)
        self._gone(name, self.service(name).port)

    def restart(self, name: str, timeout: float = 120.0) -> None:
        """Start a service process again (as its supervisor would) and wait for /healthz."""
        stack.start_services(self.paths, [self.service(name)], timeout, self.ports)

    def kill_kafka(self) -> None:
        """SIGKILL the broker: no clean shutdown, so it recovers its logs when it comes back."""
        pid = self.pid("kafka")
        assert pid is not None, "Kafka is not running"
        os.kill(pid, signal.SIGKILL)
        self._gone("kafka", self.ports.kafka, self.ports.controller)

    def stop_postgres(self) -> None:
        """PostgreSQL's fast shutdown: every connection cut at once, nothing more accepted."""
        stack.stop_postgres(self.paths)

    def crash_postgres(self) -> None:
        """PostgreSQL's immediate shutdown (SIGQUIT to the postmaster): no checkpoint, crash
        recovery from the WAL when it starts again — the nearest thing to a kill -9 that leaves
        no orphaned backends holding its shared memory."""
        pid = stack._postmaster_pid(self.paths)
        assert pid is not None, "PostgreSQL is not running"
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 30
        while stack._port_open(self.ports.postgres) or stack._postmaster_pid(self.paths):
            assert time.monotonic() < deadline, "PostgreSQL survived its immediate shutdown"
            time.sleep(0.1)

    def start_infra(self, timeout: float = 300.0) -> None:
        """Start whatever of Kafka and PostgreSQL is down (and re-create missing topics)."""
        stack.up_infra(self.paths, timeout=timeout)

    def _gone(self, name: str, *ports: int) -> None:
        deadline = time.monotonic() + 30
        # an exiting process loses its command line before its sockets: wait for both
        while self.pid(name) is not None or any(map(stack._port_open, ports)):
            assert time.monotonic() < deadline, f"{name} survived SIGKILL"
            time.sleep(0.05)

    async def not_ready(self, client: httpx.AsyncClient) -> list[str]:
        """The service processes whose /readyz is not 200 right now."""

        async def ready(service: stack.Service) -> bool:
            try:
                return (await client.get(f"{service.url}/readyz", timeout=3)).status_code == 200
            except httpx.HTTPError:
                return False

        services = self.services()
        answers = await asyncio.gather(*(ready(s) for s in services))
        return [s.name for s, ok in zip(services, answers, strict=True) if not ok]


@dataclass(frozen=True)
class Fault:
    """One fault: ``brk`` breaks something, ``restore`` brings it back (both blocking)."""

    name: str
    brk: Callable[[], None]
    restore: Callable[[], None]


def standard_faults(chaos: ChaosStack) -> list[Fault]:
    """kill -9 of every service process in turn (restarted at once, as a supervisor would),
    then Kafka killed and restarted, then PostgreSQL stopped (fast: every connection cut) and
    restarted. Not ``crash_postgres``: its crash recovery once made ``pg_ctl -w start`` fail
    (permission denied on pg_control while the end-of-recovery checkpoint ran) — a stack start
    race, not what the suite tests."""
    out = [
        Fault(
            f"kill -9 {s.name}",
            functools.partial(chaos.kill9, s.name),
            functools.partial(chaos.restart, s.name),
        )
        for s in chaos.services()
    ]
    out.append(Fault("kill -9 kafka", chaos.kill_kafka, chaos.start_infra))
    out.append(Fault("restart postgresql", chaos.stop_postgres, chaos.start_infra))
    return out


@dataclass(frozen=True)
class Recovery:
    restored: float  # seconds from the break until the broken thing ran again
    ready: float  # ... until every service process answered /readyz 200


async def run_fault(
    chaos: ChaosStack, fault: Fault, on_broken: Callable[[], None], deadline: float
) -> Recovery:
    """Break, call ``on_broken`` (e.g. release the next part of the storm), restore, and wait
    until every service process answers /readyz 200."""
    started = time.monotonic()
    await asyncio.to_thread(fault.brk)
    on_broken()
    await asyncio.to_thread(fault.restore)
    restored = time.monotonic() - started
    async with httpx.AsyncClient() as client:
        while waiting := await chaos.not_ready(client):
            waited = time.monotonic() - started
            assert waited < deadline, f"{fault.name}: {waiting} not ready after {waited:.0f} s"
            await asyncio.sleep(0.2)
    return Recovery(restored, time.monotonic() - started)


# --------------------------------------------------------------------------- the storm


OUTSIDE_EVERY = 5  # every fifth alert is on a host outside the contract: its own incident


def storm_alerts(
    count: int, run: str, objects: list[str], source: str, *, start: datetime | None = None
) -> list[dict[str, Any]]:
    """``count`` generic alerts from ``source``, each its own fingerprint, on the ``objects``
    in turn, every OUTSIDE_EVERY-th on a host of its own outside the contract; with ``start``,
    each its own start spread over the hour before it."""
    out = []
    for i in range(count):
        alert: dict[str, Any] = {
            "source": source,
            "fingerprint": f"{run}-{i}",
            "summary": f"{source} alert {i}",
            "severity": "critical",
        }
        if start is not None:
            alert["starts_at"] = (start - timedelta(seconds=(i * 7919) % 3600)).isoformat()
        if i % OUTSIDE_EVERY == 0:
            alert["labels"] = {"instance": f"{source}-{run}-{i}"}
        else:
            alert["object_id"] = objects[i % len(objects)]
        out.append(alert)
    return out


@dataclass
class Storm:
    """Send ``alerts`` (generic-format alert dicts, each with its own ``fingerprint``) to
    intake's ``/v1/alerts`` at ``urls``; see the module's docstring for the bounds."""

    urls: Sequence[str]
    alerts: Sequence[dict[str, Any]]
    rate: float  # alerts per second
    concurrency: int = 8
    timeout: float = 10.0
    per_request: int = 5
    auth: httpx.Auth | None = None  # ChaosStack.auth(): the stack is secure by default
    released: int = 0  # alerts that may be sent so far (see release)
    sent: int = 0
    requests: int = 0
    accepted: set[str] = field(default_factory=set)  # fingerprints answered 2xx
    refused: set[str] = field(default_factory=set)  # answered otherwise, or not at all
    statuses: Counter[int] = field(default_factory=Counter)  # per request; 0 = no answer
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    _moved: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self, upto: int) -> None:
        """Let the storm send the batches that begin before alert ``upto`` (the gate a fault
        schedule moves; a batch is never split)."""
        self.released = max(self.released, min(upto, len(self.alerts)))
        self._moved.set()

    async def reached(self, count: int, stall: float = 60.0) -> None:
        """Wait until ``count`` alerts have been answered (or given up on); fail when no
        answer came for ``stall`` seconds."""
        while (done := len(self.accepted) + len(self.refused)) < min(count, len(self.alerts)):
            self._moved.clear()
            try:
                await asyncio.wait_for(self._moved.wait(), stall)
            except TimeoutError:
                raise AssertionError(
                    f"storm stalled: {done} of {count} answered, {self.released} released"
                ) from None

    async def run(self) -> None:
        started = time.monotonic()
        batches = [
            self.alerts[i : i + self.per_request]
            for i in range(0, len(self.alerts), self.per_request)
        ]
        queue = iter(range(len(batches)))
        gap = self.per_request / self.rate
        next_slot = time.monotonic()

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal next_slot
            for n in queue:
                while n * self.per_request >= self.released:  # its first alert is held
                    self._moved.clear()
                    await self._moved.wait()
                now = time.monotonic()
                next_slot = max(next_slot + gap, now)
                await asyncio.sleep(next_slot - now)
                await self._send(client, n, batches[n])

        limits = httpx.Limits(max_connections=self.concurrency * len(self.urls))
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits, auth=self.auth) as client:
            await asyncio.gather(*(worker(client) for _ in range(self.concurrency)))
        self.seconds = time.monotonic() - started

    async def _send(
        self, client: httpx.AsyncClient, n: int, batch: Sequence[dict[str, Any]]
    ) -> None:
        fingerprints = [str(a["fingerprint"]) for a in batch]
        self.sent += len(batch)
        status = 0
        began = time.monotonic()
        for attempt in range(len(self.urls)):
            url = self.urls[(n + attempt) % len(self.urls)]
            self.requests += 1
            try:
                # httpx bounds each phase (connect, write, read) on its own; this bounds the whole
                async with asyncio.timeout(self.timeout):
                    answer = await client.post(f"{url}/v1/alerts", json={"alerts": batch})
                status = answer.status_code
                break
            except httpx.ConnectError:
                continue  # nothing reached that instance: the next one may take it
            except (httpx.HTTPError, TimeoutError):
                break  # sent, no answer: maybe kept, maybe not; never sent again
        self.latencies.append(time.monotonic() - began)
        self.statuses[status] += 1
        (self.accepted if 200 <= status < 300 else self.refused).update(fingerprints)
        self._moved.set()


# --------------------------------------------------------------------------- the record


async def read_topic(bootstrap: KafkaClient, topic: str, timeout: float = 60.0) -> list[Envelope]:
    """Every event of ``topic`` from the start to its end as of now (all partitions, each in
    its own order; no consumer group, nothing committed)."""
    consumer = AIOKafkaConsumer(**client_kwargs(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while not (
            partitions := (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
        ):
            assert time.monotonic() < deadline, f"{topic}: no such topic"
            await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[TopicPartition, list[Envelope]] = {tp: [] for tp in tps}
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"{topic}: not read to its end in {timeout} s"
            for tp, records in (await consumer.getmany(timeout_ms=500, max_records=5000)).items():
                out[tp].extend(parse_event(r.value) for r in records if r.value is not None)
        return [e for tp in tps for e in out[tp]]
    finally:
        await consumer.stop()


@dataclass
class Record:
    """The three topics that say what happened, read once the storm is over, and the alerts
    intake holds back for a maintenance window."""

    facts: list[Envelope]  # incidents topic, each id once, in partition order
    assignments: list[Envelope]  # assignments topic, each id once
    sla: list[Envelope]  # sla topic, every record (doubles are the point)
    repeats: dict[str, int]  # per topic: records that repeated an id already read
    held: frozenset[str] = frozenset()  # fingerprints held by an approved maintenance window

    @classmethod
    async def read(
        cls, bootstrap: KafkaClient, dsn: str, contract: Contract, prefix: str = "baton."
    ) -> Record:
        incidents, assignments, sla, held = await asyncio.gather(
            read_topic(bootstrap, f"{prefix}incidents"),
            read_topic(bootstrap, f"{prefix}assignments"),
            read_topic(bootstrap, f"{prefix}sla"),
            held_alerts(dsn, contract),
        )
        facts, issued = _unique(incidents), _unique(assignments)
        return cls(
            facts=facts,
            assignments=issued,
            sla=sla,
            repeats={
                "incidents": len(incidents) - len(facts),
                "assignments": len(assignments) - len(issued),
                "sla": len(sla) - len({e.id for e in sla}),
            },
            held=held,
        )

    def incidents(self) -> set[str]:
        return {e.subject or "" for e in self.facts if e.type == EventType.INCIDENT_OPENED}

    def landings(self) -> dict[str, list[tuple[str, uuid.UUID]]]:
        """fingerprint -> (incident, fact id) of each fact that put that alert into an incident
        (opened with it, attached, correlated). One alert sent once has exactly one."""
        out: dict[str, list[tuple[str, uuid.UUID]]] = {}
        for e in self.facts:
            data = e.data
            if isinstance(data, IncidentOpenedV1):
                fps = data.fingerprints
            elif isinstance(data, AlertAttachedV1 | AlertCorrelatedV1):
                fps = [data.fingerprint]
            else:
                continue
            for fp in fps:
                out.setdefault(fp, []).append((e.subject or "", e.id))
        return out

    def roles(self) -> dict[str, Counter[str]]:
        """incident -> how many assignments of each role were issued (distinct ids), and how
        many handovers (``"handover"``) moved its primary."""
        out: dict[str, Counter[str]] = {i: Counter() for i in self.incidents()}
        for e in self.assignments:
            if isinstance(e.data, AssignmentIssuedV3):
                out.setdefault(e.subject or "", Counter())[e.data.role.value] += 1
            elif isinstance(e.data, HandoverV2):
                out.setdefault(e.subject or "", Counter())["handover"] += 1
        return out

    def wrong_owners(self) -> dict[str, dict[str, int]]:
        """Incidents without exactly one coordinator, or whose primaries are not one plus one
        per handover. A handover is legitimate in a storm: when an alert on a deeper failing
        dependency joins an open incident, intake moves the origin and the router hands the
        primary over to that layer's party (``router.routing.on_origin_moved``); with two
        intake instances, which of two related alerts arrives first is a race."""
        return {
            i: dict(r)
            for i, r in self.roles().items()
            if (r["primary"] - r["handover"], r["coordinator"]) != (1, 1)
        }

    def clock_events(self) -> dict[ClockKey, set[uuid.UUID]]:
        """(type, incident, clock, threshold) -> the ids sla-clock published it under."""
        out: dict[ClockKey, set[uuid.UUID]] = {}
        for e in self.sla:
            k = clock_key(e)
            if k is not None:
                out.setdefault(k, set()).add(e.id)
        return out


def _unique(events: list[Envelope]) -> list[Envelope]:
    seen: set[uuid.UUID] = set()
    out = []
    for e in events:
        if e.id not in seen:
            seen.add(e.id)
            out.append(e)
    return out


def clock_key(e: Envelope) -> ClockKey | None:
    clock = getattr(e.data, "clock", None)
    if not e.type.value.startswith("baton.sla.") or clock is None or not e.subject:
        return None
    return (e.type.value, e.subject, str(clock.value), getattr(e.data, "threshold", None))


def expected_clock_events(
    contract: Contract, facts: Sequence[Envelope], until: datetime
) -> set[ClockKey]:
    """What sla-clock, unharmed, has published for ``facts`` once its clock reads ``until``:
    the events each fact causes (``apply``) and every warning and breach due by then
    (``timers``), from the pure core the service itself runs."""
    rules = Rules(ContractView.of(contract))
    records: dict[str, IncidentRecord | None] = {}
    out: set[ClockKey] = set()
    for event in facts:
        subject = event.subject or ""
        record, emitted = apply(records.get(subject), event, rules, until)
        records[subject] = record
        out.update(k for e in emitted if (k := clock_key(e)) is not None)
    for record in records.values():
        if record is None:
            continue
        for t in timers(record, fold(record, rules), rules):
            if t.due <= until and (k := clock_key(fire(t, until))) is not None:
                out.add(k)
    return out


def keep_logs(paths: stack.StackPaths) -> Path | None:
    """Copy a stack's logs beside its folder (``<folder>-logs``, under pytest's temporary
    directory, which keeps the last runs) before the folder is purged: what the services and
    brokers said is what explains a failed run."""
    if not paths.logs.is_dir():
        return None
    kept = paths.root.parent / f"{paths.root.name}-logs"
    shutil.copytree(paths.logs, kept, dirs_exist_ok=True)
    return kept


async def held_alerts(dsn: str, contract: Contract) -> frozenset[str]:
    """The fingerprints intake holds back because an approved maintenance window covers their
    object (the example contract's checkouts: Mondays and Thursdays 22:00–23:00 in Almaty),
    each checked to be in such a window when it arrived: kept, not lost."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT fingerprint, object_id, window_id, received_at FROM intake.maintenance_alerts"
        )
    finally:
        await conn.close()
    for row in rows:
        window = ContractView.of(contract).holding_window(row["object_id"], row["received_at"])
        assert window is not None, f"held outside any approved window: {dict(row)}"
        assert window.id == row["window_id"], f"held by the wrong window: {dict(row)}"
    return frozenset(row["fingerprint"] for row in rows)
