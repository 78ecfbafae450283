"""Reporting: SLA compliance per contractor, category, priority and month, from real clocks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from shared.events import Envelope, EventType, SlaClockRecomputedV1
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import alertmanager_payload, collect, collect_until

MINIMAL = Path(__file__).resolve().parents[2] / "examples" / "minimal" / "contract.yaml"


def short_sla_contract(tmp: Path) -> Path:
    """The minimal contract with a 3-second response target for P1 outages."""
    doc = yaml.safe_load(MINIMAL.read_text())
    for target in doc["sla"]["targets"]:
        if (target["category"], target["priority"]) == ("outage", "P1"):
            target["response"] = "PT3S"
    path = tmp / "short-sla.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


async def open_incident(client: httpx.AsyncClient, intake: str, instance: str) -> None:
    body = alertmanager_payload(
        datetime.now(UTC),
        labels={
            "alertname": "PostgresDown",
            "service": "postgres",
            "instance": instance,
            "severity": "critical",
        },
        fingerprint=uuid.uuid4().hex,
        age=timedelta(0),  # the contract starts clocks at the first alert: make that now
    )
    assert (await client.post(f"{intake}/v1/alerts/alertmanager", json=body)).status_code == 202


async def test_sla_compliance_counts_met_and_breached_clocks(
    isolated: Isolated, tmp_path: Path
) -> None:
    isolated.env["BATON_CONTRACT_PATH"] = str(short_sla_contract(tmp_path))
    sp = start_services(isolated, tmp_path)
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            intake = sp.urls["intake"]
            await open_incident(client, intake, "db-a")
            assigned = await collect(isolated.infra.bootstrap, f"{isolated.prefix}assignments", 2)
            first = assigned[0].subject
            # acknowledged within 3 s: response met
            ack = {"action": "acknowledge", "party": "osdb", "actor": "eng"}
            assert (
                await client.post(f"{intake}/v1/incidents/{first}/actions", json=ack)
            ).status_code == 202
            # every object of the minimal contract depends on the others, so a second incident
            # comes from outside the perimeter: the coordinator (apps) owns it, as a P1 outage
            body = alertmanager_payload(
                datetime.now(UTC),
                labels={"alertname": "HostDown", "instance": "printer-9", "severity": "critical"},
                fingerprint=uuid.uuid4().hex,
                age=timedelta(0),
            )
            assert (
                await client.post(f"{intake}/v1/alerts/alertmanager", json=body)
            ).status_code == 202

            def a_breach(got: list[Envelope]) -> bool:
                return any(e.type == EventType.SLA_BREACHED for e in got)

            sla_topic = f"{isolated.prefix}sla"
            await collect_until(isolated.infra.bootstrap, sla_topic, a_breach, 30)
            await asyncio.sleep(4)  # past every 3 s target: any other breach would be out now
            events = await collect_until(isolated.infra.bootstrap, sla_topic, a_breach, 30)
            breached = [e for e in events if e.type == EventType.SLA_BREACHED]
            assert len(breached) == 1, [(e.type.value, e.subject, e.data) for e in events]
            second = breached[0].subject
            assert second != first

            month = datetime.now(UTC).strftime("%Y-%m")
            report: dict[str, Any] = {}
            for _ in range(50):
                report = (
                    await client.get(
                        f"{sp.urls['reporting']}/v1/reports/sla", params={"month": month}
                    )
                ).json()
                rows = {(r["party"], r["clock"]): r for r in report["rows"]}
                if rows.get(("apps", "response"), {}).get("breached") == 1:
                    break
                await asyncio.sleep(0.2)
            bad = await client.get(
                f"{sp.urls['reporting']}/v1/reports/sla", params={"month": "November"}
            )
    finally:
        stop_services(sp)

    assert rows[("osdb", "response")]["met"] == 1
    assert rows[("osdb", "response")]["compliance"] == 1.0
    assert rows[("apps", "response")]["breached"] == 1
    assert rows[("apps", "response")]["compliance"] == 0.0
    assert rows[("osdb", "recovery")]["running"] == 1
    assert {r["category"] for r in report["rows"]} == {"outage"}
    assert bad.status_code == 422
    assert "month" in bad.text


async def test_read_model_follows_correlation_and_handover(
    isolated: Isolated, tmp_path: Path
) -> None:
    """A DBMS alert, then the server's hardware alert under it: one incident whose origin and
    owner move to the hardware, with both objects and the units they serve."""
    sp = start_services(isolated, tmp_path)
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            await open_incident(client, sp.urls["intake"], "srv-db-01:5432")
            await collect(isolated.infra.bootstrap, f"{isolated.prefix}assignments", 2)
            body = alertmanager_payload(
                datetime.now(UTC),
                labels={
                    "alertname": "RaidDegraded",
                    "instance": "srv-db-01",
                    "severity": "critical",
                },
                fingerprint=uuid.uuid4().hex,
            )
            assert (
                await client.post(f"{sp.urls['intake']}/v1/alerts/alertmanager", json=body)
            ).status_code == 202
            row: dict[str, Any] = {}
            for _ in range(100):
                rows = (await client.get(f"{sp.urls['reporting']}/v1/incidents")).json()
                row = rows[0] if rows else {}
                if row.get("origin_object") == "srv-db-01" and row.get("primary_party") == "hw":
                    break
                await asyncio.sleep(0.2)
    finally:
        stop_services(sp)
    assert len(rows) == 1, rows
    assert row["object_id"] == "pg-main"
    assert row["origin_object"] == "srv-db-01"
    assert row["primary_party"] == "hw", row
    assert row["coordinator"] == "apps"
    assert set(row["objects"]) == {"pg-main", "srv-db-01"}
    assert row["alert_count"] == 2


async def test_reclassification_recomputes_the_clocks_and_the_read_model(
    isolated: Isolated, tmp_path: Path
) -> None:
    sp = start_services(isolated, tmp_path)
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            await open_incident(client, sp.urls["intake"], "srv-db-01:5432")
            assigned = await collect(isolated.infra.bootstrap, f"{isolated.prefix}assignments", 1)
            incident = assigned[0].subject
            response = await client.post(
                f"{sp.urls['intake']}/v1/incidents/{incident}/actions",
                json={
                    "action": "reclassify",
                    "party": "apps",
                    "actor": "coordinator",
                    "priority": "P2",
                    "note": "one branch only",
                },
            )
            assert response.status_code == 202, response.text
            events = await collect_until(
                isolated.infra.bootstrap,
                f"{isolated.prefix}sla",
                lambda got: sum(e.type == EventType.SLA_CLOCK_RECOMPUTED for e in got) >= 2,
            )
            row: dict[str, Any] = {}
            for _ in range(100):
                row = (await client.get(f"{sp.urls['reporting']}/v1/incidents/{incident}")).json()
                if row.get("incident", {}).get("priority") == "P2":  # 404 until it is recorded
                    break
                await asyncio.sleep(0.2)
    finally:
        stop_services(sp)
    targets = {
        e.data_as(SlaClockRecomputedV1).clock.value: e.data_as(SlaClockRecomputedV1).target
        for e in events
        if e.type == EventType.SLA_CLOCK_RECOMPUTED
    }
    # the minimal contract's outage row for P2: 30 minutes and 8 hours
    assert targets == {"response": timedelta(minutes=30), "recovery": timedelta(hours=8)}
    assert row["incident"]["priority"] == "P2"
    assert EventType.INCIDENT_RECLASSIFIED.value in {e["type"] for e in row["timeline"]}
