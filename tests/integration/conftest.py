"""Integration fixtures: the real broker and database from `baton stack up --infra-only`.

Each test run gets its own topic prefix, consumer groups and database, so tests are independent
and can run twice beside a live stack. A missing broker or database fails the test — never a
silent skip. Every client authenticates: Kafka as the stack's ``admin`` (SASL/SCRAM), PostgreSQL
with the ``baton`` role's password — both from ``<stack>/secrets/credentials.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from baton.credentials import Credentials, StackAuth, service_env
from baton.stack import (
    StackError,
    free_ports,
    kafka_client,
    kafka_env,
    stack_credentials,
    stack_paths,
    stack_ports,
    status,
)
from shared.contract import load_contract
from shared.settings import DEFAULT_CONTRACT, Settings
from shared.topic_admin import ensure_topics
from tests.integration.forked import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "intake": "intake",
    "router": "router",
    "sla-clock": "sla_clock",
    "reporting": "reporting",
}


@dataclass
class Infra:
    bootstrap: str
    dsn: str  # with the password: never print it
    kafka: dict[str, Any]  # aiokafka keywords, as the stack's admin
    kafka_env: dict[str, str]  # BATON_KAFKA_* for a service started by a test, as admin


@dataclass
class Isolated:
    """One test's own slice of the stack: topic prefix, group prefix, database — and its own
    credentials, as ``baton stack up`` makes them: its services get their share (secure by
    default), its clients send them with ``auth()``. A test that sets a credential setting in
    ``env`` has that one instead; a test of open behaviour sets ``BATON_INSECURE=1``."""

    infra: Infra
    prefix: str
    dsn: str
    env: dict[str, str] = field(default_factory=dict)
    creds: Credentials = field(default_factory=Credentials)

    def credentials(self) -> Credentials:
        """The slice's credentials, topped up for the parties of the contract in ``env``."""
        contract = Path(self.env.get("BATON_CONTRACT_PATH") or DEFAULT_CONTRACT)
        self.creds = self.creds.completed(load_contract(contract).parties)
        return self.creds

    def auth(self) -> StackAuth:
        """For an httpx client: each request gets the credential its service asks for."""
        return StackAuth(self.credentials())

    def settings(self) -> Settings:
        """The settings a service of this slice runs with (its ``BATON_*`` environment)."""
        values: dict[str, Any] = {
            key.removeprefix("BATON_").lower(): value
            for key, value in self.env.items()
            if key.startswith("BATON_")
        }
        return Settings(**values)


@pytest.fixture(scope="session")
def infra() -> Infra:
    st = status()
    if not (st["kafka"]["running"] and st["postgres"]["running"]):
        pytest.fail(
            "integration tests need the local stack: run `baton stack up --infra-only` "
            f"(status: kafka running={st['kafka']['running']}, "
            f"postgres running={st['postgres']['running']})"
        )
    paths = stack_paths()
    try:
        creds = stack_credentials(paths)
    except StackError as exc:
        pytest.fail(f"integration tests need the stack's credentials: {exc}")
    ports = stack_ports(paths)
    return Infra(
        bootstrap=ports.bootstrap,
        dsn=ports.dsn_with(creds.postgres_password),
        kafka=kafka_client(ports, creds),
        kafka_env=kafka_env(ports, creds),
    )


def free_port() -> int:
    (port,) = free_ports(1)
    return port


@contextlib.asynccontextmanager
async def isolated_slice(infra: Infra, **extra_env: str) -> AsyncIterator[Isolated]:
    """Own topics (uuid prefix), consumer groups and database; all dropped after, so that a
    long run (or several engineers' runs) does not pile thousands of partitions on the one
    broker — a single node's controller stalls under them."""
    tag = uuid.uuid4().hex[:10]
    prefix = f"t{tag}."
    await ensure_topics(infra.kafka, prefix)
    db = f"baton_t{tag}"
    admin = await asyncpg.connect(infra.dsn)
    try:
        await admin.execute(f"CREATE DATABASE {db}")
    finally:
        await admin.close()
    dsn = infra.dsn.rsplit("/", 1)[0] + f"/{db}"
    env = {
        **infra.kafka_env,
        "BATON_PG_DSN": dsn,
        "BATON_TOPIC_PREFIX": prefix,
        "BATON_GROUP_PREFIX": prefix,
        "BATON_LOG_FORMAT": "json",
        **extra_env,
    }
    try:
        yield Isolated(infra=infra, prefix=prefix, dsn=dsn, env=env)
    finally:
        admin = await asyncpg.connect(infra.dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        finally:
            await admin.close()
        await drop_topics(infra.kafka, prefix)


async def drop_topics(client: dict[str, Any], prefix: str) -> None:
    """Delete every topic named ``prefix*`` (the slice's own and the party topics its services
    made); a failure here is left to the broker, it does not fail the test."""
    kafka = AIOKafkaAdminClient(**client)
    await kafka.start()
    try:
        mine = [t for t in await kafka.list_topics() if t.startswith(prefix)]
        if mine:
            await kafka.delete_topics(mine)
    except KafkaError:
        pass  # leftovers cost the broker a little, never a result
    finally:
        await kafka.close()


@pytest.fixture
async def isolated(infra: Infra) -> AsyncIterator[Isolated]:
    async with isolated_slice(infra, BATON_SLA_TICK_SECONDS="0.5") as mine:
        yield mine


@dataclass
class ServiceProcs:
    urls: dict[str, str]
    procs: dict[str, ServiceProcess]
    logs: dict[str, Path]

    def log_tail(self, name: str, lines: int = 30) -> str:
        return "\n".join(self.logs[name].read_text(errors="replace").splitlines()[-lines:])


def start_services(isolated: Isolated, tmp: Path, names: list[str] | None = None) -> ServiceProcs:
    urls, procs, logs = {}, {}, {}
    tmp.mkdir(parents=True, exist_ok=True)
    names = names or list(SERVICES)
    for name, port in zip(names, free_ports(len(names)), strict=True):
        share = service_env(isolated.credentials(), name)
        env = {**os.environ, **share, **isolated.env, "BATON_HTTP_PORT": str(port)}
        logs[name] = tmp / f"{name}.log"
        procs[name] = ServiceProcess(SERVICES[name], env, ROOT, logs[name])
        urls[name] = f"http://127.0.0.1:{port}"
    return ServiceProcs(urls=urls, procs=procs, logs=logs)


HEALTH_POLL_SECONDS = 0.05
"""A service is polled this often while it starts: every test that starts one waits, on
average, half of it past the moment it became ready (a connection refused costs nothing)."""


async def wait_healthy(sp: ServiceProcs, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient() as client:
        for name, url in sp.urls.items():
            deadline = loop.time() + timeout
            while True:
                if sp.procs[name].poll() is not None:
                    pytest.fail(f"{name} exited:\n{sp.log_tail(name)}")
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if loop.time() >= deadline:
                    pytest.fail(f"{name} not healthy in {timeout}s:\n{sp.log_tail(name)}")
                await asyncio.sleep(HEALTH_POLL_SECONDS)


def stop_services(sp: ServiceProcs) -> None:
    for proc in sp.procs.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in sp.procs.values():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def started(isolated: Isolated, tmp: Path, names: list[str] | None = None) -> ServiceProcs:
    """``start_services``, once every one of them is healthy; if one is not, all are stopped
    and the test fails with its log."""
    sp = start_services(isolated, tmp, names)
    try:
        await wait_healthy(sp)
    except BaseException:
        stop_services(sp)
        raise
    return sp


class Fleet:
    """The service processes one test starts, as many groups and as late as it likes: a test
    calls ``stop()`` before it reads what they published, and the ``fleet`` fixture calls it
    again at teardown, so a test that fails leaves nothing running."""

    def __init__(self, isolated: Isolated, tmp: Path) -> None:
        self.isolated = isolated
        self.tmp = tmp
        self.groups: list[ServiceProcs] = []

    def start(
        self, folder: str, names: list[str], env: dict[str, str] | None = None
    ) -> ServiceProcs:
        """``names`` started, not yet healthy, logging to ``tmp/folder``, on the slice's
        environment (as it is now) with ``env`` on top, and the slice's credentials."""
        isolated = self.isolated
        if env:
            isolated = replace(isolated, env={**isolated.env, **env}, creds=isolated.credentials())
        sp = start_services(isolated, self.tmp / folder, names)
        self.groups.append(sp)
        return sp

    async def started(
        self, folder: str, names: list[str], env: dict[str, str] | None = None
    ) -> ServiceProcs:
        """``start``, once every one of them is healthy."""
        sp = self.start(folder, names, env)
        await wait_healthy(sp)
        return sp

    async def healthy(self) -> None:
        """Every group started so far is healthy (they start side by side, then this waits)."""
        for sp in self.groups:
            await wait_healthy(sp)

    def stop(self) -> None:
        """Every process started so far stopped (again, for those already stopped)."""
        for sp in self.groups:
            stop_services(sp)


@pytest.fixture
def fleet(isolated: Isolated, tmp_path: Path) -> Iterator[Fleet]:
    running = Fleet(isolated, tmp_path)
    yield running
    running.stop()


@pytest.fixture
async def services(isolated: Isolated, tmp_path: Path) -> AsyncIterator[ServiceProcs]:
    sp = await started(isolated, tmp_path)
    try:
        yield sp
    finally:
        stop_services(sp)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
