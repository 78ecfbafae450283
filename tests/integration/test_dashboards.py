"""No Grafana panel reads "No data" on a healthy secure stack: the four services' metrics,
scraped before and after one alert went through, answer every dashboard query
(``tests/dashboards.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.dashboards import empty_panels, states
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.one_alert import one_alert_through


async def test_every_dashboard_query_returns_a_series_on_a_healthy_secure_stack(
    isolated: Isolated, tmp_path: Path
) -> None:
    assert "BATON_INSECURE" not in isolated.env, "the stack under test must be the secure one"
    sp = start_services(isolated, tmp_path)
    scrapes: dict[str, list[str]] = {name: [] for name in sp.urls}

    async def scrape(client: httpx.AsyncClient) -> None:
        for name, url in sp.urls.items():
            response = await client.get(f"{url}/metrics")
            response.raise_for_status()
            scrapes[name].append(response.text)
            (tmp_path / f"{name}.{len(scrapes[name])}.prom").write_text(response.text)

    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            await scrape(client)
            await one_alert_through(isolated, sp)
            for _ in range(200):  # reporting's gauges refresh on a tick
                text = (await client.get(f"{sp.urls['reporting']}/metrics")).text
                if "baton_incidents_open{" in text:
                    break
                await asyncio.sleep(0.5)
            await scrape(client)
            await scrape(client)
    finally:
        stop_services(sp)

    for state, recording in states(scrapes).items():
        report = empty_panels(recording, tmp_path)
        assert not report, f"{state}: panels without data (recording in {tmp_path}):\n{report}"
