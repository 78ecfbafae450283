"""Reporting: SLA compliance per contractor, category, priority and month, from real clocks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml

from shared.events import (
    AssignmentIssuedV3,
    ClockKind,
    Envelope,
    EventType,
    SlaClockRecomputedV1,
)
from tests.integration.conftest import (
    SERVICES,
    Isolated,
    start_services,
    stop_services,
    wait_healthy,
)
from tests.integration.helpers import (
    alert_path_reads,
    alertmanager_payload,
    collect,
    collect_until,
    read_topic,
    wait_consumed,
)

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


async def response_timers_settled(dsn: str, timeout: float = 60) -> None:
    """Wait until sla-clock holds no pending response-clock timer: every response threshold
    has fired (its event is on the sla topic by then: published before the transaction that
    marks it fired commits) or went with its stopped clock."""
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(timeout):
            while True:
                pending = await conn.fetchval(
                    "SELECT count(*) FROM sla_clock.timers WHERE fired_at IS NULL AND clock = $1",
                    ClockKind.RESPONSE.value,
                )
                if not pending:
                    return
                await asyncio.sleep(0.1)
    finally:
        await conn.close()


def osdb_primary(events: list[Envelope]) -> str | None:
    """The incident osdb was made the primary party of, if any yet."""
    found = [
        e.subject
        for e in events
        if isinstance(e.data, AssignmentIssuedV3)
        and (e.data.role.value, e.data.party) == ("primary", "osdb")
    ]
    return found[0] if found else None


async def test_sla_compliance_counts_met_and_breached_clocks(
    isolated: Isolated, tmp_path: Path
) -> None:
    isolated.env["BATON_CONTRACT_PATH"] = str(short_sla_contract(tmp_path))
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    sp = start_services(isolated, tmp_path)
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            intake = sp.urls["intake"]
            # every object of the minimal contract depends on the others, so a second incident
            # comes from outside the perimeter: the coordinator (apps) owns it, as a P1 outage.
            # Nobody acknowledges it; opened first, its 3 s run while the other is handled
            body = alertmanager_payload(
                datetime.now(UTC),
                labels={"alertname": "HostDown", "instance": "printer-9", "severity": "critical"},
                fingerprint=uuid.uuid4().hex,
                age=timedelta(0),
            )
            assert (
                await client.post(f"{intake}/v1/alerts/alertmanager", json=body)
            ).status_code == 202
            await open_incident(client, intake, "db-a")
            assigned = await collect_until(
                bootstrap, f"{prefix}assignments", lambda got: osdb_primary(got) is not None
            )
            first = osdb_primary(assigned)
            # acknowledged within 3 s: response met
            ack = {"action": "acknowledge", "party": "osdb", "actor": "eng"}
            assert (
                await client.post(f"{intake}/v1/incidents/{first}/actions", json=ack)
            ).status_code == 202

            def a_breach(got: list[Envelope]) -> bool:
                return any(e.type == EventType.SLA_BREACHED for e in got)

            sla_topic = f"{prefix}sla"
            await collect_until(bootstrap, sla_topic, a_breach, 30)
            # both incidents' clocks running (their openings handled), then every response
            # threshold fired or stopped: any other breach is out now; reporting has it all
            reads = alert_path_reads(prefix, list(SERVICES))
            await wait_consumed(bootstrap, reads)
            await response_timers_settled(isolated.dsn)
            await wait_consumed(bootstrap, reads)
            events = await read_topic(bootstrap, sla_topic)
            breached = [e for e in events if e.type == EventType.SLA_BREACHED]
            assert len(breached) == 1, [(e.type.value, e.subject, e.data) for e in events]
            second = breached[0].subject
            assert second != first

            month = datetime.now(UTC).strftime("%Y-%m")
            report: dict[str, Any] = (
                await client.get(f"{sp.urls['reporting']}/v1/reports/sla", params={"month": month})
            ).json()
            rows = {(r["party"], r["clock"]): r for r in report["rows"]}
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
            reclassify = {
                "action": "reclassify",
                "party": "apps",
                "actor": "coordinator",
                "priority": "P2",
                "note": "one branch only",
            }
            actions = f"{sp.urls['intake']}/v1/incidents/{incident}/actions"
            response = await client.post(actions, json=reclassify)
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
