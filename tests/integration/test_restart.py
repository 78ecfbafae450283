"""Crash and restart: nothing acknowledged is lost, nothing is doubled downstream.

Each test builds the service twice on the same consumer group and database, stopping the first
instance in the middle of a storm — by SIGTERM (graceful: in-flight work committed or redelivered)
or by SIGKILL (no goodbye at all) — then compares what came out with what went in.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.integration.conftest import Fleet, Isolated, wait_healthy
from tests.integration.helpers import (
    QUICK_REBALANCE,
    alert_path_reads,
    alertmanager_payload,
    collect,
    read_topic,
    wait_consumed,
)

STORM = 40


async def storm(client: httpx.AsyncClient, intake: str, run: str, half: asyncio.Event) -> None:
    """STORM alerts on distinct objects outside the perimeter: each opens its own incident;
    ``half`` is set once half of them were accepted (or a post failed)."""
    now = datetime.now(UTC)
    try:
        for i in range(STORM):
            if i == STORM // 2:
                half.set()
            body = alertmanager_payload(
                now,
                labels={"alertname": "Storm", "instance": f"storm-{run}-{i}"},
                fingerprint=f"{run}-{i}",
            )
            response = await client.post(f"{intake}/v1/alerts/alertmanager", json=body)
            assert response.status_code == 202, response.text
    finally:
        half.set()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
async def test_router_restart_mid_storm_loses_and_doubles_nothing(
    isolated: Isolated, fleet: Fleet, sig: signal.Signals
) -> None:
    run = uuid.uuid4().hex[:6]
    isolated.env.update(QUICK_REBALANCE)  # the killed router's partitions move after 6 s
    sp = await fleet.started("first", ["intake", "router"])
    async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
        half = asyncio.Event()
        posting = asyncio.create_task(storm(client, sp.urls["intake"], run, half))
        async with asyncio.timeout(60):
            await half.wait()
        sp.procs["router"].send_signal(sig)
        await asyncio.to_thread(sp.procs["router"].wait, 30)
        # the second instance starts while the rest of the storm still comes in
        second = fleet.start("second", ["router"])
        await posting
    await wait_healthy(second)
    await collect(isolated.infra.bootstrap, f"{isolated.prefix}assignments", 2 * STORM)
    # every alert and incident handled, then everyone stopped: all that was published
    await wait_consumed(
        isolated.infra.bootstrap, alert_path_reads(isolated.prefix, ["intake", "router"])
    )
    fleet.stop()
    events = await read_topic(isolated.infra.bootstrap, f"{isolated.prefix}assignments")
    incidents = {e.subject for e in events}
    assert len(incidents) == STORM
    ids = [e.id for e in events]
    # a SIGKILL between publish and commit may republish, but always with the same event id
    assert len(set(ids)) == 2 * STORM
    if sig == signal.SIGTERM:
        assert len(ids) == 2 * STORM, "a graceful stop must not republish anything"
