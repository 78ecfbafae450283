"""`baton bench --scenario unique|storm|steady`: the whole pipeline on the local stack, beside
raw aiokafka produce→consume measured in the same run on the same broker.

- **unique**: every alert a new incident (one per Alertmanager webhook, ``--concurrency``
  clients): alerts per second to the assignment (router's event on the assignments topic) and to
  the reporting row (reporting's consumer group has committed everything), latency p50/p99 from
  the POST to the assignment's broker timestamp.
- **storm**: Alertmanager webhooks of 10 alerts, about 95 % repeats, in cascades along the
  contract's dependency graph (an origin fails, then every object that depends on it); measured
  until every consumer group of the pipeline has committed the end of its topics, i.e. every
  incident's state, assignments, clocks and read model are final.
- **steady**: one new incident every 1/rate seconds for ``--seconds``: latency from the POST to
  the assignment and to the incident's row in reporting's read API.

For every scenario: the CPU seconds each service process used per 1,000 alerts (from
``/proc``; with ``instances`` > 1, summed per service and given per instance too), the
partitions of each consumer group's topics and the records each partition got during the run
(how far the run could spread over instances), and the machine's load average at the start (the
machine may be shared); then the
people told (``baton/notify_bench.py``): the router's notification rows of the run, waited for
(bounded) until none is queued, how many were sent, failed or repeated, and what Mailpit received.
With ``smtp_outage`` (storm only) the stack's Mailpit is stopped when the storm begins and
started again that many seconds later: the messages lost, the time the outbox took to drain after
the relay returned, and the latency to assignment of the incidents opened while it was away.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from aiokafka import AIOKafkaConsumer

from baton import notify_bench
from baton.measures import (
    JOIN_LIMIT_S,
    POLL_S,
    CpuMeter,
    Lag,
    partitions,
    per_service,
    percentile,
    pipeline_groups,
    scale_lines,
    scale_out,
)
from shared.bench import raw_rate, tail_consumer
from shared.contract import Contract
from shared.events import AssignmentIssuedV3, AssignmentRole, parse_event
from shared.settings import Settings
from shared.topic_admin import KafkaClient
from shared.topics import Topic

SCENARIOS = ("unique", "storm", "steady")
STORM_PER_WEBHOOK = 10
STORM_REPEATS = 20  # each distinct alert sent this many times: 95 % repeats


# ------------------------------------------------------------------ traffic


def _alert(fingerprint: str, labels: dict[str, str], summary: str, now: datetime) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "BenchAlert", "severity": "critical", **labels},
        "annotations": {"summary": summary},
        "startsAt": now.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


def _webhook(run: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "groupKey": f"bench-{run}", "status": "firing", "alerts": alerts}


def unique_alert(run: str, i: int, now: datetime) -> dict[str, Any]:
    """An alert on a host no contract object matches: it opens its own incident."""
    return _alert(f"bench-{run}-{i}", {"instance": f"bench-{run}-{i}"}, summary(run, i), now)


def summary(run: str, i: int) -> str:
    return f"bench alert {run} {i}"


def cascades(contract: Contract) -> list[list[str]]:
    """For each object, the object then every object that depends on it (transitively)."""
    dependants: dict[str, set[str]] = {o.id: set() for o in contract.objects}
    for obj in contract.objects:
        for dep in obj.depends_on:
            dependants.setdefault(dep, set()).add(obj.id)
    out = []
    for obj in contract.objects:
        seen, todo = [obj.id], [obj.id]
        while todo:
            for nxt in sorted(dependants.get(todo.pop(0), ())):
                if nxt not in seen:
                    seen.append(nxt)
                    todo.append(nxt)
        out.append(seen)
    return sorted(out, key=len, reverse=True)


def storm_webhooks(contract: Contract, run: str, n: int, now: datetime) -> list[dict[str, Any]]:
    """``n`` alerts, ``n / STORM_REPEATS`` distinct, cascading along the dependency graph,
    ``STORM_PER_WEBHOOK`` per webhook; every distinct alert is sent again each round."""
    labels = {o.id: dict(o.match or {"object": o.id}) for o in contract.objects}
    distinct: list[dict[str, Any]] = []
    waves = cascades(contract)
    wave = 0
    while len(distinct) < max(1, n // STORM_REPEATS):
        for object_id in waves[wave % len(waves)]:
            i = len(distinct)
            distinct.append(
                _alert(f"storm-{run}-{i}", labels[object_id], f"storm {object_id} #{i}", now)
            )
        wave += 1
    distinct = distinct[: max(1, n // STORM_REPEATS)]
    sequence = [distinct[i % len(distinct)] for i in range(n)]
    return [
        _webhook(run, sequence[i : i + STORM_PER_WEBHOOK]) for i in range(0, n, STORM_PER_WEBHOOK)
    ]


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> None:
    """POST, again after a dropped connection (a repeat is deduplicated by its fingerprint)."""
    for attempt in range(3):
        try:
            response = await client.post(url, json=body)
        except httpx.TransportError:
            if attempt == 2:
                raise
            continue
        response.raise_for_status()
        return


async def _post_all(
    client: httpx.AsyncClient,
    url_of: Callable[[int], str],
    bodies: list[dict[str, Any]],
    concurrency: int,
) -> list[float]:
    """POST every body (``concurrency`` at a time, in order), body ``i`` to ``url_of(i)``; when
    each POST started."""
    started = [0.0] * len(bodies)
    queue = iter(range(len(bodies)))

    async def worker() -> None:
        for i in queue:
            started[i] = time.time()
            await _post(client, url_of(i), bodies[i])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return started


async def _assignments(
    consumer: AIOKafkaConsumer, wanted: set[str], seen: dict[str, float], stop: asyncio.Event
) -> None:
    """Record the broker time of each primary assignment whose summary is ``wanted``."""
    while len(seen) < len(wanted) and not stop.is_set():
        batch = await consumer.getmany(timeout_ms=200)
        for records in batch.values():
            for record in records:
                data = parse_event(record.value or b"").data
                if (
                    isinstance(data, AssignmentIssuedV3)
                    and data.role == AssignmentRole.PRIMARY
                    and data.summary in wanted
                    and data.summary not in seen
                ):
                    seen[data.summary] = record.timestamp / 1000


# ------------------------------------------------------------------ results


@dataclass
class ScenarioResult:
    scenario: str
    alerts: int
    raw_per_s: float
    figures: dict[str, float]
    cpu_per_1000: dict[str, float]
    load: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)
    people: notify_bench.Figures | None = None
    cpu_by_instance: dict[str, float] = field(default_factory=dict)  # per 1,000 alerts
    scale: dict[str, Any] = field(default_factory=dict)  # see ``scale_out``

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "alerts": self.alerts,
            "raw_aiokafka_msg_per_s": round(self.raw_per_s, 1),
            **{k: round(v, 3) for k, v in self.figures.items()},
            "cpu_seconds_per_1000_alerts": {k: round(v, 3) for k, v in self.cpu_per_1000.items()},
            "cpu_seconds_per_1000_alerts_by_instance": {
                k: round(v, 3) for k, v in self.cpu_by_instance.items()
            },
            "scale_out": self.scale,
            "load_average": self.load,
            "notes": self.notes,
            **(self.people.as_dict() if self.people is not None else {}),
        }

    def lines(self) -> list[str]:
        out = [
            f"scenario {self.scenario}: {self.alerts} alerts "
            f"(load average at start {self.load[0]:.1f} on {os.cpu_count()} CPUs)",
            f"  raw aiokafka produce→consume       {self.raw_per_s:>10,.0f} msg/s",
        ]
        for name, value in self.figures.items():
            units = {"_ms": "ms", "_per_s": "/s", "_s": "s"}
            unit = next((u for end, u in units.items() if name.endswith(end)), "")
            out.append(f"  {name:<35}{value:>10,.3f} {unit}".rstrip())
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in self.cpu_per_1000.items())
        out.append(f"  CPU s per 1,000 alerts: {cpu}")
        if len(self.cpu_by_instance) > len(self.cpu_per_1000):
            each = ", ".join(f"{k} {v:.2f}" for k, v in self.cpu_by_instance.items())
            out.append(f"  CPU s per 1,000 alerts by instance: {each}")
        out.extend(scale_lines(self.scale))
        if self.people is not None:
            out.extend(notify_bench.lines(self.people))
        out.extend(f"  note: {n}" for n in self.notes)
        return out


class Relay(Protocol):
    """The stack's SMTP relay (``baton.mailpit.Relay``): read over HTTP, stopped and started."""

    @property
    def web_url(self) -> str: ...

    def stop(self) -> None: ...

    def start(self) -> None: ...


ALERTMANAGER_PATH = "/v1/alerts/alertmanager"


@dataclass
class Stack:
    intakes: tuple[str, ...]  # every intake instance's base URL; requests go round robin
    reporting: str
    bootstrap: KafkaClient
    settings: Settings
    contract: Contract
    pids: dict[str, int]
    auth: httpx.Auth | None = None  # the stack's credentials (baton.credentials.StackAuth)
    relay: Relay | None = None  # the stack's Mailpit, when it has one
    senders: list[str] | None = None  # the router's sender kinds; None: not known
    instances: int = 1  # processes of each service (``pids`` names them all: intake-2, …)

    def intake_url(self, i: int) -> str:
        """Where request ``i`` goes: the intake instances in turn, one request each."""
        return f"{self.intakes[i % len(self.intakes)]}{ALERTMANAGER_PATH}"


@dataclass
class Outage:
    """An SMTP outage during the storm: how long, and when (``time.time()``) it began and
    ended."""

    seconds: float
    down_at: float = 0.0
    up_at: float = 0.0

    @property
    def window(self) -> tuple[float, float]:
        """From the stop to the start (the planned end while it is still away)."""
        return self.down_at, self.up_at or self.down_at + self.seconds

    async def begin(self, relay: Relay) -> None:
        await asyncio.to_thread(relay.stop)
        self.down_at = time.time()

    async def end_later(self, relay: Relay) -> None:
        """Start the relay again after the outage (at once when cancelled)."""
        try:
            await asyncio.sleep(self.seconds)
        finally:
            await asyncio.to_thread(relay.start)
            self.up_at = time.time()


async def run_scenario(
    stack: Stack,
    scenario: str,
    n: int,
    *,
    concurrency: int = 32,
    rate: float = 100.0,
    seconds: float = 60.0,
    limit_s: float = 600.0,
    smtp_outage: float = 0.0,
) -> ScenarioResult:
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    if smtp_outage and (scenario != "storm" or stack.relay is None):
        raise ValueError("smtp_outage: only for the storm, on a stack with Mailpit")
    outage = Outage(smtp_outage) if smtp_outage else None
    load = os.getloadavg()
    sample = len(str(_webhook(run, [unique_alert(run, 0, now)])))
    raw = await raw_rate(stack.bootstrap, max(n, 2000), sample)
    runners: dict[str, Callable[..., Any]] = {"unique": _unique, "storm": _storm, "steady": _steady}
    runner = runners[scenario]
    cpu = CpuMeter(stack.pids)
    groups = list(pipeline_groups(stack.settings))
    async with Lag(stack.bootstrap, stack.settings) as lag:
        if stack.instances > 1:
            await lag.wait_members(groups, stack.instances, min(limit_s, JOIN_LIMIT_S))
        ends_before = await lag.ends()
    away: asyncio.Task[None] | None = None
    if outage is not None and stack.relay is not None:
        await outage.begin(stack.relay)  # down before the first alert
        away = asyncio.create_task(outage.end_later(stack.relay))
    try:
        cpu.start()
        alerts, figures, notes = await runner(
            stack,
            run,
            n,
            concurrency=concurrency,
            rate=rate,
            seconds=seconds,
            limit_s=limit_s,
            outage=outage,
        )
        used = cpu.stop()  # the pipeline's work: not the outage's wait, not the outbox's
        if away is not None:
            await away  # the relay is back before the outbox is measured
    finally:
        if away is not None and not away.done():
            away.cancel()
            await asyncio.gather(away, return_exceptions=True)
    for key in [k for k in figures if k.endswith("_per_s")]:
        figures[f"ratio_{key.removesuffix('_per_s')}_to_raw"] = figures[key] / raw
    async with Lag(stack.bootstrap, stack.settings) as lag:
        ends_after = await lag.ends()
    notes += await _people_told(stack, now, figures, outage, limit_s)
    return ScenarioResult(
        scenario=scenario,
        alerts=alerts,
        raw_per_s=raw,
        figures=figures,
        cpu_per_1000={k: v * 1000 / alerts for k, v in per_service(used).items()},
        load=load,
        notes=notes,
        people=await _people_figures(stack, now),
        cpu_by_instance={k: v * 1000 / alerts for k, v in used.items()},
        scale=scale_out(stack.settings, stack.instances, ends_before, ends_after),
    )


async def _people_told(
    stack: Stack, since: datetime, figures: dict[str, float], outage: Outage | None, limit_s: float
) -> list[str]:
    """Wait (bounded) until the run's notifications are settled and Mailpit holds every e-mail
    sent; the drain times into ``figures``, notes on what was configured."""
    dsn = stack.settings.pg_dsn.get_secret_value()
    web = stack.relay.web_url if stack.relay is not None else None
    kinds = "none: delivery off" if stack.senders == [] else ", ".join(stack.senders or ["?"])
    notes = [f"senders configured in the router: {kinds}"]
    ended = time.time()
    _, drained = await notify_bench.wait_drained(dsn, web, since, limit_s)
    if drained is None:
        notes.append(f"notifications still queued {limit_s:.0f} s after the run: see the figures")
    elif outage is None:
        figures["notifications_drained_after_run_s"] = max(drained - ended, 0.0)
    else:
        figures["smtp_outage_s"] = outage.up_at - outage.down_at
        figures["notifications_drained_after_relay_back_s"] = max(drained - outage.up_at, 0.0)
    return notes


async def _people_figures(stack: Stack, since: datetime) -> notify_bench.Figures:
    web = stack.relay.web_url if stack.relay is not None else None
    return await notify_bench.measure(stack.settings.pg_dsn.get_secret_value(), web, since)


async def _unique(
    stack: Stack, run: str, n: int, *, concurrency: int, limit_s: float, **_: Any
) -> tuple[int, dict[str, float], list[str]]:
    now = datetime.now(UTC)
    bodies = [_webhook(run, [unique_alert(run, i, now)]) for i in range(n)]
    wanted = {summary(run, i) for i in range(n)}
    consumer = await tail_consumer(
        stack.bootstrap, stack.settings.topic(Topic.ASSIGNMENTS), partitions(Topic.ASSIGNMENTS)
    )
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    began = time.perf_counter()
    try:
        async with (
            httpx.AsyncClient(timeout=60, auth=stack.auth) as client,
            Lag(stack.bootstrap, stack.settings) as lag,
        ):
            watching = asyncio.create_task(_assignments(consumer, wanted, seen, stop))
            started = await _post_all(client, stack.intake_url, bodies, concurrency)
            posted = time.perf_counter()
            try:
                await asyncio.wait_for(asyncio.shield(watching), limit_s)
            finally:
                stop.set()
                await watching
            assigned = time.perf_counter()
            drained = await lag.wait_drained([stack.settings.group("reporting")], limit_s)
    finally:
        await consumer.stop()
    latencies = [
        (seen[summary(run, i)] - started[i]) * 1000 for i in range(n) if summary(run, i) in seen
    ]
    reported = max(drained.values())
    return (
        n,
        {
            "http_accepted_per_s": n / (posted - began),
            "to_assignment_per_s": n / (assigned - began),
            "to_reporting_per_s": n / (reported - began),
            "alert_to_assignment_p50_ms": statistics.median(latencies),
            "alert_to_assignment_p99_ms": percentile(latencies, 0.99),
        },
        [],
    )


async def _storm(
    stack: Stack,
    run: str,
    n: int,
    *,
    concurrency: int,
    limit_s: float,
    outage: Outage | None = None,
    **_: Any,
) -> tuple[int, dict[str, float], list[str]]:
    bodies = storm_webhooks(stack.contract, run, n, datetime.now(UTC))
    alerts = sum(len(b["alerts"]) for b in bodies)
    groups = list(pipeline_groups(stack.settings))
    consumer = await tail_consumer(
        stack.bootstrap, stack.settings.topic(Topic.ASSIGNMENTS), partitions(Topic.ASSIGNMENTS)
    )
    began = time.perf_counter()
    try:
        async with (
            httpx.AsyncClient(timeout=60, auth=stack.auth) as client,
            Lag(stack.bootstrap, stack.settings) as lag,
        ):
            started = await _post_all(client, stack.intake_url, bodies, concurrency)
            posted = time.perf_counter()
            drained = await lag.wait_drained(groups, limit_s)
        assigned = await _first_primaries(consumer)
    finally:
        await consumer.stop()
    final = max(drained.values())
    figures = {
        "http_accepted_per_s": alerts / (posted - began),
        "end_to_end_per_s": alerts / (final - began),
    }
    # each incident's first primary assignment, from the first send of the alerts it names
    first_sent: dict[str, float] = {}
    for body, at in zip(bodies, started, strict=True):
        for alert in body["alerts"]:
            first_sent.setdefault(f"am:{alert['fingerprint']}", at)
    incidents = [
        (min(first_sent[f] for f in named), at)
        for fingerprints, at in assigned
        if (named := [f for f in fingerprints if f in first_sent])
    ]
    latencies = [(at - sent) * 1000 for sent, at in incidents]
    if latencies:
        figures["first_alert_to_assignment_p50_ms"] = statistics.median(latencies)
        figures["first_alert_to_assignment_p99_ms"] = percentile(latencies, 0.99)
    if outage is not None:
        during, outside = notify_bench.split_by_window(incidents, outage.window)
        for name, values in (("relay_down", during), ("relay_up", outside)):
            if values:
                figures[f"{name}_first_alert_to_assignment_p50_ms"] = statistics.median(values)
                figures[f"{name}_first_alert_to_assignment_p99_ms"] = percentile(values, 0.99)
                figures[f"{name}_incidents"] = len(values)
    for group, at in drained.items():
        name = group.removeprefix(stack.settings.group_prefix)
        figures[f"{name}_done_after_s"] = at - began
    distinct = max(1, n // STORM_REPEATS)
    notes = [
        f"{distinct} distinct alerts, each sent {STORM_REPEATS} times, into {len(latencies)}"
        " incidents (time to assignment: from the first send of an incident's alerts to its"
        " first primary assignment)"
    ]
    if not latencies:
        notes.append(
            "no new incident: the storm's alerts joined incidents an earlier run left open"
            " (intake_correlation_window_seconds); run each storm on a fresh stack"
            " (`baton stack down --purge`, `baton stack up`)"
        )
    return alerts, figures, notes


async def _first_primaries(consumer: AIOKafkaConsumer) -> list[tuple[list[str], float]]:
    """Read the assignments topic to its end: for each incident's first primary assignment, the
    alerts it names and its broker time (the pipeline has drained: everything is there)."""
    parts = list(consumer.assignment())
    ends = await consumer.end_offsets(parts)
    firsts: dict[str, tuple[list[str], float]] = {}
    while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
        for records in (await consumer.getmany(timeout_ms=200)).values():
            for record in records:
                event = parse_event(record.value or b"")
                data = event.data
                if (
                    isinstance(data, AssignmentIssuedV3)
                    and data.role == AssignmentRole.PRIMARY
                    and event.subject not in firsts
                ):
                    firsts[event.subject or ""] = (data.related_alerts, record.timestamp / 1000)
    return list(firsts.values())


async def _steady(
    stack: Stack, run: str, n: int, *, rate: float, seconds: float, limit_s: float, **_: Any
) -> tuple[int, dict[str, float], list[str]]:
    total = int(rate * seconds)
    wanted = {summary(run, i) for i in range(total)}
    consumer = await tail_consumer(
        stack.bootstrap, stack.settings.topic(Topic.ASSIGNMENTS), partitions(Topic.ASSIGNMENTS)
    )
    seen: dict[str, float] = {}
    visible: dict[str, float] = {}
    started: dict[str, float] = {}
    stop = asyncio.Event()

    async def poll_reporting(client: httpx.AsyncClient) -> None:
        while len(visible) < total and not stop.is_set():
            rows = (await client.get(f"{stack.reporting}/v1/incidents?limit=300")).json()
            at = time.time()
            for row in rows:
                text = row.get("summary")
                if text in wanted and text not in visible:
                    visible[text] = at
            await asyncio.sleep(POLL_S)

    async def send(client: httpx.AsyncClient) -> None:
        t0 = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = _webhook(run, [unique_alert(run, i, datetime.now(UTC))])
            started[summary(run, i)] = time.time()
            tasks.append(asyncio.create_task(_post(client, stack.intake_url(i), body)))
        await asyncio.gather(*tasks)

    try:
        async with httpx.AsyncClient(timeout=60, auth=stack.auth) as client:
            watching = asyncio.create_task(_assignments(consumer, wanted, seen, stop))
            polling = asyncio.create_task(poll_reporting(client))
            await send(client)
            try:
                await asyncio.wait_for(asyncio.gather(watching, polling), limit_s)
            finally:
                stop.set()
    finally:
        await consumer.stop()
    to_assignment = [(seen[s] - started[s]) * 1000 for s in seen]
    to_reporting = [(visible[s] - started[s]) * 1000 for s in visible]
    return (
        total,
        {
            "alert_to_assignment_p50_ms": statistics.median(to_assignment),
            "alert_to_assignment_p99_ms": percentile(to_assignment, 0.99),
            "alert_to_reporting_p50_ms": statistics.median(to_reporting),
            "alert_to_reporting_p99_ms": percentile(to_reporting, 0.99),
        },
        [
            f"{rate:g} alerts/s for {seconds:g} s, each a new incident; reporting polled every"
            f" {POLL_S * 1000:.0f} ms (its latency includes up to that much)"
        ],
    )


__all__ = ["SCENARIOS", "ScenarioResult", "Stack", "run_scenario", "storm_webhooks"]
