"""A real Prometheus and Alertmanager (Debian packages) fire rules at intake.

Prometheus evaluates rules that hold at once (``vector(1)`` with the labels real exporters put
on their alerts: node_exporter's ``instance: host:9100``, postgres_exporter's ``:9187``),
Alertmanager groups them for a second and posts its webhook, with a bearer token, to intake's
``/v1/alerts/alertmanager``; intake opens one incident per alert on the objects the example
contract names — the database alert on the DBMS, not on the hardware it runs on. Everything
listens on free loopback ports; the binaries missing is a failure (``make tools`` installs them).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from baton.stack import free_ports
from shared.events import Envelope, IncidentOpenedV1
from tests.integration.conftest import Isolated, ServiceProcs, stop_services
from tests.integration.helpers import collect_until
from tests.integration.test_intake import start_intake

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contract"
TOKEN = "am-test-token-0123456789"
RULES = [
    # alertname, labels, the object the example contract must land it on (None = outside)
    ("PostgresqlDown", {"instance": "srv-pg-01:9187", "job": "postgres"}, "pg-acc"),
    ("NodeFilesystemReadonly", {"instance": "srv-pg-01:9100", "job": "node"}, "os-pg-01"),
    ("RaidDiskFailed", {"instance": "srv-pg-01.steppe.local:9100"}, "srv-pg-01"),
    ("PrinterOffline", {"instance": "prn-branch-7:9100"}, None),
]


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(f"{' or '.join(names)} not installed: run `make tools`")


@contextmanager
def _running(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_prometheus_rules_reach_intake_through_alertmanager(
    isolated: Isolated, tmp_path: Path
) -> None:
    prometheus = _binary("prometheus")
    alertmanager = _binary("prometheus-alertmanager", "alertmanager")
    prom_port, am_port = free_ports(2)
    rules = {
        "groups": [
            {
                "name": "baton-test",
                "interval": "1s",
                "rules": [
                    {
                        "alert": name,
                        "expr": "vector(1)",
                        "labels": labels | {"severity": "critical"},
                        "annotations": {"summary": f"{name} on {labels['instance']}"},
                    }
                    for name, labels, _ in RULES
                ],
            }
        ]
    }
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"evaluation_interval": "1s"},
                "rule_files": [str(tmp_path / "rules.yml")],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
                },
            }
        ),
        encoding="utf-8",
    )
    prom_args = [
        prometheus,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        # Alerts evaluated before the notifier has found Alertmanager are sent again only after
        # this delay (1 minute by default).
        "--rules.alert.resend-delay=1s",
    ]
    want = {obj for _, _, obj in RULES}
    # Prometheus first: its notifier learns Alertmanager's address only at its discovery
    # manager's first update, 5 s after it starts; intake and Alertmanager start meanwhile.
    with _running(prom_args, tmp_path / "prometheus.log"):
        sp = await start_intake(
            isolated,
            tmp_path,
            EXAMPLE,
            BATON_INTAKE_CORRELATION_WINDOW_SECONDS="0",
            BATON_INTAKE_SOURCE_TOKENS=f'{{"alertmanager": "{TOKEN}"}}',
        )
        try:
            events = await through_alertmanager(sp, alertmanager, am_port, want, isolated, tmp_path)
        finally:
            stop_services(sp)
    opened = [e.data for e in events if isinstance(e.data, IncidentOpenedV1)]
    by_object = {o.object_id: o for o in opened}
    assert set(by_object) == want
    assert by_object[None].outside_perimeter
    assert by_object["pg-acc"].layer is not None
    assert by_object["pg-acc"].layer.value == "dbms"
    assert "PostgresqlDown" in by_object["pg-acc"].summary
    # one incident per alert: Alertmanager's repeats and Prometheus's re-sends open nothing more
    assert len(opened) == len(RULES), [(o.object_id, o.summary) for o in opened]


async def through_alertmanager(
    sp: ServiceProcs,
    alertmanager: str,
    am_port: int,
    want: set[str | None],
    isolated: Isolated,
    tmp_path: Path,
) -> list[Envelope]:
    """Alertmanager, posting to intake, until intake has opened an incident on each of ``want``."""
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "baton",
                    "group_by": ["alertname", "instance"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "baton",
                        "webhook_configs": [
                            {
                                "url": f"{sp.urls['intake']}/v1/alerts/alertmanager",
                                "http_config": {"authorization": {"credentials": TOKEN}},
                            }
                        ],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    am_args = [
        alertmanager,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ]

    def opened_all(events: list[Envelope]) -> bool:
        seen = {e.data.object_id for e in events if isinstance(e.data, IncidentOpenedV1)}
        return want <= seen

    with _running(am_args, tmp_path / "alertmanager.log"):
        try:
            return await collect_until(
                isolated.infra.bootstrap, f"{isolated.prefix}incidents", opened_all, timeout=45
            )
        except BaseException:
            for log in ("alertmanager.log", "prometheus.log"):
                print((tmp_path / log).read_text(encoding="utf-8")[-3000:])
            print(sp.log_tail("intake"))
            raise
