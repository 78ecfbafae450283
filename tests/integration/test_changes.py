"""Changes beside incidents on the real broker and database (issue 27 item 2, ADR 46).

A contract publication five minutes before the alert shows as a change on every object.
The example contract: the accounting database pg-acc runs on os-pg-01 on the server srv-pg-01.
A PagerDuty change event on srv-pg-01 at 01:40 and a deployment a CI/CD tool posts on os-pg-01
at 01:50 go through intake to the changes topic; a PostgreSQL alert at 02:05 opens an incident on
pg-acc. Reporting's incident view and its closure report show both changes, nearest first, and
not a change on an object pg-acc does not depend on.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from baton.cli import app
from shared.contract import load_contract
from shared.contract_feed import publish_contract
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import alertmanager_payload
from tests.integration.test_sla_clock import with_env

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contract"


def night() -> datetime:
    """Yesterday 02:05 UTC: the first alert (in the past, whenever the test runs)."""
    today = datetime.now(UTC).replace(hour=2, minute=5, second=0, microsecond=0)
    return today - timedelta(days=1)


async def test_a_change_on_the_server_shows_on_the_database_incident_and_its_report(
    isolated: Isolated, tmp_path: Path
) -> None:
    isolated = with_env(isolated, BATON_CONTRACT_PATH=str(EXAMPLE))
    alert_at = night()
    sp = start_services(isolated, tmp_path, ["intake", "reporting"])
    try:
        await wait_healthy(sp)
        intake, reporting = sp.urls["intake"], sp.urls["reporting"]
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            pd = {
                "routing_key": isolated.credentials().sources["pagerduty"],
                "payload": {
                    "summary": "BIOS and firmware update on srv-pg-01",
                    "timestamp": (alert_at - timedelta(minutes=25)).isoformat(),
                    "source": "srv-pg-01",
                },
                "links": [{"href": "https://changes.example/CHG-1", "text": "CHG-1"}],
            }
            answer = await client.post(f"{intake}/v2/change/enqueue", json=pd)
            assert answer.status_code == 202, answer.text
            deploy = {
                "object": "os-pg-01",
                "at": (alert_at - timedelta(minutes=15)).isoformat(),
                "summary": "kernel parameters changed by pipeline #812",
                "link": "https://ci.example/812",
                "by": "ci",
            }
            answer = await client.post(f"{intake}/v1/changes", json=deploy)
            assert answer.status_code == 202, answer.text
            # a contract publication is a change on every object
            await publish_contract(
                isolated.settings(), load_contract(EXAMPLE), now=alert_at - timedelta(minutes=5)
            )
            unrelated = {**deploy, "object": "app-wms", "summary": "WMS release 5.2"}
            assert (await client.post(f"{intake}/v1/changes", json=unrelated)).status_code == 202
            # refusals name the field; without the source's token nothing is taken
            ghost = await client.post(f"{intake}/v1/changes", json={**deploy, "object": "ghost"})
            assert ghost.status_code == 422
            assert "object" in ghost.text
            anonymous = await httpx.AsyncClient().post(f"{intake}/v1/changes", json=deploy)
            assert anonymous.status_code == 401

            body = alertmanager_payload(
                alert_at,
                labels={
                    "alertname": "PostgresDown",
                    "instance": "srv-pg-01:5432",
                    "job": "postgres",
                    "severity": "critical",
                },
                fingerprint=uuid.uuid4().hex,
                age=timedelta(0),
            )
            answer = await client.post(f"{intake}/v1/alerts/alertmanager", json=body)
            assert answer.status_code == 202, answer.text

            view = await incident_with_changes(client, reporting, 3)
            incident = view["incident"]["id"]
            report = await client.get(f"{reporting}/v1/incidents/{incident}/report.json")
            listed = await client.get(f"{reporting}/v1/changes", params={"object": "srv-pg-01"})
            since = (alert_at - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S")
            cli = CliRunner().invoke(
                app,
                [
                    "changes",
                    "list",
                    "--object",
                    "os-pg-01",
                    "--since",
                    since,
                    "--url",
                    reporting,
                    "--json",
                ],
                env={"BATON_READER_TOKEN": isolated.credentials().readers["operator"]},
            )
    finally:
        stop_services(sp)
    assert view["incident"]["object_id"] == "pg-acc"
    published = load_contract(EXAMPLE)
    assert [(c["object_id"], c["summary"], c["before_seconds"]) for c in view["changes"]] == [
        (
            None,
            f"contract {published.id} version {published.version} published"
            f" ({published.content_hash[:12]})",
            300.0,
        ),
        ("os-pg-01", "kernel parameters changed by pipeline #812", 900.0),
        ("srv-pg-01", "BIOS and firmware update on srv-pg-01", 1500.0),
    ]
    assert view["changes"][2]["link"] == "https://changes.example/CHG-1"
    assert report.status_code == 200
    assert "BIOS and firmware update on srv-pg-01" in report.text
    assert "kernel parameters changed by pipeline #812" in report.text
    assert "WMS release" not in report.text
    assert [c["summary"] for c in listed.json()][1:] == ["BIOS and firmware update on srv-pg-01"]
    assert cli.exit_code == 0, cli.output
    assert [c["summary"] for c in json.loads(cli.output)] == [
        f"contract {published.id} version {published.version} published"
        f" ({published.content_hash[:12]})",
        "kernel parameters changed by pipeline #812",
    ]


async def incident_with_changes(
    client: httpx.AsyncClient, reporting: str, count: int
) -> dict[str, Any]:
    """The one incident's view once reporting shows ``count`` changes beside it."""
    view: dict[str, Any] = {}
    async with asyncio.timeout(60):
        while True:
            rows = (await client.get(f"{reporting}/v1/incidents")).json()
            if rows:
                view = (await client.get(f"{reporting}/v1/incidents/{rows[0]['id']}")).json()
                if len(view.get("changes", [])) >= count:
                    return view
            await asyncio.sleep(0.3)
