"""One policy per incident across a republish (issue 24, ADR 37), on the real broker and
database: an incident opened under v1 keeps v1 in its documents after v2 is published, as its
clocks keep it in sla-clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from shared.contract import Contract
from shared.contract_feed import publish_contract
from shared.settings import DEFAULT_CONTRACT
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import alertmanager_payload, until


async def test_an_open_incidents_closure_report_keeps_its_version(
    isolated: Isolated, tmp_path: Path
) -> None:
    doc = yaml.safe_load(DEFAULT_CONTRACT.read_text())
    v1 = Contract.model_validate(doc)
    v2 = Contract.model_validate({**doc, "version": f"{v1.version}-republished"})
    sp = start_services(isolated, tmp_path, ["intake", "router", "reporting"])
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            now = datetime.now(UTC)
            response = await client.post(
                f"{sp.urls['intake']}/v1/alerts/alertmanager", json=alertmanager_payload(now)
            )
            assert response.status_code == 202, response.text
            reporting = sp.urls["reporting"]

            async def assigned() -> str | None:
                body = (await client.get(f"{reporting}/v1/incidents")).json()
                rows = body if isinstance(body, list) else body.get("incidents", [])
                done = [r for r in rows if r.get("primary_party")]
                return str(done[0]["id"]) if done else None

            incident = await until("an assigned incident in reporting", assigned)
            await publish_contract(isolated.settings(), v2, now=datetime.now(UTC))

            async def adopted() -> bool:
                metrics = (await client.get(f"{reporting}/metrics")).text
                return f'version="{v2.version}"' in metrics

            await until("reporting adopting v2", adopted)
            report = await client.get(f"{reporting}/v1/incidents/{incident}/report.json")
            assert report.status_code == 200, report.text
            text = report.text
            assert f"version {v1.version}" in text
            assert f"version {v2.version}" not in text
    finally:
        stop_services(sp)
