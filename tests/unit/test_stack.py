"""The local stack manager's pure parts: rendered configs, the service table, paths, pid files."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from baton import credentials, stack
from baton.credentials import Credentials
from shared.contract import load_contract
from shared.settings import Settings


def _properties(text: str) -> dict[str, str]:
    lines = (line for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, _, value in (line.partition("=") for line in lines)}


ADMIN_SECRET = "s3cr3t-admin"


def _render(data: Path, ports: stack.StackPorts = stack.DEFAULT_PORTS) -> dict[str, str]:
    return _properties(stack.render_server_properties(data, ports, admin_password=ADMIN_SECRET))


def test_server_properties_make_a_single_node_kraft_broker(tmp_path: Path) -> None:
    props = _render(tmp_path / "data")

    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "CLIENTS://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "CLIENTS://127.0.0.1:9092"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "data")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("offsets.topic.replication.factor", "1"),
        ("transaction.state.log.replication.factor", "1"),
        ("transaction.state.log.min.isr", "1"),
        ("share.coordinator.state.topic.replication.factor", "1"),
        ("min.insync.replicas", "1"),
        ("group.initial.rebalance.delay.ms", "0"),
        ("auto.create.topics.enable", "false"),
    ],
)
def test_server_properties_carry_the_one_node_settings(key: str, value: str) -> None:
    assert _render(Path("/d"))[key] == value


def test_every_listener_authenticates_and_only_admin_is_super() -> None:
    props = _render(Path("/d"))

    protocols = dict(m.split(":") for m in props["listener.security.protocol.map"].split(","))
    assert protocols == {"CLIENTS": "SASL_PLAINTEXT", "CONTROLLER": "SASL_PLAINTEXT"}
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert (
        f'password="{ADMIN_SECRET}"'
        in props["listener.name.clients.scram-sha-512.sasl.jaas.config"]
    )
    assert (
        f'user_admin="{ADMIN_SECRET}"' in props["listener.name.controller.plain.sasl.jaas.config"]
    )
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["super.users"] == "User:admin"
    assert props["allow.everyone.if.no.acl.found"] == "false"


def test_cluster_id_is_a_fresh_base64url_uuid() -> None:
    first, second = stack.new_cluster_id(), stack.new_cluster_id()

    assert len(first) == 22
    assert "=" not in first
    assert len(base64.urlsafe_b64decode(first + "==")) == 16
    assert first != second


def test_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The storage tool reads ``-t -xyz`` as an option: a run of the suite failed once so."""
    dashed = uuid.UUID(bytes=base64.urlsafe_b64decode("-" + "A" * 21 + "=="))
    drawn = iter([dashed, uuid.UUID(int=1)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(drawn))

    assert stack.new_cluster_id() == base64.urlsafe_b64encode(uuid.UUID(int=1).bytes).decode()[:22]


def test_postgres_conf_listens_on_loopback_tcp_only() -> None:
    conf = dict(
        line.split(" = ", 1)
        for line in stack.render_postgres_conf().splitlines()
        if not line.startswith("#")
    )

    assert conf["listen_addresses"] == "'127.0.0.1'"
    assert conf["port"] == "5433"
    assert conf["unix_socket_directories"] == "''"


def test_stack_addresses_are_the_settings_defaults() -> None:
    """A service started with no settings finds the local stack (two sources, one fact)."""
    assert Settings.model_fields["pg_dsn"].default.get_secret_value() == stack.PG_DSN
    assert Settings.model_fields["kafka_bootstrap"].default == stack.KAFKA_BOOTSTRAP


def test_the_service_table_agrees_with_compose_and_the_chart() -> None:
    """One service table, three places that run the services: they must not drift apart."""
    compose = yaml.safe_load((stack.REPO_ROOT / "docker-compose.yml").read_text())["services"]
    values = stack.REPO_ROOT / "deploy" / "helm" / "baton" / "values.yaml"
    chart = yaml.safe_load(values.read_text())["services"]

    assert set(chart) == {s.name for s in stack.SERVICES}
    for service in stack.SERVICES:
        assert compose[service.name]["command"] == ["python", "-m", service.module]
        assert compose[service.name]["environment"]["BATON_HTTP_PORT"] == str(service.port)
        assert (chart[service.name]["module"], chart[service.name]["port"]) == (
            service.module,
            service.port,
        )
    ports = [*stack.DEFAULT_PORTS.all()]
    assert len(set(ports)) == len(ports), "a stack's ports collide"


@pytest.mark.parametrize("service", stack.SERVICES, ids=lambda s: s.name)
def test_each_service_module_is_runnable_with_dash_m(service: stack.Service) -> None:
    assert importlib.util.find_spec(f"{service.module}.__main__") is not None


def test_service_urls() -> None:
    intake = stack.SERVICES[0]

    assert intake.url == "http://127.0.0.1:8080"
    assert intake.metrics_url == "http://127.0.0.1:8080/metrics"
    assert intake.health_url == "http://127.0.0.1:8080/healthz"


def test_service_env_points_at_the_stack_and_keeps_the_rest() -> None:
    router = stack.SERVICES[1]
    base = {"PATH": "/bin", "BATON_HTTP_PORT": "1", "BATON_KAFKA_BOOTSTRAP": "elsewhere:9092"}

    env = stack.service_env(router, base)

    assert env["PATH"] == "/bin"
    assert env["BATON_HTTP_PORT"] == "8081"
    assert env["BATON_KAFKA_BOOTSTRAP"] == "127.0.0.1:9092"
    assert env["BATON_PG_DSN"] == "postgresql://baton@127.0.0.1:5433/baton"
    assert base["BATON_HTTP_PORT"] == "1"


def test_a_service_connects_as_its_own_kafka_user_with_the_database_password() -> None:
    creds = Credentials().completed(["hw"])
    router = stack.SERVICES[1]

    env = stack.service_env(router, {}, stack.DEFAULT_PORTS, creds)

    assert env["BATON_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["BATON_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["BATON_KAFKA_SASL_USERNAME"] == "baton-router"  # router.acl's principal
    assert env["BATON_KAFKA_SASL_PASSWORD"] == creds.kafka["router"]
    dsn = env["BATON_PG_DSN"]
    assert dsn == f"postgresql://baton:{creds.postgres_password}@127.0.0.1:5433/baton"
    assert creds.postgres_password not in stack.DEFAULT_PORTS.dsn  # the one shown


def test_cli_settings_take_the_stack_unless_the_environment_says_otherwise(tmp_path: Path) -> None:
    paths = stack.StackPaths(tmp_path)
    creds = credentials.ensure(tmp_path, ["hw"])

    mine = stack.client_settings(paths, environ={})
    assert mine.kafka_bootstrap == stack.stack_ports(paths).bootstrap
    assert mine.kafka_sasl_username == "admin"
    assert mine.kafka_sasl_password is not None
    assert mine.kafka_sasl_password.get_secret_value() == creds.kafka["admin"]
    assert creds.postgres_password in mine.pg_dsn.get_secret_value()

    elsewhere = stack.client_settings(paths, environ={"BATON_KAFKA_BOOTSTRAP": "kafka.prod:9093"})
    assert elsewhere.kafka_sasl_username != "admin"  # no local secret goes to another cluster


def test_service_argv_runs_the_module_with_this_interpreter() -> None:
    assert stack.service_argv(stack.SERVICES[2]) == [sys.executable, "-m", "sla_clock"]


def test_stack_dir_defaults_to_the_repo_and_follows_the_env(tmp_path: Path) -> None:
    assert stack.stack_paths({}).root == stack.REPO_ROOT / ".baton"
    paths = stack.stack_paths({"BATON_STACK_DIR": str(tmp_path)})

    assert paths.root == tmp_path
    assert paths.log("intake") == tmp_path / "logs" / "intake.log"
    assert paths.pidfile("kafka") == tmp_path / "run" / "kafka.pid"


def test_kafka_cache_follows_xdg(tmp_path: Path) -> None:
    assert stack.kafka_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == (
        tmp_path / "baton" / f"kafka-{stack.KAFKA_VERSION}"
    )
    assert stack.kafka_cache_dir({}) == Path.home() / ".cache" / "baton" / "kafka-4.1.1"


def test_pom_pulls_the_broker_of_our_version_and_nothing_extra() -> None:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom = ET.parse(stack.KAFKA_DEPLOY_DIR / "pom.xml").getroot()
    version = pom.findtext("m:properties/m:kafka.version", namespaces=ns)
    artifacts = {a.text for a in pom.findall("m:dependencies/m:dependency/m:artifactId", ns)}

    assert version == stack.KAFKA_VERSION
    assert artifacts == {"kafka_2.13", "log4j-slf4j-impl"}


def test_log4j2_config_writes_to_the_stack_log_dir() -> None:
    root = ET.parse(stack.KAFKA_DEPLOY_DIR / "log4j2.xml").getroot()
    appender = root.find("Appenders/RollingFile")

    assert appender is not None
    # kafka.log, or kafka-2.log … for the further nodes of a three-broker stack
    assert appender.get("fileName") == "${logDir}/${sys:baton.kafka.log:-kafka}.log"
    assert "${sys:kafka.logs.dir" in ET.tostring(root, encoding="unicode")
    assert root.find("Appenders/Console") is None


def test_pidfile_recognises_only_the_process_it_names(tmp_path: Path) -> None:
    own_argv = Path("/proc/self/cmdline").read_bytes().decode().split("\0")[:-1]
    pidfile = tmp_path / "me.pid"

    stack._write_pidfile(pidfile, os.getpid(), own_argv)
    assert stack._running_pid(pidfile) == os.getpid()

    stack._write_pidfile(pidfile, os.getpid(), ["java", "kafka.Kafka"])
    assert stack._running_pid(pidfile) is None

    pidfile.write_text("not a pid\n")
    assert stack._running_pid(pidfile) is None
    assert stack._running_pid(tmp_path / "missing.pid") is None


def test_status_of_an_empty_stack_is_all_stopped_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(stack.BASE_PORT_ENV, raising=False)  # the defaults, whoever runs it
    current = stack.status(stack.StackPaths(tmp_path))

    assert current["kafka"] == {
        "bootstrap": "127.0.0.1:9092",
        "running": False,
        "brokers": [
            {
                "node": 1,
                "address": "127.0.0.1:9092",
                "controller": "127.0.0.1:9093",
                "running": False,
            }
        ],
    }
    assert current["postgres"] == {
        "dsn": "postgresql://baton@127.0.0.1:5433/baton",
        "running": False,
    }
    assert current["services"]["reporting"] == {
        "url": "http://127.0.0.1:8083",
        "metrics": "http://127.0.0.1:8083/metrics",
        "running": False,
    }
    assert list(current["services"]) == ["intake", "router", "sla-clock", "reporting"]
    assert json.loads(json.dumps(current)) == current


def test_down_refuses_a_folder_that_is_not_a_stack(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")

    with pytest.raises(stack.StackError, match="not a stack folder"):
        stack.down(stack.StackPaths(tmp_path), purge=True)
    assert precious.read_text() == "keep me"


def test_down_purges_an_idle_stack_folder(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    stack._prepare(stack.StackPaths(root))

    stack.down(stack.StackPaths(root), purge=True)

    assert not root.exists()


def test_a_base_port_counts_up_for_kafka_controller_postgres_and_services() -> None:
    ports = stack.StackPorts.from_base(19100)

    assert ports.all() == (19100, 19101, 19102, 19103, 19104, 19105, 19106)
    assert ports.bootstrap == "127.0.0.1:19100"
    assert ports.dsn == "postgresql://baton@127.0.0.1:19102/baton"
    assert ports.service_table()[0].url == "http://127.0.0.1:19103"


def test_ports_must_be_distinct_and_valid() -> None:
    with pytest.raises(stack.StackError, match="distinct"):
        stack.StackPorts(9092, 9092)
    with pytest.raises(stack.StackError, match="distinct"):
        stack.StackPorts.from_base(65530)


def test_free_ports_are_distinct_and_not_the_defaults() -> None:
    ports = stack.StackPorts.free()

    assert len(set(ports.all())) == 7
    assert not set(ports.all()) & set(stack.DEFAULT_PORTS.all())


def test_stack_ports_come_from_the_folder_then_the_env_then_the_defaults(tmp_path: Path) -> None:
    paths = stack.stack_paths({"BATON_STACK_DIR": str(tmp_path)})

    assert stack.stack_ports(paths, {}) == stack.DEFAULT_PORTS
    assert stack.stack_ports(paths, {"BATON_STACK_BASE_PORT": "20000"}).kafka == 20000
    with pytest.raises(stack.StackError, match="BATON_STACK_BASE_PORT"):
        stack.stack_ports(paths, {"BATON_STACK_BASE_PORT": "x"})

    (tmp_path / "ports.json").write_text(json.dumps(stack.StackPorts.from_base(21000).to_json()))

    assert stack.stack_ports(paths, {"BATON_STACK_BASE_PORT": "20000"}).kafka == 21000


def test_recorded_ports_are_kept_and_a_different_wish_is_refused(tmp_path: Path) -> None:
    paths = stack.stack_paths({"BATON_STACK_DIR": str(tmp_path)})
    wish = stack.StackPorts.from_base(22000)

    assert stack._record_ports(paths, wish) == wish
    assert stack._record_ports(paths, None) == wish
    assert stack._record_ports(paths, wish) == wish
    with pytest.raises(stack.StackError, match="--purge"):
        stack._record_ports(paths, stack.StackPorts.from_base(23000))


def test_status_reports_the_stacks_own_ports(tmp_path: Path) -> None:
    paths = stack.stack_paths({"BATON_STACK_DIR": str(tmp_path)})
    stack._record_ports(paths, stack.StackPorts.from_base(24000))

    st = stack.status(paths)

    assert st["ports"]["kafka"] == 24000
    assert st["kafka"]["bootstrap"] == "127.0.0.1:24000"
    assert st["postgres"]["dsn"] == "postgresql://baton@127.0.0.1:24002/baton"
    assert st["services"]["reporting"]["url"] == "http://127.0.0.1:24006"
    assert st["ports"]["services"]["reporting"] == 24006
    assert not st["kafka"]["running"]


def test_configs_and_service_env_follow_the_ports() -> None:
    ports = stack.StackPorts.from_base(25000)
    props = _render(Path("/d"), ports)

    assert props["listeners"] == "CLIENTS://127.0.0.1:25000,CONTROLLER://127.0.0.1:25001"
    assert "port = 25002" in stack.render_postgres_conf(ports.postgres)
    env = stack.service_env(ports.service_table()[1], {}, ports)
    assert env["BATON_HTTP_PORT"] == "25004"
    assert env["BATON_KAFKA_BOOTSTRAP"] == "127.0.0.1:25000"
    assert env["BATON_PG_DSN"] == "postgresql://baton@127.0.0.1:25002/baton"


def test_each_service_gets_its_share_of_the_stack_credentials(tmp_path: Path) -> None:
    paths = stack.stack_paths({"BATON_STACK_DIR": str(tmp_path)})
    minimal = stack.REPO_ROOT / "examples" / "minimal" / "contract.yaml"
    where = stack.ensure_credentials(paths, {"BATON_CONTRACT_PATH": str(minimal)})
    assert where == tmp_path / "secrets" / "credentials.json"
    creds = credentials.require(tmp_path)
    assert set(creds.parties) == set(load_contract(minimal).parties)
    intake, router, _, reporting = stack.SERVICES
    intake_env = stack.service_env(intake, {}, creds=creds)
    assert json.loads(intake_env["BATON_INTAKE_PARTY_TOKENS"]) == creds.parties
    assert json.loads(intake_env["BATON_INTAKE_SOURCE_TOKENS"]) == creds.sources
    reporting_env = stack.service_env(reporting, {}, creds=creds)
    assert json.loads(reporting_env["BATON_REPORTING_READER_TOKENS"]) == creds.readers
    assert not {k for k in stack.service_env(router, {}, creds=creds) if "TOKENS" in k}
    assert "BATON_INSECURE" not in intake_env


def test_the_stack_runs_the_example_contract_unless_told_otherwise() -> None:
    assert stack.stack_contract({}) == stack.EXAMPLE_CONTRACT
    assert stack.stack_contract({"BATON_CONTRACT_PATH": "/x.yaml"}) == Path("/x.yaml")


def test_a_three_node_cluster_is_three_combined_nodes_with_a_static_quorum() -> None:
    ports = stack.StackPorts.from_base(26000, brokers=3)
    nodes = ports.kafka_nodes()
    rendered = [
        _properties(
            stack.render_server_properties(
                Path(f"/d{n.id}"), ports, n.id, admin_password=ADMIN_SECRET
            )
        )
        for n in nodes
    ]

    assert [n.name for n in nodes] == ["kafka", "kafka-2", "kafka-3"]
    assert [props["node.id"] for props in rendered] == ["1", "2", "3"]
    assert [props["listeners"] for props in rendered] == [
        "CLIENTS://127.0.0.1:26000,CONTROLLER://127.0.0.1:26001",
        "CLIENTS://127.0.0.1:26007,CONTROLLER://127.0.0.1:26008",
        "CLIENTS://127.0.0.1:26009,CONTROLLER://127.0.0.1:26010",
    ]
    assert rendered[2]["advertised.listeners"] == "CLIENTS://127.0.0.1:26009"
    # every node authenticates alike: SASL is one rendering, not a per-node afterthought
    for props in rendered:
        assert props["listener.security.protocol.map"] == (
            "CONTROLLER:SASL_PLAINTEXT,CLIENTS:SASL_PLAINTEXT"
        )
        assert props["super.users"] == "User:admin"
    assert rendered[1]["log.dirs"] == "/d2"
    voters = "1@127.0.0.1:26001,2@127.0.0.1:26008,3@127.0.0.1:26010"
    assert {props["controller.quorum.voters"] for props in rendered} == {voters}
    assert not any("controller.quorum.bootstrap.servers" in props for props in rendered)
    assert ports.bootstrap == "127.0.0.1:26000,127.0.0.1:26007,127.0.0.1:26009"


@pytest.mark.parametrize(
    ("key", "one", "three"),
    [
        ("default.replication.factor", "1", "3"),
        ("offsets.topic.replication.factor", "1", "3"),
        ("transaction.state.log.replication.factor", "1", "3"),
        ("transaction.state.log.min.isr", "1", "2"),
        ("share.coordinator.state.topic.replication.factor", "1", "3"),
        ("min.insync.replicas", "1", "2"),
    ],
)
def test_three_nodes_replicate_every_topic_three_times_and_acknowledge_at_two(
    key: str, one: str, three: str
) -> None:
    single = stack.render_server_properties(Path("/d"), admin_password=ADMIN_SECRET)
    cluster = stack.StackPorts.from_base(26000, brokers=3)

    assert _properties(single)[key] == one
    for node in (1, 2, 3):
        rendered = stack.render_server_properties(
            Path("/d"), cluster, node, admin_password=ADMIN_SECRET
        )
        assert _properties(rendered)[key] == three


def test_further_nodes_take_ports_after_the_services_and_are_recorded() -> None:
    ports = stack.StackPorts.from_base(27000, brokers=3)
    free = stack.StackPorts.free(brokers=3)

    assert ports.all() == tuple(range(27000, 27011))
    assert ports.more_brokers == ((27007, 27008), (27009, 27010))
    assert len(set(free.all())) == 11
    assert stack.StackPorts.from_json(json.loads(json.dumps(ports.to_json()))) == ports
    assert stack.default_ports(3).bootstrap == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    legacy = {
        k: v for k, v in stack.StackPorts.from_base(27000).to_json().items() if k != "brokers"
    }
    assert stack.StackPorts.from_json(legacy) == stack.StackPorts.from_base(27000)


def test_a_stack_has_one_or_three_kafka_nodes_and_keeps_its_number(tmp_path: Path) -> None:
    paths = stack.stack_paths({"BATON_STACK_DIR": str(tmp_path)})

    with pytest.raises(stack.StackError, match="brokers"):
        stack.StackPorts.from_base(28000, brokers=2)
    with pytest.raises(stack.StackError, match="--brokers"):
        stack._record_ports(paths, None, brokers=2)
    assert stack._record_ports(paths, None, brokers=3).brokers == 3
    assert stack._record_ports(paths, None).brokers == 3  # the recorded stack, as it was
    with pytest.raises(stack.StackError, match="--purge"):
        stack._record_ports(paths, None, brokers=1)


def test_status_lists_each_kafka_node(tmp_path: Path) -> None:
    paths = stack.stack_paths({"BATON_STACK_DIR": str(tmp_path)})
    stack._record_ports(paths, stack.StackPorts.from_base(29000, brokers=3))

    st = stack.status(paths)

    assert [b["address"] for b in st["kafka"]["brokers"]] == [
        "127.0.0.1:29000",
        "127.0.0.1:29007",
        "127.0.0.1:29009",
    ]
    assert st["kafka"]["bootstrap"] == "127.0.0.1:29000,127.0.0.1:29007,127.0.0.1:29009"
    assert st["ports"]["brokers"][2] == {"node": 3, "kafka": 29009, "controller": 29010}
    assert not st["kafka"]["running"]


def test_stopping_the_services_leaves_every_kafka_node_alone(tmp_path: Path) -> None:
    paths = stack.StackPaths(tmp_path)
    stack._prepare(paths)
    for name in ("kafka", "kafka-2", "kafka-3", "intake"):
        paths.pidfile(name).write_text("1\nnot-this-process\n")

    assert sorted(p.stem for p in stack._kafka_pidfiles(paths)) == ["kafka", "kafka-2", "kafka-3"]
    stack.stop_services(paths)  # none of them runs: only the services' pid files go

    assert sorted(p.stem for p in paths.run.glob("*.pid")) == ["kafka", "kafka-2", "kafka-3"]


def test_status_says_where_the_credentials_are_and_none_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from baton.cli import app

    monkeypatch.setenv("BATON_STACK_DIR", str(tmp_path))
    paths = stack.stack_paths({"BATON_STACK_DIR": str(tmp_path)})
    stack.ensure_credentials(paths, {})
    creds = credentials.require(tmp_path)
    shown = CliRunner().invoke(app, ["stack", "status"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert str(credentials.credentials_path(tmp_path)) in shown.output
    every = [*creds.sources.values(), *creds.parties.values(), *creds.readers.values()]
    assert not [s for s in every if s in shown.output]


def test_free_ports_on_an_existing_stack_keep_its_own_ports_and_data(tmp_path: Path) -> None:
    """`stack up --free-ports` a second time: the stack restarts on the ports it recorded (its
    Kafka metadata names them) instead of refusing and advising --purge, which deletes data."""
    paths = stack.StackPaths(tmp_path)
    first = stack.StackPorts.free()
    assert stack.wished_ports(paths, free_ports=True) is not None  # a new stack: free ports
    stack._record_ports(paths, first)
    wish = stack.wished_ports(paths, free_ports=True)
    assert stack._record_ports(paths, wish) == first


def test_other_ports_for_an_existing_stack_are_refused_naming_what_purge_costs(
    tmp_path: Path,
) -> None:
    paths = stack.StackPaths(tmp_path)
    stack._record_ports(paths, stack.StackPorts.free())
    with pytest.raises(stack.StackError, match="deletes its data"):
        stack._record_ports(paths, stack.wished_ports(paths, base_port=41000))


def test_a_port_handed_out_is_not_handed_out_again_by_any_process_for_a_while(
    tmp_path: Path,
) -> None:
    """The suite's parallel workers and two stacks draw ports side by side: a port one was
    given is claimed on this machine, so another is not given it while its server starts."""
    claims = tmp_path / "claims"
    assert stack.claim_port(40191, now=1000.0, claims=claims)
    assert not stack.claim_port(40191, now=1000.0 + stack.CLAIM_SECONDS - 1, claims=claims)
    assert stack.claim_port(40192, now=1001.0, claims=claims)  # another port: free to give
    later = 1000.0 + stack.CLAIM_SECONDS + 1
    assert stack.claim_port(40191, now=later, claims=claims)  # an old claim lapses
    assert not stack.claim_port(40191, now=later + 1, claims=claims)  # and is renewed
    ports = stack.free_ports(4)
    assert not any(stack.claim_port(p, now=time.time()) for p in ports)  # claimed for real
