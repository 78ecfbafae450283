"""A second local stack beside the first: its own folder, its own free ports.

The shared stack (``$BATON_STACK_DIR``, default ports) must keep running untouched while a second
one starts, serves, reports its ports in ``baton stack status --json`` and is purged again.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from baton import credentials, stack
from shared.settings import Settings
from shared.topics import TOPIC_SPECS, topic_name
from tests.integration.conftest import Infra


@pytest.fixture
def second_stack(tmp_path: Path) -> Iterator[stack.StackPaths]:
    paths = stack.StackPaths((tmp_path / "stack-b").resolve())
    try:
        yield paths
    finally:
        stack.down(paths, purge=True)


async def _answers(kafka: dict[str, Any], dsn: str) -> tuple[set[str], int]:
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        topics = set(await admin.list_topics())
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn)
    try:
        one = await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
    return topics, one


def test_a_second_stack_runs_beside_the_first(infra: Infra, second_stack: stack.StackPaths) -> None:
    ports = stack.StackPorts.free()
    first_bootstrap = infra.bootstrap

    stack.up_infra(second_stack, timeout=120, ports=ports)
    stack.up_services(second_stack, services=["reporting"], timeout=60)

    env = {**os.environ, "BATON_STACK_DIR": str(second_stack.root)}
    printed = subprocess.run(
        [sys.executable, "-m", "baton.cli", "stack", "status", "--json"],
        env=env, capture_output=True, text=True, check=True, cwd=stack.REPO_ROOT,
    )  # fmt: skip
    st = json.loads(printed.stdout)
    assert st["dir"] == str(second_stack.root)
    assert st["ports"]["kafka"] == ports.kafka
    assert st["kafka"]["bootstrap"] == ports.bootstrap
    assert st["kafka"]["running"] is True
    assert st["postgres"] == {"dsn": ports.dsn, "running": True}
    assert st["services"]["reporting"]["running"] is True
    assert st["services"]["intake"]["running"] is False
    assert json.loads((second_stack.root / "ports.json").read_text()) == ports.to_json()

    creds = stack.stack_credentials(second_stack)  # its own, not the first stack's
    kafka = stack.kafka_client(ports, creds)
    topics, one = asyncio.run(_answers(kafka, ports.dsn_with(creds.postgres_password)))
    prefix = Settings().topic_prefix
    assert {topic_name(prefix, spec.topic) for spec in TOPIC_SPECS} <= topics
    assert one == 1
    reporting = st["services"]["reporting"]["url"]
    assert reporting.endswith(f":{ports.services[3]}")
    assert httpx.get(f"{reporting}/healthz", timeout=5).status_code == 200
    # secure by default: the stack made its own credentials and gave reporting its readers'
    assert (second_stack.root / "secrets" / "credentials.json").stat().st_mode & 0o077 == 0
    auth = credentials.StackAuth(credentials.require(second_stack.root))
    assert httpx.get(f"{reporting}/v1/incidents", timeout=5).status_code == 401
    assert httpx.get(f"{reporting}/v1/incidents", timeout=5, auth=auth).status_code == 200

    # the first stack is still where it was, and still running
    first = stack.status()
    assert first["kafka"]["bootstrap"] == first_bootstrap
    assert first["kafka"]["running"] is True
    assert first["postgres"]["running"] is True

    stack.down(second_stack)
    after = stack.status(second_stack)
    assert not after["kafka"]["running"]
    assert not after["postgres"]["running"]
    assert not after["services"]["reporting"]["running"]
    assert stack.status()["kafka"]["running"] is True
