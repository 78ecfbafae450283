"""A broker that is more than one machine: the leader of the busiest partition killed mid-storm.

A ``--brokers 3`` stack of its own (its own folder, free ports, loopback only): three KRaft nodes,
every topic with three replicas and ``min.insync.replicas`` 2, the four services unchanged but
for the bootstrap list. An alert storm goes to intake over HTTP (``ALERTS`` alerts, at most
``CONCURRENCY`` requests in flight, each bounded in time, nothing retried); once a quarter of it
has been answered, the node leading the alerts topic's busiest partition (the one the storm has
written most to) is killed with SIGKILL, and started again once another node leads that
partition. Producers meet ``NotLeaderForPartition`` and dead connections, consumers a moved
group coordinator and fetch leader; both must ride through on metadata refreshes.

Afterwards, from reporting's audit trail: every alert answered 2xx is in exactly one incident,
every incident has exactly one primary and one coordinator assignment. It prints sent /
accepted / landed / lost / doubled and the recovery seconds (a new leader elected; the killed
node back in every in-sync replica set; every service ready).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from baton import stack
from shared.settings import Settings
from shared.topics import Topic, topic_name

ALERTS = int(os.environ.get("BATON_BROKERS3_ALERTS", "500"))
STORM_SECONDS = float(os.environ.get("BATON_BROKERS3_STORM_SECONDS", "45"))
CONCURRENCY = 4
REQUEST_TIMEOUT = 10.0
DEADLINE = 120.0  # for each wait: a leader, the node back, the landings
# objects of examples/contract that alerts match by their instance label
INSTANCES = ("srv-esx-01", "srv-esx-02", "stor-01", "srv-pg-01", "srv-backup-01", "net-core-hq")
ALERTS_TOPIC = topic_name(Settings().topic_prefix, Topic.ALERTS)


@dataclass
class Storm:
    sent: int = 0
    accepted: set[str] = field(default_factory=set)  # fingerprints answered 2xx
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer in time
    answered: int = 0
    quarter: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Recovery:
    killed: str = ""
    partition: int = -1
    leader_elected: float = 0.0  # kill -> another node leads the partition
    node_back: float = 0.0  # kill -> the node is again in every partition's in-sync replicas
    all_ready: float = 0.0  # kill -> every service answers /readyz 200
    first_accepted_after: float = 0.0  # kill -> the first 2xx of a request sent after it


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.StackPaths]:
    root = tmp_path_factory.mktemp("three-brokers")
    paths = stack.stack_paths({stack.STACK_DIR_ENV: str(root)})
    saved = dict(os.environ)
    os.environ |= {  # the services inherit these
        "BATON_HEALTH_INTERVAL_SECONDS": "1",
        "BATON_LOG_LEVEL": "WARNING",
    }
    try:
        started = time.monotonic()
        stack.up_infra(paths, ports=stack.StackPorts.free(brokers=3), timeout=180)
        infra = time.monotonic() - started
        stack.up_services(paths, timeout=120)
        print(
            f"\n== three brokers: Kafka cluster and PostgreSQL up in {infra:.1f} s,"
            f" services in {time.monotonic() - started - infra:.1f} s more"
        )
        yield paths
    finally:
        stack.down(paths, purge=True)
        os.environ.clear()
        os.environ.update(saved)


def alert(i: int) -> dict[str, object]:
    return {
        "alerts": [
            {
                "source": "brokers3",
                "fingerprint": f"b3-{i}",
                "status": "firing",
                "summary": f"three-broker alert {i}",
                "severity": "critical",
                "labels": {"instance": INSTANCES[i % len(INSTANCES)]},
            }
        ]
    }


async def storm(intake: str, figures: Storm, recovery: Recovery, killed_at: list[float]) -> None:
    queue = iter(range(ALERTS))
    pace = STORM_SECONDS * CONCURRENCY / ALERTS

    async def sender(client: httpx.AsyncClient) -> None:
        for i in queue:
            began = time.monotonic()
            figures.sent += 1
            try:
                status = (await client.post(f"{intake}/v1/alerts", json=alert(i))).status_code
            except httpx.HTTPError:
                status = 0
            figures.statuses[status] += 1
            figures.answered += 1
            if 200 <= status < 300:
                figures.accepted.add(f"b3-{i}")
                if killed_at and began > killed_at[0] and not recovery.first_accepted_after:
                    recovery.first_accepted_after = time.monotonic() - killed_at[0]
            if figures.answered >= ALERTS // 4:
                figures.quarter.set()
            await asyncio.sleep(max(0.0, pace - (time.monotonic() - began)))

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
        await asyncio.gather(*(sender(client) for _ in range(CONCURRENCY)))


@dataclass(frozen=True)
class Partition:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


async def partitions(bootstrap: str, topics: list[str] | None = None) -> list[Partition]:
    """Each partition of ``topics`` (every topic when None, the internal ones too)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        names = topics or list(await admin.list_topics())
        return [
            Partition(
                t["topic"], p["partition"], p["leader"], tuple(p["replicas"]), tuple(p["isr"])
            )
            for t in await admin.describe_topics(names)
            for p in t["partitions"]
        ]
    finally:
        await admin.close()


async def busiest_alerts_partition(bootstrap: str) -> int:
    """The partition of the alerts topic that holds the most records so far."""
    tps = [
        TopicPartition(ALERTS_TOPIC, p.partition)
        for p in await partitions(bootstrap, [ALERTS_TOPIC])
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return int(max(ends, key=lambda tp: ends[tp]).partition)


async def poll(
    what: str, check: Callable[[], Awaitable[bool]], deadline: float = DEADLINE
) -> float:
    """Seconds until ``await check()`` is true; fails naming ``what`` after ``deadline``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < deadline, f"{what}: not within {deadline:.0f} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def kill_node(paths: stack.StackPaths, node: stack.KafkaNode) -> None:
    pid = stack._running_pid(paths.pidfile(node.name))
    assert pid is not None, f"{node.name} is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while stack._running_pid(paths.pidfile(node.name)) is not None or stack._port_open(node.port):
        assert time.monotonic() < deadline, f"{node.name} survived SIGKILL"
        time.sleep(0.05)


async def all_ready(paths: stack.StackPaths) -> bool:
    async with httpx.AsyncClient(timeout=3) as client:
        for service in stack.stack_ports(paths).service_table():
            try:
                if (await client.get(f"{service.url}/readyz")).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
    return True


async def leader_kill(
    paths: stack.StackPaths, figures: Storm, recovery: Recovery, killed_at: list[float]
) -> None:
    ports = stack.stack_ports(paths)
    bootstrap = ports.bootstrap
    await figures.quarter.wait()
    partition = await busiest_alerts_partition(bootstrap)
    described = await partitions(bootstrap, [ALERTS_TOPIC])
    leader = next(p.leader for p in described if p.partition == partition)
    node = next(n for n in ports.kafka_nodes() if n.id == leader)
    recovery.killed, recovery.partition = node.name, partition

    await asyncio.to_thread(kill_node, paths, node)
    killed_at.append(time.monotonic())

    async def elected() -> bool:
        try:
            found = await partitions(bootstrap, [ALERTS_TOPIC])
        except KafkaError:  # a metadata answer from the dead node's address
            return False
        now = next(p.leader for p in found if p.partition == partition)
        return now >= 0 and now != node.id

    recovery.leader_elected = await poll("a new leader", elected)
    # started again as a supervisor would; up_infra waits until the cluster lists it again
    await asyncio.to_thread(stack.up_infra, paths, 180.0)

    async def back_in_sync() -> bool:
        found = await partitions(bootstrap)
        return all(node.id in p.isr for p in found)

    await poll(f"{node.name} in every in-sync replica set", back_in_sync)
    recovery.node_back = time.monotonic() - killed_at[0]
    await poll("every service ready", lambda: all_ready(paths))
    recovery.all_ready = time.monotonic() - killed_at[0]


async def landed(dsn: str, want: set[str]) -> dict[str, set[str]]:
    """fingerprint -> the incidents whose audit trail names it, once every wanted one landed
    (or the deadline passed)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT incident_id, fp FROM ("
                " SELECT incident_id, jsonb_array_elements_text(data->'fingerprints') AS fp"
                " FROM reporting.incident_events WHERE type = 'baton.incident.opened'"
                " UNION ALL SELECT incident_id, data->>'fingerprint' FROM reporting.incident_events"
                " WHERE type IN ('baton.incident.alert_attached',"
                " 'baton.incident.alert_correlated')) f WHERE fp LIKE 'brokers3:%'"
            )
        finally:
            await conn.close()
        found: dict[str, set[str]] = {}
        for row in rows:  # intake prefixes the sender's fingerprint with its source
            found.setdefault(row["fp"].removeprefix("brokers3:"), set()).add(row["incident_id"])
        if want <= found.keys() or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1)


async def wrong_assignments(dsn: str) -> list[tuple[str, str, int]]:
    """(incident, role, count) of each incident without exactly one primary and one
    coordinator assignment, once none is missing (or the deadline passed)."""
    deadline = time.monotonic() + DEADLINE
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


async def test_the_leader_of_the_busiest_partition_dies_mid_storm_and_nothing_is_lost(
    cluster: stack.StackPaths,
) -> None:
    ports = stack.stack_ports(cluster)
    assert ports.brokers == 3
    # Baton's topics and the internal ones (consumer offsets) alike
    replicas = {(p.topic, len(p.replicas)) for p in await partitions(ports.bootstrap)}
    assert {n for _, n in replicas} == {3}, f"replication factors: {sorted(replicas)}"

    figures, recovery, killed_at = Storm(), Recovery(), list[float]()
    started = time.monotonic()
    intake = ports.service_table()[0].url
    await asyncio.gather(
        storm(intake, figures, recovery, killed_at),
        leader_kill(cluster, figures, recovery, killed_at),
    )
    storm_seconds = time.monotonic() - started
    found = await landed(ports.dsn, figures.accepted)
    lost = sorted(figures.accepted - found.keys())
    doubled = sorted(fp for fp in figures.accepted if len(found.get(fp, ())) > 1)
    wrong = await wrong_assignments(ports.dsn)
    print(
        f"\n== three brokers: {ALERTS} alerts in {storm_seconds:.0f} s: sent {figures.sent},"
        f" accepted {len(figures.accepted)}, landed {len(figures.accepted & found.keys())},"
        f" lost {len(lost)}, doubled {len(doubled)};"
        f" answers {dict(sorted(figures.statuses.items()))} (0 = none in {REQUEST_TIMEOUT:g} s)"
        f"\n== three brokers: killed {recovery.killed} (leader of {ALERTS_TOPIC}"
        f" partition {recovery.partition}): new leader in {recovery.leader_elected:.1f} s,"
        f" first 2xx after the kill in {recovery.first_accepted_after:.1f} s,"
        f" node back in sync in {recovery.node_back:.1f} s,"
        f" every service ready in {recovery.all_ready:.1f} s"
    )
    assert figures.sent == ALERTS
    assert figures.accepted, "nothing was accepted: the storm never reached intake"
    assert recovery.first_accepted_after, "nothing was accepted after the kill"
    assert not lost, f"accepted but in no incident: {lost[:10]}"
    assert not doubled, f"in more than one incident: {doubled[:10]}"
    assert not wrong, f"incidents without exactly one primary/coordinator: {wrong[:10]}"
