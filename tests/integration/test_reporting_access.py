"""Reporting's read side with reader tokens: no token, no answer; a contractor sees only the
incidents it is or was assigned to (the read-side mirror of its own assignment topic), only its
own SLA rows, and not the monthly report; an operator and the customer see everything."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import alertmanager_payload

MINIMAL = Path(__file__).resolve().parents[2] / "examples" / "minimal" / "contract.yaml"
TOKENS = {"operator": "op-token", "hw": "hw-token", "customer": "c-token"}


def bearer(reader: str) -> dict[str, str]:
    return {"authorization": f"Bearer {TOKENS[reader]}"}


async def test_a_contractor_reads_only_its_own_incidents(
    isolated: Isolated, tmp_path: Path
) -> None:
    isolated.env |= {
        "BATON_CONTRACT_PATH": str(MINIMAL),
        "BATON_REPORTING_READER_TOKENS": json.dumps(TOKENS),
    }
    sp = start_services(isolated, tmp_path, ["intake", "router", "reporting"])
    try:
        await wait_healthy(sp)
        now = datetime.now(UTC)
        async with httpx.AsyncClient(timeout=30) as client:
            for instance in ("srv-db-01", "nowhere"):  # hw's server; outside the perimeter
                labels = {"alertname": "Down", "instance": instance, "severity": "critical"}
                sent = await client.post(
                    f"{sp.urls['intake']}/v1/alerts/alertmanager",
                    json=alertmanager_payload(now, labels),
                    auth=isolated.auth(),  # the slice's alertmanager token
                )
                assert sent.status_code == 202, sent.text
            incidents = f"{sp.urls['reporting']}/v1/incidents"
            everything: list[dict[str, object]] = []
            for _ in range(300):
                everything = (await client.get(incidents, headers=bearer("operator"))).json()
                if len(everything) == 2 and all(r["primary_party"] for r in everything):
                    break
                await asyncio.sleep(0.2)
            assert len(everything) == 2, everything
            ours = {r["object_id"]: r["id"] for r in everything}

            assert (await client.get(incidents)).status_code == 401
            wrong = await client.get(incidents, headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401
            seen = (await client.get(incidents, headers=bearer("hw"))).json()
            assert [r["id"] for r in seen] == [ours["srv-db-01"]]
            hidden = await client.get(f"{incidents}/{ours[None]}", headers=bearer("hw"))
            assert hidden.status_code == 404
            own = await client.get(f"{incidents}/{ours['srv-db-01']}", headers=bearer("hw"))
            assert own.status_code == 200
            month = now.strftime("%Y-%m")
            monthly = await client.get(
                f"{sp.urls['reporting']}/v1/reports/monthly",
                params={"month": month, "format": "json"},
                headers=bearer("hw"),
            )
            assert monthly.status_code == 403
            customer = (await client.get(incidents, headers=bearer("customer"))).json()
            assert {r["id"] for r in customer} == set(ours.values())
            sla = await client.get(
                f"{sp.urls['reporting']}/v1/reports/sla",
                params={"month": month},
                headers=bearer("hw"),
            )
            assert sla.status_code == 200
            assert {r["party"] for r in sla.json()["rows"]} <= {"hw"}
    finally:
        stop_services(sp)
