"""The README's main job ends with `baton demo`: the seed's night as an alert storm on the
example contract, correlated into incidents and driven by the parties to closure reports. Here
it runs on a slice of the stack with the four services, as `baton demo` runs it on a stack."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton.demo import _webhook, run_demo
from baton.stack import EXAMPLE_CONTRACT
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy


async def _first_open(client: httpx.AsyncClient, reporting: str) -> list[dict[str, Any]]:
    """The open incidents, once there is one."""
    async with asyncio.timeout(30):
        while True:
            rows = (await client.get(f"{reporting}/v1/incidents")).json()
            if opened := [r for r in rows if r["status"] != "closed"]:
                return opened
            await asyncio.sleep(0.2)


async def test_the_demo_closes_what_its_storm_opened_and_what_it_joined(
    isolated: Isolated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incident already open on the failing server (an earlier run, a benchmark) takes the
    demo's alerts on its objects: the demo says so, reports it beside the ones it opened, and
    drives it to closure too."""
    isolated.env["BATON_CONTRACT_PATH"] = str(EXAMPLE_CONTRACT)
    monkeypatch.setenv("BATON_TOPIC_PREFIX", isolated.prefix)  # the night run's check-in topic
    # the demo pings with the keys of the services' check-in secret (ADR 35)
    monkeypatch.setenv("BATON_CHECKIN_SECRET", isolated.credentials().checkin_secret)
    sp = start_services(isolated, tmp_path)
    lines: list[str] = []
    try:
        await wait_healthy(sp)
        intake, reporting = sp.urls["intake"], sp.urls["reporting"]
        async with httpx.AsyncClient(timeout=30, auth=isolated.auth()) as client:
            earlier = _webhook(
                "NodeDown", {"instance": "srv-pg-01"}, "earlier", datetime.now(UTC), "earlier-1"
            )
            (await client.post(f"{intake}/v1/alerts/alertmanager", json=earlier)).raise_for_status()
            (joined,) = await _first_open(client, reporting)
        closed = await asyncio.to_thread(
            run_demo,
            intake,
            reporting,
            EXAMPLE_CONTRACT,
            sla_clock=sp.urls["sla-clock"],
            kafka=isolated.infra.bootstrap,
            auth=isolated.auth(),
            log=lambda line: lines.append(str(line)),
        )
        async with httpx.AsyncClient(timeout=30, auth=isolated.auth()) as client:
            rows = {r["id"]: r for r in (await client.get(f"{reporting}/v1/incidents")).json()}
    finally:
        stop_services(sp)
    told = "\n".join(lines)
    assert "1 incidents are still open on this stack" in told, told
    assert "malformed webhook → 422" in told, told
    assert joined["id"] in closed, told  # the demo's alerts joined it: it is the demo's too
    assert rows[joined["id"]]["origin_object"] == "srv-pg-01"
    assert rows[joined["id"]]["alert_count"] > joined["alert_count"]
    outside = [i for i in closed if rows[i]["outside_perimeter"]]
    assert len(outside) == 1, told  # the branch printer: its own incident, never dropped
    assert all(rows[i]["status"] == "closed" for i in closed), [rows[i] for i in closed]
    assert {r["id"] for r in rows.values() if r["status"] != "closed"} == set(), rows
