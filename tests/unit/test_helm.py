"""The Helm chart (deploy/helm/baton) renders with `helm template` and every object validates
against the Kubernetes schemas (kubernetes-validate, strict), for one and for three replicas.

helm is a tool of the suite like promtool: `make tools` builds it from its Go module where it is
missing. A missing helm fails these tests; it never skips them.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.doors import open_doors
from shared.settings import ENV_PREFIX, Settings
from shared.topics import TOPIC_SPECS
from tests.tools import tool, topic_creations

pytestmark = pytest.mark.tools  # every test here runs helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "baton"
KUBERNETES_VERSIONS = ("1.30.0", "1.34.0")  # an older and a recent cluster
SERVICES = {"intake": 8080, "router": 8081, "sla-clock": 8082, "reporting": 8083}
OPTIONS = {  # the optional branches: inline contract, SASL, OTLP, extra settings
    "contract.inline": "id: example\n",
    "kafka.securityProtocol": "SASL_SSL",
    "kafka.saslUsername": "baton",
    "kafka.saslPassword": "s3cret",
    "otlpEndpoint": "http://otel-collector:4318",
    "extraEnv.BATON_SLA_TICK_SECONDS": "2",
}
# secure by default: without these (or insecure=true, or existingSecret) the chart does not render
CREDENTIALS = {
    "credentials.sourceTokens.alertmanager": "source-token",
    "credentials.partyTokens.customer": "party-token",
    "credentials.readerTokens.operator": "reader-token",
    "credentials.checkinSecret": "checkin-secret",
    "kafka.saslUsername": "baton",
    "kafka.saslPassword": "kafka-password",
    "postgres.dsn": "postgresql://baton:pg-password@postgres:5432/baton",
}


@pytest.fixture(scope="module")
def helm() -> str:
    return tool("helm")


def helm_template(
    helm: str, replicas: int, options: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    argv = [helm, "template", "baton", str(CHART), "--set", f"replicas={replicas}"]
    for key, value in options.items():
        argv += ["--set-string", f"{key}={value}"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def render(helm: str, replicas: int, options: dict[str, str] | None = None) -> list[dict[str, Any]]:
    result = helm_template(helm, replicas, {**CREDENTIALS, **(options or {})})
    assert result.returncode == 0, f"{shlex.join(result.args)} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module", params=[1, 3], ids=lambda n: f"{n}-replicas")
def rendered(request: pytest.FixtureRequest, helm: str) -> tuple[int, list[dict[str, Any]]]:
    replicas: int = request.param
    return replicas, render(helm, replicas, OPTIONS if replicas == 3 else None)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_kubernetes(
    rendered: tuple[int, list[dict[str, Any]]], version: str
) -> None:
    _, docs = rendered
    assert Counter(d["kind"] for d in docs) >= Counter(
        Deployment=4, Service=4, PodDisruptionBudget=4, ConfigMap=1, Secret=1, Job=1
    )
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc.message} at {exc.path}")


def test_each_service_is_a_deployment_with_probes_pdb_and_settings(
    rendered: tuple[int, list[dict[str, Any]]],
) -> None:
    replicas, docs = rendered
    deployments = by_kind(docs, "Deployment")
    pdbs = by_kind(docs, "PodDisruptionBudget")
    services = by_kind(docs, "Service")
    config_maps, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")
    assert set(deployments) == {f"baton-{name}" for name in SERVICES}

    for name, port in SERVICES.items():
        deployment = deployments[f"baton-{name}"]
        assert deployment["spec"]["replicas"] == replicas
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (container,) = pod["spec"]["containers"]
        assert container["command"][:2] == ["python", "-m"]
        assert {"name": "BATON_HTTP_PORT", "value": str(port)} in container["env"]
        assert container["ports"][0]["containerPort"] == port
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/livez")):
            assert container[probe]["httpGet"] == {"path": path, "port": "http"}, name
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        refs = container["envFrom"]
        assert refs[0]["configMapRef"]["name"] in config_maps
        assert refs[1]["secretRef"]["name"] in secrets

        pdb = pdbs[f"baton-{name}"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert pdb["spec"]["maxUnavailable"] == 1, "a PDB that never blocks a drain entirely"
        assert services[f"baton-{name}"]["spec"]["selector"].items() <= labels.items()


def test_settings_are_ones_the_services_read(rendered: tuple[int, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    settings = by_kind(docs, "ConfigMap")["baton-settings"]["data"]
    (secret,) = by_kind(docs, "Secret").values()
    baton = {
        k.removeprefix(ENV_PREFIX).lower(): json.loads(v) if v.startswith("{") else v
        for k, v in {**settings, **secret["stringData"]}.items()
        if k.startswith(ENV_PREFIX)
    }
    unknown = set(baton) - Settings.model_fields.keys()
    assert not unknown, f"the chart sets BATON_* variables no setting reads: {unknown}"
    parsed = Settings.model_validate(baton)
    assert parsed.http_host == "0.0.0.0"
    assert parsed.kafka_bootstrap == "kafka:9092"
    assert "BATON_PG_DSN" not in settings, "the DSN holds a password: Secret only"
    assert "BATON_KAFKA_SASL_PASSWORD" not in settings
    assert not {k for k in settings if "TOKENS" in k or "SECRETS" in k}, "Secret only"
    assert open_doors("intake", parsed) == []
    assert open_doors("reporting", parsed) == []
    assert open_doors("sla-clock", parsed) == []
    assert parsed.reporting_reader_tokens["operator"][0].get_secret_value() == "reader-token"
    assert not parsed.insecure


def test_without_credentials_the_chart_does_not_render(helm: str) -> None:
    bare = helm_template(helm, 1, {})
    assert bare.returncode != 0
    assert "credentials.sourceTokens or credentials.hmacSecrets is required" in bare.stderr
    no_readers = helm_template(helm, 1, {k: v for k, v in CREDENTIALS.items() if "reader" not in k})
    assert "credentials.readerTokens is required" in no_readers.stderr
    no_checkins = helm_template(helm, 1, {**CREDENTIALS, "credentials.checkinSecret": ""})
    assert "credentials.checkinSecret is required" in no_checkins.stderr
    no_kafka_user = helm_template(helm, 1, {**CREDENTIALS, "kafka.saslPassword": ""})
    assert "kafka.saslUsername and kafka.saslPassword are required" in no_kafka_user.stderr
    plaintext = helm_template(helm, 1, {**CREDENTIALS, "kafka.securityProtocol": "PLAINTEXT"})
    assert "kafka.securityProtocol must be SASL_PLAINTEXT or SASL_SSL" in plaintext.stderr
    no_dsn = helm_template(helm, 1, {**CREDENTIALS, "postgres.dsn": ""})
    assert "postgres.dsn is required" in no_dsn.stderr


def test_insecure_renders_without_credentials_and_says_so(helm: str) -> None:
    result = helm_template(
        helm, 1, {"insecure": "true", "postgres.dsn": "postgresql://baton@postgres:5432/baton"}
    )
    assert result.returncode == 0, result.stderr
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert by_kind(docs, "ConfigMap")["baton-settings"]["data"]["BATON_INSECURE"] == "1"


def test_metrics_and_docs_on_the_admin_port(rendered: tuple[int, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    settings = by_kind(docs, "ConfigMap")["baton-settings"]["data"]
    assert settings["BATON_ADMIN_HTTP_PORT"] == "9100"
    assert settings["BATON_ADMIN_HTTP_HOST"] == "0.0.0.0"
    for name, port in SERVICES.items():
        pod = by_kind(docs, "Deployment")[f"baton-{name}"]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert {"name": "admin", "containerPort": 9100, "protocol": "TCP"} in container["ports"]
        notes = pod["metadata"]["annotations"]
        assert notes["prometheus.io/port"] == "9100"
        assert notes["prometheus.io/path"] == "/metrics"
        service_ports = by_kind(docs, "Service")[f"baton-{name}"]["spec"]["ports"]
        assert [p["port"] for p in service_ports] == [port], "metrics not exposed"


def test_the_optional_branches_wire_through(helm: str) -> None:
    docs = render(helm, 3, OPTIONS)
    settings = by_kind(docs, "ConfigMap")["baton-settings"]["data"]
    contract = by_kind(docs, "ConfigMap")["baton-contract"]["data"]["contract.yaml"]
    (secret,) = by_kind(docs, "Secret").values()

    assert contract == OPTIONS["contract.inline"]
    assert settings["BATON_CONTRACT_PATH"] == "/etc/baton/contract/contract.yaml"
    assert settings["OTEL_TRACES_EXPORTER"] == "otlp"
    assert settings["OTEL_EXPORTER_OTLP_ENDPOINT"] == OPTIONS["otlpEndpoint"]
    assert settings["BATON_SLA_TICK_SECONDS"] == "2"
    assert secret["stringData"]["BATON_KAFKA_SASL_PASSWORD"] == "s3cret"
    pod = by_kind(docs, "Deployment")["baton-router"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["contract"]["configMap"]["name"] == "baton-contract"


def test_channel_senders_and_the_links_secret_go_to_the_secret(helm: str) -> None:
    relay = "mailtos://user:relay-password@smtp.example.org:587?to={address}"
    docs = render(
        helm,
        1,
        {
            "notifications.senders.email": relay,
            "notifications.linksSecret": "links-secret",
            "notifications.linksBaseUrl": "https://baton.example.org",
        },
    )
    settings = by_kind(docs, "ConfigMap")["baton-settings"]["data"]
    (secret,) = by_kind(docs, "Secret").values()
    assert json.loads(secret["stringData"]["BATON_NOTIFY_SENDERS"]) == {"email": relay}
    assert secret["stringData"]["BATON_LINKS_SECRET"] == "links-secret"
    assert settings["BATON_LINKS_BASE_URL"] == "https://baton.example.org"
    assert "relay-password" not in json.dumps(settings)
    assert "links-secret" not in json.dumps(settings)


def test_an_existing_secret_replaces_the_charts_own(helm: str) -> None:
    docs = render(helm, 1, {"existingSecret": "ops-managed"})
    assert not by_kind(docs, "Secret")
    container = by_kind(docs, "Deployment")["baton-intake"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["envFrom"][1]["secretRef"]["name"] == "ops-managed"


def test_the_job_creates_exactly_the_topic_specs(
    rendered: tuple[int, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    (job,) = by_kind(docs, "Job").values()
    assert "pre-install" in job["metadata"]["annotations"]["helm.sh/hook"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    created: dict[str, tuple[int, dict[str, str]]] = {}
    for argv, opts in topic_creations(container["args"][0]):
        assert opts["--bootstrap-server"] == ["kafka:9092"]
        assert "--if-not-exists" in argv
        (topic,) = opts["--topic"]
        configs = dict(c.split("=", 1) for c in opts.get("--config", []))
        created[topic] = (int(opts["--partitions"][0]), configs)

    assert created == {
        f"baton.{spec.topic.value}": (
            spec.partitions,
            {"cleanup.policy": "compact"} if spec.compacted else {},
        )
        for spec in TOPIC_SPECS
    }


def documented_commands() -> list[list[str]]:
    """The ``helm template`` commands in values.yaml's header, with each ``<...>`` filled."""
    header = itertools.takewhile(
        lambda line: line.startswith("#"), (CHART / "values.yaml").read_text().splitlines()
    )
    text = "\n".join(line.removeprefix("#").strip() for line in header)
    commands = text.replace("\\\n", " ").splitlines()
    found = [
        shlex.split(re.sub(r"<([^>]+)>", r"example-\1", c))
        for c in commands
        if c.startswith("helm template")
    ]
    assert len(found) == 2, text
    return found


@pytest.mark.parametrize("index", [0, 1], ids=["chart-secret", "existing-secret"])
def test_the_commands_in_values_header_render(helm: str, index: int) -> None:
    argv = documented_commands()[index]
    chart = argv.index("deploy/helm/baton")
    argv[0], argv[chart] = helm, str(CHART)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{shlex.join(argv)} failed:\n{result.stderr}"
    kinds = Counter(doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc)
    assert kinds["Deployment"] == len(SERVICES), kinds
