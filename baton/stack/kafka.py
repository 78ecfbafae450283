"""The stack's Kafka: KRaft config, the jars, storage formatting, SCRAM users and ACLs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from baton import credentials
from baton.credentials import KAFKA_ADMIN, Credentials
from baton.stack.clients import kafka_client, stack_credentials
from baton.stack.layout import (
    ACL_APPLY,
    DEFAULT_PORTS,
    KAFKA_CLUSTER_JVM,
    KAFKA_DEPLOY_DIR,
    KAFKA_JVM,
    KAFKA_MAIN,
    KAFKA_MECHANISM,
    KAFKA_SECURITY_PROTOCOL,
    KAFKA_STOP_GRACE_SECONDS,
    KAFKA_STORAGE_TOOL,
    KAFKA_TOOL_JVM,
    KAFKA_VERSION,
    KafkaNode,
    StackError,
    StackPaths,
    StackPorts,
    kafka_cache_dir,
    log,
    stack_paths,
    stack_ports,
)
from baton.stack.processes import (
    _cmdline,
    _read_pidfile,
    _require_free_port,
    _require_tool,
    _running_pid,
    _size,
    _spawn,
    _spawned,
    _tail,
    _terminate,
)
from shared.topic_admin import TopicAdminError, wait_kafka

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
        "# Rendered by baton/stack/kafka.py at every `baton stack up`; edits are overwritten.",
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
            asyncio.run(wait_kafka(plain, timeout, alive=alive, brokers=len(nodes)))
            secure_kafka(libs, paths, ports, users, acls, mechanism="PLAIN")
            stop_kafka(paths)
        offsets |= _launch_kafka(paths, libs, ports, stopped(), users, plain_admin=False)
        # ready first: the Admin API (users, ACLs) waits only so long for a node
        asyncio.run(wait_kafka(admin, timeout, alive=alive, brokers=len(nodes)))
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
