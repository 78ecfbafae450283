"""Deployment files stay consistent with the code: docker-compose.yml, Dockerfile, Prometheus and
Grafana provisioning. No Docker needed; PromQL and Prometheus config are checked with ``promtool``
(Debian/Ubuntu: ``apt-get install -y prometheus``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from baton import compose_secrets
from baton.credentials import Credentials
from shared.contract import load_contract
from shared.doors import open_doors
from shared.settings import ENV_PREFIX, Settings
from shared.topics import TOPIC_SPECS
from tests import dashboards
from tests.tools import tool, topic_creations

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
GRAFANA_DIR = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "baton-overview.json"

# compose service -> (python module run with `python -m`, HTTP port)
BATON_SERVICES: dict[str, tuple[str, int]] = {
    "intake": ("intake", 8080),
    "router": ("router", 8081),
    "sla-clock": ("sla_clock", 8082),
    "reporting": ("reporting", 8083),
}

ADMIN_PORT = 9100  # BATON_ADMIN_HTTP_PORT of every service, inside the compose network only

# Settings whose defaults are wrong inside a container: compose must set them for every service.
REQUIRED_SETTINGS = (
    "kafka_bootstrap",
    "pg_dsn",
    "http_host",
    "http_port",
    "contract_path",
    "topic_prefix",
)

# Every metric the dashboard and the rules may use (the services export these).
KNOWN_METRICS = frozenset(
    {
        "faststream_received_messages_total",
        "faststream_published_messages_total",
        "faststream_received_processed_messages_total",
        "faststream_received_processed_messages_duration_seconds_bucket",
        "baton_alerts_received_total",
        "baton_incidents_opened_total",
        "baton_incidents_open",
        "baton_incidents_closed_total",
        "baton_assignments_total",
        "baton_sla_clocks_started_total",
        "baton_sla_breaches_total",
        "baton_deadletter_total",
        "baton_http_requests_total",
        "baton_sla_remaining_seconds_min",
        "baton_sla_open_clocks",
        "baton_sla_open_clocks_remaining",
        "baton_sla_paused_clocks",
        "baton_sla_paused_seconds_total",
        "baton_sla_fire_lag_seconds_bucket",
        "baton_mtta_seconds",
        "baton_mttr_seconds",
        "baton_consumer_lag",
        "baton_consumer_stalled_seconds",
        "baton_dependency_up",
        "baton_insecure_mode",
        "baton_dependency_check_seconds",
        "baton_ready",
        "baton_deadletter_undelivered_total",
        "baton_checkin_last_success_timestamp_seconds",
        "baton_checkin_next_expected_timestamp_seconds",
        "baton_checkin_deadline_timestamp_seconds",
        "baton_checkin_overdue_seconds",
        "baton_checkin_down",
        "baton_checkin_fired_total",
        "baton_checkin_pings_total",
        "baton_sla_update_timers_total",
        "baton_problems_open",
        "baton_notifications_total",
        "baton_notifications_oldest_unsent_seconds",
        "baton_intake_link_actions_total",
        "baton_intake_link_refusals_total",
    }
)
METRIC_NAME = re.compile(r"\b(?:baton|faststream)_[a-z0-9_]+")

KAFKA_BROKER_SETTINGS = {
    "KAFKA_PROCESS_ROLES": "broker,controller",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
}

_VAR = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)


def interpolate(text: str, env: Mapping[str, str] | None = None) -> str:
    """Compose variable interpolation, as `docker compose` does it with an empty environment."""
    env = env or {}

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        value = env.get(name)
        op, arg = match.group("op"), match.group("arg") or ""
        if op in {":-", "-"}:
            unset = value is None or (op == ":-" and value == "")
            return arg if unset else str(value)
        if op in {":?", "?"} and (value is None or (op == ":?" and value == "")):
            raise KeyError(f"${{{name}}} is required: {arg}")
        return value or ""

    return _VAR.sub(sub, text)


def env_of(service: Mapping[str, Any]) -> dict[str, str]:
    """Its ``environment:`` and, under them, its ``env_file:`` as `baton compose-secrets` makes
    it (rendered from a fresh set of credentials: the files themselves are git-ignored)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    env = {str(k): interpolate(str(v)) for k, v in raw.items() if v is not None}
    files = service.get("env_file") or []
    for name in [files] if isinstance(files, str) else files:
        path = Path(interpolate(name if isinstance(name, str) else name["path"]))
        assert path.parent == Path("deploy/compose/secrets"), f"env_file {path}: not a secret"
        text = SECRETS_FILES[path.name]
        env = dict(line.split("=", 1) for line in text.splitlines() if line) | env
    return env


# What `baton compose-secrets` writes into deploy/compose/secrets/, from fresh credentials.
COMPOSE_CREDS = Credentials().completed(["customer", "hw", "osdb", "apps"])
SECRETS_FILES = compose_secrets.render(COMPOSE_CREDS, "# no ACLs\n") | {
    "grafana_admin_password": "g" * 43
}


def mounts_of(service: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, container path) of each volume, short or long syntax, interpolated."""
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = interpolate(volume).split(":")[:2]
        else:
            source, target = interpolate(str(volume.get("source", ""))), volume["target"]
        yield source, target


def is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def host_path(container_path: str, service: Mapping[str, Any]) -> Path | None:
    """The repo path a container path of ``service`` comes from, through its bind mounts."""
    wanted = PurePosixPath(container_path)
    for source, target in mounts_of(service):
        if not is_bind(source):
            continue
        mount = PurePosixPath(target)
        if wanted == mount or mount in wanted.parents:
            return (REPO / source / wanted.relative_to(mount)).resolve()
    return None


def run_promtool(promtool: str, *args: str | Path, cwd: Path | None = None) -> None:
    result = subprocess.run(
        [promtool, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    )


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found on PATH: it checks PromQL in deploy/. Install it with "
            "`sudo apt-get install -y prometheus` (Debian/Ubuntu) or put the promtool binary "
            "from a Prometheus release on PATH."
        )
    return path


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    assert isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


dashboard_targets = dashboards.panel_targets


# --- compose: the Baton services ---------------------------------------------------------------


def test_compose_has_the_whole_stack(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        "kafka", "kafka-init", "postgres", "prometheus", "grafana", "otel-collector", "jaeger",
        *BATON_SERVICES,
    }  # fmt: skip
    assert expected <= services.keys()
    built = {name for name, svc in services.items() if "build" in svc}
    assert built == set(BATON_SERVICES), "only the four Baton services use the Dockerfile image"


def test_required_settings_exist() -> None:
    missing = set(REQUIRED_SETTINGS) - Settings.model_fields.keys()
    assert not missing, f"REQUIRED_SETTINGS names fields Settings no longer has: {missing}"


@pytest.mark.parametrize("name", BATON_SERVICES)
def test_service_gets_every_setting(name: str, services: dict[str, dict[str, Any]]) -> None:
    module, port = BATON_SERVICES[name]
    service = services[name]
    env = env_of(service)
    baton = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}

    unknown = {k for k in baton if k.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields}
    assert not unknown, f"{name}: BATON_* variables that Settings does not read: {unknown}"
    missing = {f"{ENV_PREFIX}{f.upper()}" for f in REQUIRED_SETTINGS} - baton.keys()
    assert not missing, (
        f"{name}: settings left at defaults that are wrong in a container: {missing}"
    )

    settings = Settings.model_validate(  # JSON values (token tables) as the env source reads them
        {
            k.removeprefix(ENV_PREFIX).lower(): json.loads(v) if v.startswith("{") else v
            for k, v in baton.items()
        }
    )
    assert service["command"] == ["python", "-m", module]
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == port
    assert f"{port}:{port}" in [str(p) for p in service.get("ports", [])]
    # the admin paths on a port of their own that is not published (issue 25)
    assert settings.admin_http_port == ADMIN_PORT
    assert not any(str(ADMIN_PORT) in str(p) for p in service.get("ports", []))
    healthcheck = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck

    kafka_env = env_of(services["kafka"])
    advertised = {urlsplit(u).netloc for u in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    for server in settings.kafka_bootstrap.split(","):
        assert server in advertised, f"{name}: bootstrap {server} is not an advertised listener"
        assert server.split(":")[0] in services

    dsn = urlsplit(settings.pg_dsn.get_secret_value())
    pg_env = env_of(services["postgres"])
    assert dsn.hostname in services
    assert dsn.hostname == "postgres"
    assert dsn.port == 5432
    assert dsn.username == pg_env["POSTGRES_USER"]
    assert "POSTGRES_PASSWORD" not in pg_env, "no password in the compose file"
    secret = pg_env["POSTGRES_PASSWORD_FILE"].removeprefix("/run/secrets/")
    assert secret in services["postgres"]["secrets"]
    secret_file = Path(yaml.safe_load(COMPOSE.read_text())["secrets"][secret]["file"])
    assert secret_file.parent == Path("deploy/compose/secrets")
    assert dsn.password == SECRETS_FILES[secret_file.name]
    assert dsn.path.lstrip("/") == pg_env["POSTGRES_DB"]

    # Kafka: the service's own SCRAM user (the principal router/acl.py grants), no door open
    assert settings.kafka_security_protocol == "SASL_PLAINTEXT"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_username == f"baton-{name}"
    assert open_doors(name, settings) == []  # its tokens come from its env_file too

    contract = host_path(str(settings.contract_path), service)
    assert contract is not None, f"{name}: {settings.contract_path} is not on a mounted volume"
    assert contract.exists(), f"{name}: contract {contract} does not exist"
    load_contract(contract)  # the services' loader takes it as mounted (a file or a folder)

    depends = service["depends_on"]
    assert depends["kafka-init"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"


def test_depends_on_conditions_are_satisfiable(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: use depends_on with conditions"
        for other, spec in depends.items():
            assert other in services, f"{name} depends on unknown service {other}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[other], f"{other} has no healthcheck"


# --- compose: Kafka and its topics ------------------------------------------------------------


def test_kafka_broker_settings(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = env_of(kafka)
    for key, value in KAFKA_BROKER_SETTINGS.items():
        assert env.get(key) == value, f"kafka: {key} should be {value}, is {env.get(key)}"
    assert "healthcheck" in kafka


def test_kafka_init_creates_exactly_the_topic_specs(services: dict[str, dict[str, Any]]) -> None:
    init = services["kafka-init"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    prefixes = {env_of(services[name])[f"{ENV_PREFIX}TOPIC_PREFIX"] for name in BATON_SERVICES}
    assert len(prefixes) == 1, f"services disagree on the topic prefix: {prefixes}"
    prefix = prefixes.pop()

    command = init["command"]
    script = "\n".join(command) if isinstance(command, list) else command
    created: dict[str, tuple[int, dict[str, str]]] = {}
    for argv, opts in topic_creations(script):
        if not argv[0].endswith("kafka-topics.sh"):
            continue
        assert opts["--bootstrap-server"] == ["kafka:9092"]
        assert opts["--replication-factor"] == ["1"]
        (topic,) = opts["--topic"]
        assert topic not in created, f"topic {topic} created twice"
        configs = dict(c.split("=", 1) for c in opts.get("--config", []))
        created[topic] = (int(opts["--partitions"][0]), configs)

    expected = {
        f"{prefix}{spec.topic.value}": (
            spec.partitions,
            {"cleanup.policy": "compact"} if spec.compacted else {},
        )
        for spec in TOPIC_SPECS
    }
    assert created == expected


# --- compose: files, volumes, image ---------------------------------------------------------------


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for source, target in mounts_of(service):
            if is_bind(source) and Path(source).parent == Path("deploy/compose/secrets"):
                assert Path(source).name in SECRETS_FILES, f"{name}: {source} is not generated"
            elif is_bind(source):
                assert (REPO / source).exists(), f"{name}: {source} (-> {target}) is missing"
            else:
                assert source in declared, f"{name}: named volume {source} is not declared"


def test_dockerfile_copies_existing_paths() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert re.search(r"^USER (?!root)\S+", text, re.MULTILINE), "the image must not run as root"
    for line in text.splitlines():
        argv = line.split()
        if argv[:1] == ["COPY"] and not any(a.startswith("--from") for a in argv):
            for source in argv[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    packages = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    installed = set(packages["tool"]["setuptools"]["packages"])
    assert {module for module, _ in BATON_SERVICES.values()} <= installed


def test_image_install_ships_every_module_and_data_file() -> None:
    """The Dockerfile runs a plain `pip install .`, which ships only the listed packages (not
    their subpackages) and, besides .py files, only package-data: nothing the services import or
    read at run time (subpackages, migrations) may fall outside them."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    package_dirs = setuptools.get("package-dir", {})
    package_data = setuptools.get("package-data", {})
    listed = set(setuptools["packages"])
    missing = []
    for package in setuptools["packages"]:
        root = REPO / package_dirs.get(package, package)
        globs = [*package_data.get(package, []), *package_data.get("*", [])]
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts or not path.is_file():
                continue
            if path.name == "__init__.py" and relative.parent.parts:
                subpackage = ".".join((package, *relative.parent.parts))
                if subpackage not in listed:
                    missing.append(f"package {subpackage}")
            elif path.suffix not in {".py", ".pyc"} and not any(
                fnmatch.fnmatch(relative.as_posix(), g) for g in globs
            ):
                missing.append(f"{package}: {relative.as_posix()}")
    assert not missing, (
        "`pip install .` would leave these out of the image (list them in "
        "[tool.setuptools] packages / package-data): " + ", ".join(missing)
    )


# --- Prometheus ---------------------------------------------------------------------------------


@pytest.mark.tools
def test_prometheus_config_is_valid(promtool: str) -> None:
    run_promtool(promtool, "check", "config", PROMETHEUS_DIR / "prometheus.yml")


@pytest.mark.tools
def test_alert_rules_pass_their_unit_tests(promtool: str) -> None:
    run_promtool(promtool, "test", "rules", "rules.test.yml", cwd=PROMETHEUS_DIR)


def test_prometheus_scrapes_every_service(services: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "baton"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:{ADMIN_PORT}" for name in BATON_SERVICES}

    prometheus = services["prometheus"]
    config_arg = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = PurePosixPath(config_arg.split("=", 1)[1])
    assert host_path(str(config_path), prometheus) == (PROMETHEUS_DIR / "prometheus.yml")
    for rule_file in config["rule_files"]:
        in_container = str(config_path.parent / rule_file)
        assert host_path(in_container, prometheus) == (PROMETHEUS_DIR / rule_file).resolve()


def test_required_alerts_exist() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8"))
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert re.search(r"\bup\{[^}]*\}\s*==\s*0", alerts["BatonServiceDown"])
    assert "rate(baton_deadletter_total[5m])" in alerts["BatonDeadLetters"]
    assert "increase(baton_sla_breaches_total[15m])" in alerts["BatonSlaBreach"]
    assert "baton_consumer_lag" in alerts["BatonConsumerLagGrowing"]
    assert "baton_consumer_stalled_seconds" in alerts["BatonConsumerStalled"]
    assert "baton_dependency_up" in alerts["BatonDependencyDown"]
    for name, expr in alerts.items():
        unknown = set(METRIC_NAME.findall(expr)) - KNOWN_METRICS
        assert not unknown, f"alert {name} uses unknown metrics {unknown}"


# --- traces: services -> OpenTelemetry Collector -> Jaeger ----------------------------------


def test_services_send_traces_to_the_collector_over_otlp(
    services: dict[str, dict[str, Any]],
) -> None:
    collector = services["otel-collector"]
    config_arg = next(a for a in collector["command"] if a.startswith("--config="))
    config_file = host_path(config_arg.split("=", 1)[1], collector)
    assert config_file is not None
    assert config_file.is_file()
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    http_receiver = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    receiver_port = int(http_receiver.rsplit(":", 1)[1])

    for name in BATON_SERVICES:
        env = env_of(services[name])
        assert env["OTEL_TRACES_EXPORTER"] == "otlp"
        assert Settings.model_validate({"otel_exporter": env["OTEL_TRACES_EXPORTER"]})
        endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert endpoint.hostname == "otel-collector"
        assert endpoint.port == receiver_port

    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    (exporter,) = pipeline["exporters"]
    assert exporter.startswith("otlp")
    host, port = config["exporters"][exporter]["endpoint"].rsplit(":", 1)
    assert host == "jaeger"
    assert host in services
    assert port == "4317", "Jaeger takes OTLP/gRPC on 4317"
    for processor in pipeline.get("processors", []):
        assert processor in config["processors"]


# --- Grafana ------------------------------------------------------------------------------------


def test_grafana_provisioning(
    services: dict[str, dict[str, Any]], dashboard: dict[str, Any]
) -> None:
    grafana = services["grafana"]
    provisioning = GRAFANA_DIR / "provisioning"
    assert host_path("/etc/grafana/provisioning", grafana) == provisioning.resolve()

    (datasources,) = (provisioning / "datasources").glob("*.yml")
    sources = yaml.safe_load(datasources.read_text(encoding="utf-8"))["datasources"]
    prometheus = next(s for s in sources if s["type"] == "prometheus")
    assert urlsplit(prometheus["url"]).hostname in services

    (providers_file,) = (provisioning / "dashboards").glob("*.yml")
    providers = yaml.safe_load(providers_file.read_text(encoding="utf-8"))["providers"]
    dashboard_dirs = {host_path(p["options"]["path"], grafana) for p in providers}
    assert DASHBOARD.parent.resolve() in dashboard_dirs

    home = env_of(grafana).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert host_path(home, grafana) == DASHBOARD.resolve()

    jaeger = next(s for s in sources if s["type"] == "jaeger")
    assert urlsplit(jaeger["url"]).hostname == "jaeger"
    assert urlsplit(jaeger["url"]).port == 16686

    uids = {
        t.get("datasource", p.get("datasource", {})).get("uid")
        for p, t in dashboard_targets(dashboard)
    }
    assert uids == {prometheus["uid"]}


def test_every_dashboard_panel_has_promql(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        targets = panel.get("targets") or []
        assert targets, f"panel {panel['title']!r} has no query"
        for target in targets:
            assert target.get("expr", "").strip(), f"panel {panel['title']!r} has an empty expr"

    exprs = [t["expr"] for _, t in dashboard_targets(dashboard)]
    used = {m for e in exprs for m in METRIC_NAME.findall(e)}
    assert not used - KNOWN_METRICS, f"dashboard uses unknown metrics {used - KNOWN_METRICS}"
    unused = KNOWN_METRICS - used
    assert not unused, f"dashboard shows nothing of {unused}"


@pytest.mark.tools
def test_dashboard_promql_parses(promtool: str, dashboard: dict[str, Any], tmp_path: Path) -> None:
    rules = [
        {"record": f"baton:dashboard:panel{panel['id']}_{target['refId']}", "expr": target["expr"]}
        for panel, target in dashboard_targets(dashboard)
    ]
    rules_file = tmp_path / "dashboard-rules.yml"
    rules_file.write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8"
    )
    run_promtool(promtool, "check", "rules", rules_file)


# --- compose: secrets -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_compose() -> str:
    return tool("docker-compose")


def test_compose_file_holds_no_password() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assigned = re.findall(r"^\s*([A-Z_]*(?:PASSWORD|SECRET|TOKEN)[A-Z_]*)\s*:", text, re.M)
    assert all(name.endswith("_FILE") for name in assigned), f"set in the file: {assigned}"
    assert ":-baton}" not in text, "a default password"
    assert ":-admin}" not in text, "a default password"


@pytest.mark.tools
def test_compose_config_is_valid_with_the_generated_secrets(
    docker_compose: str, tmp_path: Path
) -> None:
    """`docker-compose config` on the file with what `baton compose-secrets` generates beside
    it (a copy: the real secrets folder is the operator's)."""
    (tmp_path / "docker-compose.yml").write_bytes(COMPOSE.read_bytes())
    written = compose_secrets.generate(
        tmp_path / "deploy" / "compose" / "secrets", REPO / "examples" / "minimal"
    )
    assert all(p.stat().st_mode & 0o077 == 0 for p in written), "secrets must be owner-only"
    checked = subprocess.run(
        [docker_compose, "-f", str(tmp_path / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    resolved = subprocess.run(
        [docker_compose, "-f", str(tmp_path / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=True, cwd=tmp_path,
    )  # fmt: skip
    config = json.loads(resolved.stdout)
    creds = json.loads(
        (tmp_path / "deploy" / "compose" / "secrets" / "credentials.json").read_text()
    )
    intake = config["services"]["intake"]["environment"]
    assert intake["BATON_KAFKA_SASL_PASSWORD"] == creds["kafka"]["intake"]
    assert creds["postgres_password"] in intake["BATON_PG_DSN"]
    kafka = config["services"]["kafka"]["environment"]
    assert creds["kafka"]["admin"] in kafka["KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG"]
    users = (tmp_path / "deploy" / "compose" / "secrets" / "kafka-users.sh").read_text()
    for user in ("admin", "baton-intake", "baton-router", "hw", "customer"):
        assert f"--entity-name {user} " in users


@pytest.mark.tools
def test_compose_runs_a_folder_contract_as_mounted(docker_compose: str, tmp_path: Path) -> None:
    """A contract written as a folder (the example) runs under compose: every Baton service's
    ``BATON_CONTRACT_PATH``, followed through its bind mount, is the folder given in
    ``BATON_CONTRACT_DIR``, and the contract loader loads it from the mounted layout."""
    example = REPO / "examples" / "contract"
    (tmp_path / "docker-compose.yml").write_bytes(COMPOSE.read_bytes())
    compose_secrets.generate(tmp_path / "deploy" / "compose" / "secrets", example)
    resolved = subprocess.run(
        [docker_compose, "-f", str(tmp_path / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=True, cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "BATON_CONTRACT_DIR": str(example)},
    )  # fmt: skip
    config = json.loads(resolved.stdout)
    container = tmp_path / "container"  # the files as the service sees them
    for name in BATON_SERVICES:
        service = config["services"][name]
        inside = PurePosixPath(service["environment"]["BATON_CONTRACT_PATH"])
        (mount,) = [
            v for v in service["volumes"] if inside.is_relative_to(PurePosixPath(v["target"]))
        ]
        assert mount["type"] == "bind", mount
        assert mount.get("read_only"), f"{name}: the contract is mounted writable"
        host = Path(mount["source"]) / inside.relative_to(mount["target"])
        assert host.resolve() == example.resolve(), f"{name}: {inside} is {host}, not the folder"
        seen = container / name / str(inside.relative_to("/"))
        shutil.copytree(Path(mount["source"]), container / name / mount["target"].lstrip("/"))
        assert load_contract(seen).id == load_contract(example).id == "steppe-trade-247"


@pytest.mark.tools
@pytest.mark.parametrize("state", ["idle", "after one alert"])
def test_no_panel_reads_no_data_on_a_healthy_secure_stack(
    promtool: str, state: str, tmp_path: Path
) -> None:
    """Every dashboard query returns a series over the recorded metrics of a healthy secure
    stack (tests/fixtures/metrics/healthy-secure, recorded by
    tests/integration/test_dashboards.py), evaluated by promtool."""
    recording = dashboards.states(dashboards.recorded())[state]
    assert set(recording) == set(BATON_SERVICES)
    report = dashboards.empty_panels(recording, tmp_path)
    assert not report, f"panels that read 'No data' ({state}):\n{report}"
