"""A broker that is more than one machine: the leader of the busiest partition killed mid-storm.

A ``--brokers 3`` stack of its own (its own folder, free ports, loopback only): three KRaft nodes,
every topic with three replicas and ``min.insync.replicas`` 2, the four services unchanged but
for the bootstrap list. An alert storm goes to intake over HTTP (the chaos harness's ``Storm``:
each alert sent once, bounded in count, rate and time). Once a quarter of it has been answered,
the node leading the alerts topic's busiest partition (the one the storm has written most to) is
killed with SIGKILL, and started again as soon as another node leads that partition, while the
storm goes on. Producers meet ``NotLeaderForPartition`` and dead connections, consumers a moved
group coordinator and fetch leader; both must ride through on metadata refreshes.

Afterwards, from the record (the incidents and assignments topics read from the start): every
alert answered 2xx is in exactly one incident through exactly one fact, every incident has
exactly one primary and one coordinator assignment. It prints sent / accepted / landed / lost /
doubled and the recovery seconds: a new leader elected, the killed node back in every in-sync
replica set, every service ready.

Sizes: ``BATON_BROKERS3_ALERTS`` (default 600), ``BATON_BROKERS3_RATE`` (alerts/s, default 15).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from baton import stack
from shared.contract import load_contract
from shared.settings import Settings
from shared.topics import Topic, topic_name
from tests.chaos.harness import ChaosStack, Record, Storm, keep_logs, storm_alerts

ALERTS = int(os.environ.get("BATON_BROKERS3_ALERTS", "600"))
RATE = float(os.environ.get("BATON_BROKERS3_RATE", "15"))
DEADLINE = 150.0  # for each wait: a new leader, the node back, every service ready, the record
ALERTS_TOPIC = topic_name(Settings().topic_prefix, Topic.ALERTS)


@dataclass(frozen=True)
class Partition:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass
class Recovery:
    killed: str = ""
    partition: int = -1
    leader_elected: float = 0.0  # kill -> another node leads the partition
    node_back: float = 0.0  # kill -> the node is in every partition's in-sync replicas again
    all_ready: float = 0.0  # kill -> every service answers /readyz 200
    accepted_after: int = 0  # alerts answered 2xx after the kill


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("three-brokers")
    paths = stack.stack_paths({stack.STACK_DIR_ENV: str(root)})
    env = {"BATON_HEALTH_INTERVAL_SECONDS": "1", "BATON_LOG_LEVEL": "WARNING"}
    try:
        started = time.monotonic()
        stack.up_infra(paths, ports=stack.StackPorts.free(brokers=3), timeout=180)
        infra = time.monotonic() - started
        # the services, on the cluster that runs (its recorded ports: nothing new to start)
        own = ChaosStack.up(root, ports=stack.stack_ports(paths), env=env)
        print(
            f"\n== three brokers: cluster, PostgreSQL and topics up in {infra:.1f} s,"
            f" the four services {time.monotonic() - started - infra:.1f} s later",
            flush=True,
        )
        yield own
    finally:
        keep_logs(paths)
        stack.down(paths, purge=True)
        os.environ.clear()
        os.environ.update(saved)


def kafka(chaos: ChaosStack) -> dict[str, Any]:
    """How this test's own Kafka clients reach the cluster (the one place to say how)."""
    return chaos.kafka  # the cluster's admin, from the credentials its `stack up` made


async def partitions(chaos: ChaosStack, topics: list[str] | None = None) -> list[Partition]:
    """Each partition of ``topics`` (every topic when None, the internal ones too)."""
    admin = AIOKafkaAdminClient(**kafka(chaos), request_timeout_ms=5000)
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


async def busiest_alerts_partition(chaos: ChaosStack) -> Partition:
    """The partition of the alerts topic that holds the most records so far."""
    described = await partitions(chaos, [ALERTS_TOPIC])
    consumer = AIOKafkaConsumer(**kafka(chaos), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(p.topic, p.partition) for p in described])
    finally:
        await consumer.stop()
    return max(described, key=lambda p: ends[TopicPartition(p.topic, p.partition)])


async def poll(what: str, check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until ``await check()`` is true; fails naming ``what`` after ``DEADLINE``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < DEADLINE, f"{what}: not within {DEADLINE:.0f} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def kill_node(chaos: ChaosStack, node: stack.KafkaNode) -> None:
    """SIGKILL one Kafka node and wait until its process and its ports are gone."""
    pid = chaos.pid(node.name)
    assert pid is not None, f"{node.name} is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while chaos.pid(node.name) is not None or any(
        map(stack._port_open, (node.port, node.controller))
    ):
        assert time.monotonic() < deadline, f"{node.name} survived SIGKILL"
        time.sleep(0.05)


async def kill_the_leader(chaos: ChaosStack, storm: Storm, recovery: Recovery) -> None:
    quarter = ALERTS // 4
    storm.release(quarter)
    await storm.reached(quarter)
    busiest = await busiest_alerts_partition(chaos)
    node = next(n for n in chaos.ports.kafka_nodes() if n.id == busiest.leader)
    recovery.killed, recovery.partition = node.name, busiest.partition

    await asyncio.to_thread(kill_node, chaos, node)
    killed = time.monotonic()
    accepted_before = len(storm.accepted)
    storm.release(ALERTS)

    async def elected() -> bool:
        try:
            found = await partitions(chaos, [ALERTS_TOPIC])
        except KafkaError:  # asked while the metadata still names the dead node
            return False
        leader = next(p.leader for p in found if p.partition == busiest.partition)
        return leader >= 0 and leader != node.id

    recovery.leader_elected = await poll("a new leader", elected)
    # started again as a supervisor would: up_infra returns once the cluster lists it again
    await asyncio.to_thread(chaos.start_infra, DEADLINE)

    async def back_in_sync() -> bool:
        return all(node.id in p.isr for p in await partitions(chaos))

    await poll(f"{node.name} in every in-sync replica set", back_in_sync)
    recovery.node_back = time.monotonic() - killed

    async def ready() -> bool:
        async with httpx.AsyncClient() as client:
            return not await chaos.not_ready(client)

    await poll("every service ready", ready)
    recovery.all_ready = time.monotonic() - killed
    await storm.reached(ALERTS)
    recovery.accepted_after = len(storm.accepted) - accepted_before


# What the services' clients said about the leader change (their logs, WARNING and up): the
# errors they met and rode through.
SIGNS = {
    "produce retried": "Got error produce response",
    "not leader": "NotLeaderForPartition",
    "no connection": "Unable connect",
    "coordinator dead": "Marking the coordinator dead",
    "commit failed": "OffsetCommit failed",
    "fetch failed": "Failed fetch messages",
    "heartbeat failed": "Heartbeat failed",
    "rejoin": "rejoin",
}


def client_signs(chaos: ChaosStack) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for service in chaos.services():
        text = chaos.paths.log(service.name).read_text(errors="replace")
        lines = text.splitlines()
        found = {k: sum(sign in line for line in lines) for k, sign in SIGNS.items()}
        out[service.name] = {k: n for k, n in found.items() if n}
    return out


async def test_the_leader_of_the_busiest_partition_dies_mid_storm_and_nothing_is_lost(
    chaos: ChaosStack,
) -> None:
    assert chaos.ports.brokers == 3
    # Baton's topics and the internal ones (consumer offsets) alike
    replicas = {(p.topic, len(p.replicas)) for p in await partitions(chaos)}
    assert {n for _, n in replicas} == {3}, f"replication factors: {sorted(replicas)}"

    contract = load_contract(stack.EXAMPLE_CONTRACT)
    run = f"b{int(time.time())}"
    alerts = storm_alerts(ALERTS, run, [o.id for o in contract.objects], "brokers3")
    wire = {f"brokers3:{a['fingerprint']}" for a in alerts}  # intake prefixes the source
    storm = Storm(chaos.intake_urls(), alerts, rate=RATE, per_request=1, auth=chaos.auth())
    recovery = Recovery()
    started = time.monotonic()
    await asyncio.gather(storm.run(), kill_the_leader(chaos, storm, recovery))
    stormed = time.monotonic() - started
    accepted = {f"brokers3:{fp}" for fp in storm.accepted}

    deadline = time.monotonic() + DEADLINE
    while True:  # the pipeline digests what was accepted: landed, assigned
        record = await Record.read(chaos.kafka, chaos.dsn, contract)
        landings = {fp: ls for fp, ls in record.landings().items() if fp in wire}
        roles = record.roles()
        unassigned = [i for i, r in roles.items() if not (r["primary"] and r["coordinator"])]
        kept = landings.keys() | record.held
        if (accepted <= kept and not unassigned) or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    lost = sorted(accepted - landings.keys() - record.held)
    doubled = sorted(fp for fp in accepted if len(landings.get(fp, ())) > 1)
    wrong_roles = record.wrong_owners()

    print(
        f"\n== three brokers: {ALERTS} alerts in {stormed:.0f} s: sent {storm.sent},"
        f" accepted {len(accepted)}, landed {len(accepted & landings.keys())}, held by a"
        f" maintenance window {len(accepted & record.held)},"
        f" lost {len(lost)}, doubled {len(doubled)}; refused {len(storm.refused)}"
        f" (of which landed later {len(landings.keys() - accepted)});"
        f" answers {dict(sorted(storm.statuses.items()))} (0 = none in {storm.timeout:g} s);"
        f" {len(roles)} incidents, repeats of an id dropped {record.repeats}"
        f"\n== three brokers: killed {recovery.killed}, leader of {ALERTS_TOPIC}"
        f" partition {recovery.partition}: new leader in {recovery.leader_elected:.1f} s,"
        f" node back in every ISR in {recovery.node_back:.1f} s, every service ready in"
        f" {recovery.all_ready:.1f} s; {recovery.accepted_after} alerts accepted after the kill"
        f"\n== three brokers: what the clients logged: {client_signs(chaos)}",
        flush=True,
    )
    assert storm.sent == ALERTS
    assert len(accepted) > ALERTS // 2, "most of the storm must meet a working intake"
    assert recovery.accepted_after > 0, "nothing was accepted after the kill"
    assert not lost, f"accepted but in no incident: {lost[:10]}"
    assert not doubled, f"more than one fact for one alert: {doubled[:10]}"
    assert not wrong_roles, (
        f"not one coordinator, one primary at a time: {list(wrong_roles.items())[:5]}"
    )
