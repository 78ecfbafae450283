"""The admin address on the real process: with BATON_ADMIN_HTTP_PORT, /metrics, /docs and
/openapi.json answer there and 404 on the public port, where the API stays."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.conftest import (
    Isolated,
    free_port,
    start_services,
    stop_services,
    wait_healthy,
)


async def test_metrics_and_docs_only_on_the_admin_port(isolated: Isolated, tmp_path: Path) -> None:
    admin_port = free_port()
    isolated.env["BATON_ADMIN_HTTP_PORT"] = str(admin_port)
    sp = start_services(isolated, tmp_path, ["reporting"])
    public, admin = sp.urls["reporting"], f"http://127.0.0.1:{admin_port}"
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(timeout=30, auth=isolated.auth()) as client:
            for path in ("/metrics", "/docs", "/openapi.json"):
                assert (await client.get(f"{public}{path}")).status_code == 404, path
                assert (await client.get(f"{admin}{path}")).status_code == 200, path
            metrics = (await client.get(f"{admin}/metrics")).text
            assert "baton_http_requests_total" in metrics
            assert "/v1/incidents" in (await client.get(f"{admin}/openapi.json")).json()["paths"]
            assert (await client.get(f"{public}/v1/incidents")).status_code == 200
            assert (await client.get(f"{admin}/v1/incidents")).status_code == 404
            for url in (public, admin):
                assert (await client.get(f"{url}/readyz")).status_code == 200
    finally:
        stop_services(sp)
