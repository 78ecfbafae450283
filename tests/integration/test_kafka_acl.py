"""Who may do what on the stack's broker (issues 5 and 9): `baton stack up` runs Kafka with
SASL/SCRAM and KRaft's StandardAuthorizer, a SCRAM user per service (``baton-<service>``) and
per party of the stack's contract, and the ACLs ``router.acl`` derives from that contract.

These tests use the stack's own broker, database and users. Each applies the same ACLs for its
slice's topic prefix (what the stack applies for ``baton.``) and proves: no credentials, no
connection (to Kafka or to PostgreSQL); a contractor reads only its own assignment topic and
writes only its own inbox — not another party's (the customer's included), not the shared
``commands`` topic; each service writes only the topics it owns.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from router.acl import bindings, render_lines

from baton.stack import (
    apply_acls,
    kafka_client,
    stack_contract,
    stack_credentials,
    stack_paths,
    stack_ports,
)
from shared.contract import load_contract
from shared.topic_admin import TopicWish, create_topics
from shared.topics import Topic, inbox_name, party_topic_name, topic_name
from tests.integration.conftest import Infra, Isolated, isolated_slice

# contractors and the customer of the stack's contract (examples/contract unless
# BATON_CONTRACT_PATH names another): the stack made their SCRAM users
HW, SYSOPS, CUSTOMER = "hw", "sysops", "customer"


def client(infra: Infra, entry: str) -> dict[str, Any]:
    """aiokafka keywords for ``entry`` (a party id, a service name, ``admin``) on the stack's
    broker, with its password from the stack's credentials."""
    paths = stack_paths()
    creds = stack_credentials(paths)
    return {**kafka_client(stack_ports(paths), creds, entry), "bootstrap_servers": infra.bootstrap}


@pytest.fixture
async def secured(infra: Infra) -> AsyncIterator[Isolated]:
    """A slice whose prefix has the contract's ACLs, with the parties' own topics."""
    contract = load_contract(stack_contract())
    assert {HW, SYSOPS, CUSTOMER} <= set(contract.parties), "the stack runs another contract"
    async with isolated_slice(infra) as mine:
        prefix = mine.prefix
        await asyncio.to_thread(apply_acls, render_lines(bindings(contract, prefix, prefix)))
        names = [party_topic_name(prefix, p) for p in (HW, SYSOPS)]
        names += [inbox_name(prefix, p) for p in (HW, SYSOPS, CUSTOMER)]
        await create_topics(infra.kafka, [TopicWish(n, 1) for n in names])
        yield mine


async def _read(infra: Infra, user: str, topic: str, group: str | None) -> list[bytes]:
    consumer = AIOKafkaConsumer(**client(infra, user), group_id=group, auto_offset_reset="earliest")
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


async def _denied_read(infra: Infra, user: str, topic: str, group: str | None) -> None:
    """``user`` gets nothing from ``topic`` (which holds a record) and the broker said why.

    aiokafka's consumer does not raise for a topic the broker refuses in metadata: it logs,
    records the topic in its cluster view's ``unauthorized_topics`` and keeps trying.
    """
    consumer = AIOKafkaConsumer(**client(infra, user), group_id=group, auto_offset_reset="earliest")
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


async def _write(infra: Infra, user: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(**client(infra, user), request_timeout_ms=10000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def test_a_client_without_the_stacks_credentials_is_refused(infra: Infra) -> None:
    anonymous = AIOKafkaProducer(bootstrap_servers=infra.bootstrap, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):  # the SASL listener closes a plaintext client
        await anonymous.start()
    await anonymous.stop()
    wrong = {**infra.kafka, "sasl_plain_password": uuid.uuid4().hex}
    impostor = AIOKafkaProducer(**wrong, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):  # SCRAM fails: authentication error, no session
        await impostor.start()
    await impostor.stop()


async def test_a_contractor_reads_only_its_own_assignments_and_writes_only_its_own_inbox(
    secured: Isolated,
) -> None:
    infra, prefix = secured.infra, secured.prefix
    groups = prefix
    hw_topic, sysops_topic = party_topic_name(prefix, HW), party_topic_name(prefix, SYSOPS)
    await _write(infra, "admin", hw_topic, b"for hw")
    await _write(infra, "admin", sysops_topic, b"for sysops")

    assert await _read(infra, HW, hw_topic, f"{groups}{HW}.console") == [b"for hw"]
    assert await _read(infra, SYSOPS, sysops_topic, f"{groups}{SYSOPS}.console") == [b"for sysops"]
    await _denied_read(infra, HW, sysops_topic, None)
    await _denied_read(infra, HW, sysops_topic, f"{groups}{HW}.console")
    with pytest.raises(GroupAuthorizationFailedError):  # another party's group
        await _read(infra, HW, hw_topic, f"{groups}{SYSOPS}.console")

    await _write(infra, HW, inbox_name(prefix, HW), b'{"action": "acknowledge"}')
    for foreign in (inbox_name(prefix, SYSOPS), inbox_name(prefix, CUSTOMER)):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write(infra, HW, foreign, b'{"action": "confirm"}')
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(infra, HW, topic_name(prefix, Topic.COMMANDS), b'{"action": "confirm"}')
    for assignments in (hw_topic, sysops_topic):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write(infra, HW, assignments, b"forged assignment")


# service -> (a topic it writes, topics it must not write)
SERVICE_WRITES: dict[str, tuple[Topic, tuple[Topic, ...]]] = {
    "intake": (Topic.INCIDENTS, (Topic.ASSIGNMENTS, Topic.SLA, Topic.CONTRACT)),
    "router": (Topic.ASSIGNMENTS, (Topic.INCIDENTS, Topic.COMMANDS, Topic.SLA)),
    "sla-clock": (Topic.SLA, (Topic.INCIDENTS, Topic.ASSIGNMENTS)),
    "reporting": (Topic.DEADLETTER, (Topic.INCIDENTS, Topic.ASSIGNMENTS, Topic.ALERTS)),
}


async def test_each_service_writes_only_the_topics_it_owns(secured: Isolated) -> None:
    infra, prefix = secured.infra, secured.prefix
    for service, (own, foreign) in SERVICE_WRITES.items():
        await _write(infra, service, topic_name(prefix, own), b"probe")
        for topic in foreign:
            with pytest.raises(TopicAuthorizationFailedError):
                await _write(infra, service, topic_name(prefix, topic), b"forged")


async def test_postgresql_refuses_a_client_without_the_stacks_password(infra: Infra) -> None:
    """The same on the database: `baton stack up` leaves no `trust` line in pg_hba.conf."""
    dsn = urlsplit(infra.dsn)
    where = f"{dsn.hostname}:{dsn.port}"
    for netloc in (f"baton@{where}", f"baton:{uuid.uuid4().hex}@{where}"):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(dsn._replace(netloc=netloc).geturl(), timeout=30)
    conn = await asyncpg.connect(infra.dsn, timeout=30)  # with it: in
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
