"""Isolation on a real broker with SASL/SCRAM and KRaft's StandardAuthorizer (issue 5, item 5).

The test starts its own single-node broker on free ports (the shared stack's broker is left
alone), creates SCRAM users for an admin and two contractors when it formats the storage, applies
the ACLs that ``router.acl`` derives from the minimal contract with ``deploy/kafka/acl_apply.java``,
and proves that a contractor reads its own assignment topic, cannot read another's, cannot write
assignments, writes its own command inbox and cannot write another party's inbox (the customer's
included) nor the shared commands topic that only intake writes.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from router.acl import bindings, render_lines

from baton.stack import fetch_kafka, new_cluster_id
from shared.contract import load_contract
from shared.topics import Topic, inbox_name, party_topic_name, topic_name
from tests.integration.conftest import free_ports

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"admin": "admin-secret", "hw": "hw-secret", "osdb": "osdb-secret"}
MECHANISM = "SCRAM-SHA-512"


@dataclass
class SaslBroker:
    bootstrap: str
    libs: Path
    folder: Path

    def client(self, user: str) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": PASSWORDS[user],
        }


def _properties(folder: Path, port: int, controller: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller}",
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="admin" password="{PASSWORDS["admin"]}";'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # ANONYMOUS is the broker itself on the (plaintext, unadvertised) controller listener
        "super.users": "User:admin;User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
        "log.dirs": str(folder / "data"),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "num.network.threads": "1",
        "num.io.threads": "2",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        pytest.fail("the SASL isolation test needs java (openjdk-17-jre-headless) on PATH")
    return java


@pytest.fixture
def sasl_broker(tmp_path: Path) -> Iterator[SaslBroker]:
    libs = fetch_kafka()
    port, controller = free_ports(2)
    config = tmp_path / "server.properties"
    config.write_text(_properties(tmp_path, port, controller))
    scram = [
        arg
        for user, password in PASSWORDS.items()
        for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")
    ]
    java = [_java(), "-Xms128m", "-Xmx384m", "-cp", f"{libs}/*"]
    formatted = subprocess.run(
        [*java, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(config),
         "--standalone", *scram],
        capture_output=True, text=True, check=False, timeout=180,
    )  # fmt: skip
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    log = (tmp_path / "kafka.out").open("wb")
    proc = subprocess.Popen(
        [*java, "kafka.Kafka", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield SaslBroker(bootstrap=f"127.0.0.1:{port}", libs=libs, folder=tmp_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def _ready(broker: SaslBroker, timeout: float = 120) -> None:
    async with asyncio.timeout(timeout):
        while True:
            admin = AIOKafkaAdminClient(**broker.client("admin"), request_timeout_ms=5000)
            try:
                await admin.start()
                if (await admin.describe_cluster()).get("brokers"):
                    return
            except (KafkaError, OSError):
                pass
            finally:
                await admin.close()
            await asyncio.sleep(0.5)


@pytest.fixture
async def secured(sasl_broker: SaslBroker) -> tuple[SaslBroker, str, str]:
    """The broker, ready, with the contract's topics and ACLs: (broker, prefix, group prefix)."""
    try:
        await _ready(sasl_broker)
    except TimeoutError:
        tail = (sasl_broker.folder / "kafka.out").read_text(errors="replace")[-3000:]
        pytest.fail(f"SASL broker not ready:\n{tail}")
    tag = uuid.uuid4().hex[:8]
    prefix, groups = f"t{tag}.", f"t{tag}."
    contract = load_contract(ROOT / "examples" / "minimal" / "contract.yaml")
    names = [party_topic_name(prefix, p) for p in ("hw", "osdb")]
    names += [inbox_name(prefix, p) for p in ("hw", "osdb", "customer")]
    names.append(topic_name(prefix, Topic.COMMANDS))
    admin = AIOKafkaAdminClient(**sasl_broker.client("admin"))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 1, 1) for n in names])
    finally:
        await admin.close()
    acls = sasl_broker.folder / "acls.txt"
    acls.write_text(render_lines(bindings(contract, prefix, groups)))
    props = sasl_broker.folder / "admin.properties"
    props.write_text(
        f"bootstrap.servers={sasl_broker.bootstrap}\n"
        "security.protocol=SASL_PLAINTEXT\n"
        f"sasl.mechanism={MECHANISM}\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="admin" password="{PASSWORDS["admin"]}";\n'
    )
    applied = await asyncio.to_thread(
        subprocess.run,
        [_java(), "-cp", f"{sasl_broker.libs}/*", str(ROOT / "deploy/kafka/acl_apply.java"),
         str(props), str(acls)],
        capture_output=True, text=True, check=False, timeout=180,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stdout + applied.stderr
    return sasl_broker, prefix, groups


async def _read(broker: SaslBroker, user: str, topic: str, group: str | None) -> list[bytes]:
    consumer = AIOKafkaConsumer(**broker.client(user), group_id=group, auto_offset_reset="earliest")
    await consumer.start()
    try:
        if group is None:
            consumer.assign([TopicPartition(topic, 0)])
            await consumer.seek_to_beginning()
        else:
            consumer.subscribe([topic])
        got: list[bytes] = []
        async with asyncio.timeout(20):
            while not got:
                batch = await consumer.getmany(timeout_ms=500)
                got = [r.value or b"" for records in batch.values() for r in records]
        return got
    finally:
        await consumer.stop()


async def _denied_read(broker: SaslBroker, user: str, topic: str, group: str | None) -> None:
    """``user`` gets nothing from ``topic`` (which holds a record) and the broker said why.

    aiokafka's consumer does not raise for a topic the broker refuses in metadata: it logs,
    records the topic in its cluster view's ``unauthorized_topics`` and keeps trying.
    """
    consumer = AIOKafkaConsumer(**broker.client(user), group_id=group, auto_offset_reset="earliest")
    await consumer.start()
    try:
        if group is None:
            consumer.assign([TopicPartition(topic, 0)])
        else:
            consumer.subscribe([topic])
        got: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got += [r.value or b"" for records in batch.values() for r in records]
        assert got == []
        assert topic in consumer._client.cluster.unauthorized_topics
    finally:
        await consumer.stop()


async def _write(broker: SaslBroker, user: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(**broker.client(user), request_timeout_ms=10000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def test_a_contractor_reads_only_its_own_assignments_and_writes_only_its_own_inbox(
    secured: tuple[SaslBroker, str, str],
) -> None:
    broker, prefix, groups = secured
    hw_topic, osdb_topic = party_topic_name(prefix, "hw"), party_topic_name(prefix, "osdb")
    await _write(broker, "admin", hw_topic, b"for hw")
    await _write(broker, "admin", osdb_topic, b"for osdb")

    assert await _read(broker, "hw", hw_topic, f"{groups}hw.console") == [b"for hw"]
    assert await _read(broker, "osdb", osdb_topic, f"{groups}osdb.console") == [b"for osdb"]
    await _denied_read(broker, "hw", osdb_topic, None)
    await _denied_read(broker, "hw", osdb_topic, f"{groups}hw.console")
    with pytest.raises(GroupAuthorizationFailedError):
        await _read(broker, "hw", hw_topic, f"{groups}osdb.console")  # another party's group

    await _write(broker, "hw", inbox_name(prefix, "hw"), b'{"action": "acknowledge"}')
    for foreign in (inbox_name(prefix, "osdb"), inbox_name(prefix, "customer")):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write(broker, "hw", foreign, b'{"action": "confirm"}')
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(broker, "hw", topic_name(prefix, Topic.COMMANDS), b'{"action": "confirm"}')
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(broker, "hw", hw_topic, b"forged assignment")
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(broker, "hw", osdb_topic, b"forged assignment")
