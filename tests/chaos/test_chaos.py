"""The chaos suite: an alert storm on a stack of its own while each part of it fails once.

Its own stack folder and free ports (never the shared infrastructure), the example contract,
loopback only. During a storm of ``BATON_CHAOS_ALERTS`` alerts (each with its own fingerprint,
at most ``CONCURRENCY`` requests in flight, each bounded in time) every service is killed with
SIGKILL and restarted in turn, then Kafka is killed and restarted, then PostgreSQL is stopped and
restarted. Afterwards, from reporting's audit trail: every alert answered 2xx is in exactly one
incident, every incident has exactly one primary and one coordinator assignment, and no warning
or breach has two event ids. It prints sent / accepted / landed / lost / doubled and how long
each fault took to recover (every service ready again).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from baton import stack

ALERTS = int(os.environ.get("BATON_CHAOS_ALERTS", "300"))
STORM_SECONDS = float(os.environ.get("BATON_CHAOS_STORM_SECONDS", "150"))
CONCURRENCY = 4
REQUEST_TIMEOUT = 10.0
RECOVERY_DEADLINE = 120.0
KAFKA_RESTART_DEADLINE = 300.0
LANDING_DEADLINE = 240.0
SERVICES = ("intake", "router", "sla-clock", "reporting")
FAULTS = (*(f"kill -9 {s}" for s in SERVICES), "restart kafka", "restart postgresql")
# objects of examples/contract that alerts match by their instance label
INSTANCES = ("srv-esx-01", "srv-esx-02", "stor-01", "srv-pg-01", "srv-backup-01", "net-core-hq")


@dataclass
class Figures:
    sent: int = 0
    accepted: dict[str, int] = field(default_factory=dict)  # fingerprint -> status
    refused: dict[int, int] = field(default_factory=dict)  # status (0: no answer) -> count
    recovery: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.StackPaths]:
    root = tmp_path_factory.mktemp("chaos-stack")
    paths = stack.stack_paths({stack.STACK_DIR_ENV: str(root)})
    saved = dict(os.environ)
    os.environ |= {  # the services inherit these
        "BATON_HEALTH_INTERVAL_SECONDS": "1",
        "BATON_LOG_LEVEL": "WARNING",
    }
    try:
        stack.up_infra(paths, ports=stack.StackPorts.free())
        stack.up_services(paths, timeout=120)
        yield paths
    finally:
        stack.down(paths, purge=True)
        os.environ.clear()
        os.environ.update(saved)


def alert(i: int) -> dict[str, object]:
    return {
        "alerts": [
            {
                "source": "chaos",
                "fingerprint": f"chaos-{i}",
                "status": "firing",
                "summary": f"chaos alert {i}",
                "severity": "critical",
                "labels": {"instance": INSTANCES[i % len(INSTANCES)]},
            }
        ]
    }


async def all_ready(paths: stack.StackPaths, client: httpx.AsyncClient) -> bool:
    for service in stack.stack_ports(paths).service_table():
        try:
            if (await client.get(f"{service.url}/readyz", timeout=3)).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


def kill(paths: stack.StackPaths, name: str, *ports: int) -> None:
    pid = stack._running_pid(paths.pidfile(name))
    assert pid is not None, f"{name} is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    # an exiting process loses its command line before its sockets: wait for both
    while stack._running_pid(paths.pidfile(name)) is not None or any(map(stack._port_open, ports)):
        assert time.monotonic() < deadline, f"{name} survived SIGKILL"
        time.sleep(0.1)


def inject(paths: stack.StackPaths, fault: str) -> None:
    """Break one thing and bring it back (blocking: run in a thread)."""
    ports = stack.stack_ports(paths)
    if fault.startswith("kill -9 "):
        name = fault.removeprefix("kill -9 ")
        kill(paths, name, ports.services[SERVICES.index(name)])
        stack.up_services(paths, [name], timeout=RECOVERY_DEADLINE)
    elif fault == "restart kafka":
        kill(paths, "kafka", ports.kafka, ports.controller)
        # after SIGKILL the broker recovers every partition's log first: minutes on a busy host
        stack.up_infra(paths, timeout=KAFKA_RESTART_DEADLINE)
    elif fault == "restart postgresql":
        stack.stop_postgres(paths)
        stack.up_infra(paths, timeout=KAFKA_RESTART_DEADLINE)
    else:
        raise AssertionError(fault)


async def storm(paths: stack.StackPaths, figures: Figures) -> None:
    intake = stack.stack_ports(paths).service_table()[0].url
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(ALERTS):
        queue.put_nowait(i)

    pace = STORM_SECONDS * CONCURRENCY / ALERTS

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            began = time.monotonic()
            i = queue.get_nowait()
            figures.sent += 1
            try:
                answer = await client.post(f"{intake}/v1/alerts", json=alert(i))
                status = answer.status_code
            except httpx.HTTPError:
                status = 0
            if 200 <= status < 300:
                figures.accepted[f"chaos-{i}"] = status
            else:
                figures.refused[status] = figures.refused.get(status, 0) + 1
            # paced, so that the storm lasts through the faults
            await asyncio.sleep(max(0.0, pace - (time.monotonic() - began)))

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
        await asyncio.gather(*(sender(client) for _ in range(CONCURRENCY)))


async def faults(paths: stack.StackPaths, figures: Figures) -> None:
    async with httpx.AsyncClient() as client:
        for n, fault in enumerate(FAULTS, start=1):
            if n == 1:
                while figures.sent < ALERTS // 10:  # noqa: ASYNC110 - the storm is under way
                    await asyncio.sleep(0.1)
            started = time.monotonic()
            await asyncio.to_thread(inject, paths, fault)
            while not await all_ready(paths, client):
                waited = time.monotonic() - started
                assert waited < KAFKA_RESTART_DEADLINE + RECOVERY_DEADLINE, f"{fault}: not ready"
                await asyncio.sleep(0.25)
            figures.recovery[fault] = time.monotonic() - started


async def landed(dsn: str, want: set[str]) -> dict[str, set[str]]:
    """fingerprint -> the incidents whose audit trail names it, once every wanted one landed."""
    deadline = time.monotonic() + LANDING_DEADLINE
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT incident_id, fp FROM ("
                " SELECT incident_id, jsonb_array_elements_text(data->'fingerprints') AS fp"
                " FROM reporting.incident_events WHERE type = 'baton.incident.opened'"
                " UNION ALL SELECT incident_id, data->>'fingerprint' FROM reporting.incident_events"
                " WHERE type IN ('baton.incident.alert_attached',"
                " 'baton.incident.alert_correlated')) f WHERE fp LIKE 'chaos:%'"
            )
        finally:
            await conn.close()
        found: dict[str, set[str]] = {}
        for row in rows:
            # intake prefixes the sender's fingerprint with its source
            found.setdefault(row["fp"].removeprefix("chaos:"), set()).add(row["incident_id"])
        if want <= found.keys() or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1)


async def assignments_complete(dsn: str) -> list[tuple[str, str, int]]:
    """(incident, role, count) of every incident whose primary or coordinator assignment is
    missing or doubled, once none is missing (or the deadline passed)."""
    deadline = time.monotonic() + LANDING_DEADLINE
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT i.id, r.role, count(e.event_id) AS n"
                " FROM reporting.incidents i"
                " CROSS JOIN (VALUES ('primary'), ('coordinator')) r(role)"
                " LEFT JOIN reporting.incident_events e ON e.incident_id = i.id"
                "  AND e.type = 'baton.assignment.issued' AND e.data->>'role' = r.role"
                " GROUP BY 1, 2 HAVING count(e.event_id) <> 1"
            )
        finally:
            await conn.close()
        wrong = [(str(r["id"]), str(r["role"]), int(r["n"])) for r in rows]
        if all(n > 1 for _, _, n in wrong) or time.monotonic() > deadline:
            return wrong
        await asyncio.sleep(1)


async def doubled_sla(dsn: str) -> list[tuple[str, str, str, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT incident_id, type, data->>'clock' AS clock,"
            " coalesce(data->>'threshold', '100') AS threshold, count(*) AS n"
            " FROM reporting.incident_events"
            " WHERE type IN ('baton.sla.warning', 'baton.sla.breached')"
            " GROUP BY 1, 2, 3, 4 HAVING count(*) > 1"
        )
    finally:
        await conn.close()
    return [
        (str(r["incident_id"]), str(r["clock"]), str(r["threshold"]), int(r["n"])) for r in rows
    ]


async def test_nothing_is_lost_or_doubled_while_everything_fails_once(
    own_stack: stack.StackPaths,
) -> None:
    figures = Figures()
    started = time.monotonic()
    await asyncio.gather(storm(own_stack, figures), faults(own_stack, figures))
    dsn = stack.stack_ports(own_stack).dsn
    accepted = set(figures.accepted)
    found = await landed(dsn, accepted)
    lost = sorted(accepted - found.keys())
    doubled = sorted(fp for fp in accepted if len(found.get(fp, ())) > 1)
    wrong_assignments = await assignments_complete(dsn)
    sla_doubles = await doubled_sla(dsn)
    print(
        f"\n== chaos: {ALERTS} alerts in {time.monotonic() - started:.0f} s:"
        f" sent {figures.sent}, accepted {len(accepted)}, landed {len(accepted & found.keys())},"
        f" lost {len(lost)}, doubled {len(doubled)};"
        f" refused {dict(sorted(figures.refused.items()))} (0 = no answer in"
        f" {REQUEST_TIMEOUT:g} s)"
    )
    for fault, seconds in figures.recovery.items():
        print(f"== chaos: {fault:<22} recovered in {seconds:5.1f} s")
    assert figures.sent == ALERTS
    assert accepted, "nothing was accepted: the storm never reached intake"
    assert not lost, f"accepted but in no incident: {lost[:10]}"
    assert not doubled, f"in more than one incident: {doubled[:10]}"
    assert not wrong_assignments, (
        f"incidents without exactly one primary/coordinator: {wrong_assignments[:10]}"
    )
    assert not sla_doubles, f"warnings or breaches doubled: {sla_doubles[:10]}"
    assert set(figures.recovery) == set(FAULTS)
