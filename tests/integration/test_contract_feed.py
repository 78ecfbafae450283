"""The published contract drives the services, and a new version applies without a restart."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from shared.contract import load_contract
from shared.contract_feed import publish_contract
from shared.events import AssignmentIssuedV3, SlaClockPausedV1, SlaClockStartedV1
from tests.integration.conftest import (
    Isolated,
    start_services,
    stop_services,
    wait_healthy,
)
from tests.integration.helpers import alertmanager_payload, collect, collect_until

MINIMAL = Path(__file__).resolve().parents[2] / "examples" / "minimal" / "contract.yaml"


def variant(tmp: Path, name: str, change: Any) -> Path:
    doc = yaml.safe_load(MINIMAL.read_text())
    change(doc)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


async def contract_version(client: httpx.AsyncClient, url: str) -> str | None:
    for line in (await client.get(f"{url}/metrics")).text.splitlines():
        if line.startswith("baton_contract_info{") and line.endswith(" 1.0"):
            return line.split('version="')[1].split('"')[0]
    return None


async def test_services_follow_the_published_contract(isolated: Isolated, tmp_path: Path) -> None:
    settings = isolated.settings()

    def v2_change(doc: dict[str, Any]) -> None:
        doc["version"] = "2026.11.2"
        doc["parties"]["apps"]["contact"] = "night-coordinator@appworks.example"
        doc["priority_matrix"]["critical"]["outage"] = "P2"  # intake classifies by it
        for target in doc["sla"]["targets"]:  # sla-clock measures by it
            if target["priority"] == "P2":
                target["response"] = "PT25M"
            if target["priority"] == "P1":  # the open incident keeps v1's 4 h (frozen)
                target["recovery"] = "PT5H"

    v2 = load_contract(variant(tmp_path, "v2", v2_change), lint=True)
    sp = start_services(isolated, tmp_path / "first", ["intake", "router", "sla-clock"])
    late = None
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            assert await contract_version(client, sp.urls["router"]) == "2026.11.1"
            now = datetime.now(UTC)
            first = alertmanager_payload(now)
            assert (
                await client.post(f"{sp.urls['intake']}/v1/alerts/alertmanager", json=first)
            ).status_code == 202
            before = await collect(isolated.infra.bootstrap, f"{isolated.prefix}assignments", 2)
            # sla-clock started the first incident's clocks under v1 before v2 is published
            await collect_until(
                isolated.infra.bootstrap,
                f"{isolated.prefix}sla",
                lambda events: any(e.subject == before[0].subject for e in events),
            )

            await publish_contract(settings, v2, now=now)
            for name in sp.urls:
                for _ in range(100):
                    if await contract_version(client, sp.urls[name]) == "2026.11.2":
                        break
                    await asyncio.sleep(0.2)
                else:
                    raise AssertionError(f"{name} did not adopt the published contract")

            # every object of the minimal contract is related, so an alert on another object
            # would join the first incident: the second comes from outside the perimeter
            second = alertmanager_payload(
                now,
                labels={"alertname": "PrinterDown", "instance": "printer-3"},
                fingerprint=uuid.uuid4().hex,
            )
            assert (
                await client.post(f"{sp.urls['intake']}/v1/alerts/alertmanager", json=second)
            ).status_code == 202
            after = await collect_until(
                isolated.infra.bootstrap,
                f"{isolated.prefix}assignments",
                lambda events: (
                    len({e.subject for e in events}) >= 2
                    and sum(isinstance(e.data, AssignmentIssuedV3) for e in events) >= 4
                ),
            )

            second_incident = next(e.subject or "" for e in after if e.subject != before[0].subject)
            started = await collect_until(
                isolated.infra.bootstrap,
                f"{isolated.prefix}sla",
                lambda events: (
                    {e.subject for e in events if isinstance(e.data, SlaClockStartedV1)}
                    >= {before[0].subject, second_incident}
                ),
            )

            # the incident opened under v1 keeps v1's policy: paused now, 4 h minus what ran
            # (a no-access pause names the access request it waits for: ADR 50)
            access = f"{sp.urls['intake']}/v1/incidents/{before[0].subject}/access"
            ask = {
                "action": "request_access",
                "party": "osdb",
                "actor": "eng",
                "rule": "remote-vpn",
            }
            asked = await client.post(access, json=ask)
            assert asked.status_code == 202, asked.text
            request_id = asked.json()["request_id"]
            pause = {
                "action": "pause",
                "party": "osdb",
                "actor": "eng",
                "clock": "recovery",
                "pause_reason": "no-access",
                "evidence": [f"access request {request_id} at 02:10"],
            }
            actions = f"{sp.urls['intake']}/v1/incidents/{before[0].subject}/actions"
            assert (await client.post(actions, json=pause)).status_code == 202
            paused = await collect_until(
                isolated.infra.bootstrap,
                f"{isolated.prefix}sla",
                lambda events: any(isinstance(e.data, SlaClockPausedV1) for e in events),
            )

            # a service that starts later acts on the newest published version from the start
            late = start_services(isolated, tmp_path / "late", ["reporting"])
            await wait_healthy(late)
            assert await contract_version(client, late.urls["reporting"]) == "2026.11.2"
            reported = await reported_targets(client, late.urls["reporting"], second_incident)
    finally:
        stop_services(sp)
        if late:
            stop_services(late)

    issued = [(e.subject, e.data) for e in after if isinstance(e.data, AssignmentIssuedV3)]
    coordinator = {subject: a.contact for subject, a in issued if a.role.value == "coordinator"}
    priority = {subject: a.priority for subject, a in issued}
    first_incident = before[0].subject
    assert coordinator[first_incident] == "oncall@appworks.example"
    assert set(coordinator) == {first_incident, second_incident}
    assert coordinator[second_incident] == "night-coordinator@appworks.example"
    assert priority[first_incident] == "P1"
    assert priority[second_incident] == "P2"
    # sla-clock measures each incident by the contract in force when it opened
    targets = {
        (e.subject, e.data.clock.value): e.data.target
        for e in started
        if isinstance(e.data, SlaClockStartedV1)
    }
    assert targets[(first_incident, "response")] == timedelta(minutes=15)
    assert targets[(second_incident, "response")] == timedelta(minutes=25)
    assert reported["response"] == timedelta(minutes=25)
    (frozen,) = [e.data for e in paused if isinstance(e.data, SlaClockPausedV1)]
    assert timedelta(hours=3) < frozen.remaining <= timedelta(hours=4)


async def reported_targets(
    client: httpx.AsyncClient, url: str, incident_id: str
) -> dict[str, timedelta]:
    """Each clock's target as reporting's read API shows the incident (polled: eventual), with
    its deadline on the local wall clock and the time left."""
    for _ in range(150):
        response = await client.get(f"{url}/v1/incidents/{incident_id}")
        if response.status_code == 200:
            clocks = {c["clock"]: c for c in response.json()["clocks"]}
            if "response" in clocks:
                response_clock = clocks["response"]
                assert response_clock["state"] == "running"
                assert response_clock["deadline_local"].endswith("Asia/Almaty")
                assert 0 < response_clock["remaining"] <= response_clock["target"]
                return {name: timedelta(seconds=c["target"]) for name, c in clocks.items()}
        await asyncio.sleep(0.2)
    raise AssertionError(f"reporting never showed the clocks of {incident_id}")
