"""The public steps: start and stop the services; `up_infra`, `up_services`, `down`, `status`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from typing import Any, NotRequired, TypedDict

import httpx
from router.acl import bindings, render_lines

from baton import credentials
from baton.stack.clients import (
    ensure_credentials,
    kafka_client,
    service_argv,
    service_env,
    stack_contract,
)
from baton.stack.kafka import _kafka_pidfiles, fetch_kafka, start_kafka, stop_kafka
from baton.stack.layout import (
    _KIND,
    DEFAULT_PORTS,
    SERVICES,
    STACK_MARKER,
    STOP_GRACE_SECONDS,
    Service,
    StackError,
    StackPaths,
    StackPorts,
    _record_ports,
    _stack_lock,
    log,
    stack_paths,
    stack_ports,
)
from baton.stack.postgres import _postmaster_pid, start_postgres, stop_postgres
from baton.stack.processes import _require_free_port, _running_pid, _spawn, _tail, _terminate
from shared.contract import load_contract
from shared.settings import Settings
from shared.topic_admin import ensure_topics

# --------------------------------------------------------------------------- services


def _healthy(service: Service) -> bool:
    try:
        return httpx.get(service.health_url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_services(
    paths: StackPaths,
    services: Sequence[Service] = SERVICES,
    timeout: float = 60.0,
    ports: StackPorts = DEFAULT_PORTS,
) -> None:
    """Start the services that do not run yet, all at once; wait for each one's /healthz."""
    for service in services:
        if _running_pid(paths.pidfile(service.name)) is not None:
            continue
        _require_free_port(service.port, service.name)
        env = service_env(service, os.environ, ports, credentials.load(paths.root))
        env |= _mailpit().service_env(paths, _KIND[service.module], ports, env)
        argv = service_argv(service)
        pid = _spawn(argv, name=service.name, paths=paths, env=env, output=paths.log(service.name))
        log.info("Started %s (pid %d) on %s", service.name, pid, service.url)
    deadline = time.monotonic() + timeout
    waiting = list(services)
    while waiting:
        for service in list(waiting):
            if _healthy(service):
                waiting.remove(service)
            elif _running_pid(paths.pidfile(service.name)) is None:
                raise _service_failure(paths, service, "exited during start-up")
        if waiting and time.monotonic() >= deadline:
            service = waiting[0]
            raise _service_failure(paths, service, f"no 200 from /healthz after {timeout:.0f} s")
        time.sleep(0.2)


def _service_failure(paths: StackPaths, service: Service, reason: str) -> StackError:
    return StackError(
        f"service {service.name} ({service.health_url}) {reason}; "
        f"`baton stack down` cleans up\n--- {paths.log(service.name)} ---\n"
        f"{_tail(paths.log(service.name))}"
    )


def stop_services(paths: StackPaths) -> None:
    """Stop every process this stack started except Kafka — the services, and any others."""
    kafka = set(_kafka_pidfiles(paths))
    pidfiles = [p for p in sorted(paths.run.glob("*.pid")) if p not in kafka]
    running = {pidfile: _running_pid(pidfile) for pidfile in pidfiles}
    pids = [pid for pid in running.values() if pid is not None]
    if pids:
        log.info("Stopping %s…", ", ".join(p.stem for p, pid in running.items() if pid))
        _terminate(pids, STOP_GRACE_SECONDS)
    for pidfile in pidfiles:
        pidfile.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the public steps


@contextlib.contextmanager
def _timed(what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    log.info("%s (%.1f s)", what, time.monotonic() - started)


def up_infra(
    paths: StackPaths | None = None,
    timeout: float = 90.0,
    ports: StackPorts | None = None,
    brokers: int | None = None,
) -> None:
    """Start PostgreSQL and Kafka (fetching Kafka once), then create the topics.

    ``ports`` and ``brokers`` (Kafka nodes: 1 or 3) are only wishes for a new stack: one that
    has run keeps the ports and nodes it recorded, and refuses a different wish.
    """
    paths = paths or stack_paths()
    with _stack_lock(paths):
        chosen = _record_ports(paths, ports, brokers)
        with _timed("Kafka jars ready"):
            libs = fetch_kafka()
        settings = Settings()
        contract = load_contract(stack_contract())
        creds = credentials.ensure(paths.root, contract.parties)
        acls = render_lines(bindings(contract, settings.topic_prefix, settings.group_prefix))
        with _timed("PostgreSQL ready"):
            start_postgres(paths, chosen, password=creds.postgres_password)
        with _timed("Kafka ready"):
            start_kafka(paths, libs, timeout, chosen, creds=creds, acls=acls)
        with _timed("topics ready"):
            asyncio.run(ensure_topics(kafka_client(chosen, creds), settings.topic_prefix))
        _mailpit().start(paths)  # the SMTP relay people's e-mail goes through
        log.info(
            "Credentials (Kafka users, PostgreSQL password, tokens): %s (owner-only)",
            credentials.credentials_path(paths.root),
        )


def up_services(
    paths: StackPaths | None = None,
    services: Sequence[str] | None = None,
    timeout: float = 60.0,
) -> None:
    """Start the services (all, or those named) and wait until each is healthy.

    Infrastructure must be up; the services get the stack's recorded ports.
    """
    paths = paths or stack_paths()
    with _stack_lock(paths):
        current = status(paths)
        if not (current["kafka"]["running"] and current["postgres"]["running"]):
            raise StackError("Kafka and PostgreSQL must run first: `baton stack up --infra-only`")
        ports = stack_ports(paths)
        table = [s for s in ports.service_table() if services is None or s.name in services]
        where = ensure_credentials(paths)
        log.info("Credentials: %s (owner-only; demo, bench and CLI read them there)", where)
        start_services(paths, table, timeout, ports)


def down(paths: StackPaths | None = None, purge: bool = False) -> None:
    """Stop services, Kafka and PostgreSQL; with ``purge``, delete the stack folder as well."""
    paths = paths or stack_paths()
    if not paths.root.exists():
        return
    if not (paths.root / STACK_MARKER).exists():
        raise StackError(f"{paths.root} has no {STACK_MARKER}: not a stack folder, not touched")
    with _stack_lock(paths):
        stop_services(paths)
        _mailpit().stop(paths)
        stop_kafka(paths)
        stop_postgres(paths)
        if purge:
            shutil.rmtree(paths.root)
            log.info("Deleted %s", paths.root)


class KafkaNodeStatus(TypedDict):
    node: int
    address: str
    controller: str
    running: bool


class KafkaStatus(TypedDict):
    bootstrap: str
    running: bool  # every node runs
    brokers: list[KafkaNodeStatus]


class PostgresStatus(TypedDict):
    dsn: str
    running: bool


class ServiceStatus(TypedDict):
    url: str
    metrics: str
    running: bool


class BrokerPorts(TypedDict):
    node: int
    kafka: int
    controller: int


class PortsStatus(TypedDict):
    kafka: int
    controller: int
    postgres: int
    services: dict[str, int]
    brokers: list[BrokerPorts]


class MailpitStatus(TypedDict):
    web: str
    smtp: str
    running: bool


class StackStatus(TypedDict):
    dir: str
    ports: PortsStatus
    kafka: KafkaStatus
    postgres: PostgresStatus
    services: dict[str, ServiceStatus]
    mailpit: NotRequired[MailpitStatus]  # a stack without the binary has none


def service_pids(paths: StackPaths | None = None) -> dict[str, int]:
    """The process id of each running service of the stack (for CPU accounting)."""
    paths = paths or stack_paths()
    found = {
        s.name: _running_pid(paths.pidfile(s.name)) for s in stack_ports(paths).service_table()
    }
    return {name: pid for name, pid in found.items() if pid is not None}


def status(paths: StackPaths | None = None) -> StackStatus:
    """What runs and where to reach it: the document ``baton stack status --json`` prints."""
    paths = paths or stack_paths()
    ports = stack_ports(paths)
    nodes = ports.kafka_nodes()
    brokers: list[KafkaNodeStatus] = [
        {
            "node": node.id,
            "address": node.address,
            "controller": node.controller_address,
            "running": _running_pid(paths.pidfile(node.name)) is not None,
        }
        for node in nodes
    ]
    found: StackStatus = {
        "dir": str(paths.root),
        "ports": {
            "kafka": ports.kafka,
            "controller": ports.controller,
            "postgres": ports.postgres,
            "services": {s.name: s.port for s in ports.service_table()},
            "brokers": [{"node": n.id, "kafka": n.port, "controller": n.controller} for n in nodes],
        },
        "kafka": {
            "bootstrap": ports.bootstrap,
            "running": all(node["running"] for node in brokers),
            "brokers": brokers,
        },
        "postgres": {"dsn": ports.dsn, "running": _postmaster_pid(paths) is not None},
        "services": {
            service.name: {
                "url": service.url,
                "metrics": service.metrics_url,
                "running": _running_pid(paths.pidfile(service.name)) is not None,
            }
            for service in ports.service_table()
        },
    }
    relay = _mailpit().recorded(paths)
    if relay is not None:
        found["mailpit"] = {
            "web": relay.web_url,
            "smtp": relay.smtp_address,
            "running": _mailpit().running(paths),
        }
    return found


def _mailpit() -> Any:
    from baton import mailpit

    return mailpit
