"""One alert through the running services: sent over HTTP, then waited for until the router
has assigned it, sla-clock has started its clocks and reporting shows its owner."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.integration.conftest import Isolated, ServiceProcs
from tests.integration.helpers import alertmanager_payload, collect


async def one_alert_through(isolated: Isolated, sp: ServiceProcs) -> None:
    async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
        response = await client.post(
            f"{sp.urls['intake']}/v1/alerts/alertmanager",
            json=alertmanager_payload(datetime.now(UTC)),
        )
        assert response.status_code == 202
        await collect(isolated.infra.bootstrap, f"{isolated.prefix}assignments", 2)
        await collect(isolated.infra.bootstrap, f"{isolated.prefix}sla", 2)
        for _ in range(100):
            rows = (await client.get(f"{sp.urls['reporting']}/v1/incidents")).json()
            if rows and rows[0]["primary_party"]:
                return
        raise AssertionError(f"reporting shows no owner of the incident: {rows}")
