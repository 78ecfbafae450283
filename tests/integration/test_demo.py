"""The README's main job ends with `baton demo`: the seed's night as an alert storm on the
example contract, correlated into incidents and driven by the parties to closure reports. Here
it runs on a slice of the stack with the four services, as `baton demo` runs it on a stack."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton.demo import _webhook, run_demo
from baton.demo import told as who_was_told
from baton.stack import EXAMPLE_CONTRACT, status
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
    relay = status().get("mailpit")
    if relay is None or not relay["running"]:
        pytest.fail("the stack's Mailpit is not running: `baton stack up --infra-only` starts it")
    smtp = int(relay["smtp"].rsplit(":", 1)[1])
    isolated.env["BATON_NOTIFY_SENDERS"] = json.dumps(
        {"email": f"mailto://127.0.0.1:{smtp}?from=baton@baton.local&to={{address}}&mode=insecure"}
    )
    isolated.env["BATON_NOTIFY_TICK_SECONDS"] = "0.2"
    # intake first: the router's links point at it, as the stack's do
    sp = start_services(isolated, tmp_path / "intake", ["intake"])
    isolated.env["BATON_LINKS_BASE_URL"] = sp.urls["intake"]
    rest = start_services(isolated, tmp_path, ["router", "sla-clock", "reporting"])
    sp.urls |= rest.urls
    sp.procs |= rest.procs
    sp.logs |= rest.logs
    # the demo pings with the keys of the services' check-in secret (ADR 35)
    monkeypatch.setenv("BATON_CHECKIN_SECRET", isolated.credentials().checkin_secret)
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
            mailpit=relay["web"],
        )
        told_lines = await who_was_told(isolated.dsn, closed)
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
    # the customer confirmed each through the link in the e-mail, not the API
    for incident in closed:
        assert f"{incident}: confirmed through the e-mailed link → 200" in told, told
    who = "\n".join(told_lines)
    assert "customer/mailbox via email (it@steppetrade.example): confirm restoration" in who, who
    assert "appint/mailbox via email" in who, who  # the coordinator, on everything
    assert "call +7 701 300 0302 — Integra duty coordinator" in who, who  # it has no e-mail
