"""Durability and scale-out of intake on the real broker and database.

- kill -9 of intake in the middle of an HTTP alert storm: every alert it answered 202 for still
  opens its incident after a restart on the same consumer group and database;
- two intake instances in one consumer group, related alerts posted to both: still one incident
  per failure, because alerts are keyed by their dependency-graph component (ADR 5).
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shared.events import EventType, IncidentOpenedV1, stable_id
from tests.integration.conftest import (
    Isolated,
    ServiceProcs,
    start_services,
    stop_services,
    wait_healthy,
)
from tests.integration.helpers import QUICK_REBALANCE, collect, wait_consumed
from tests.integration.test_intake import CONTRACT, settle, start_intake

WORKERS = 8
# acknowledged alerts before the kill; WORKERS more are in flight when it lands (a bigger storm
# puts no more alerts between acknowledgement and incident, it only takes longer)
KILL_AFTER = 60


def generic(**alert: Any) -> dict[str, Any]:
    """A request to intake's generic receiver with one alert."""
    return {"alerts": [alert]}


def lone_alert(run: str, i: int) -> dict[str, Any]:
    """An alert on its own host outside the perimeter: it opens its own incident."""
    host = {"instance": f"storm-{run}-{i}"}
    return generic(
        source="storm", fingerprint=f"{run}-{i}", summary=f"storm alert {i}", labels=host
    )


async def test_kill_9_mid_storm_loses_no_acknowledged_alert(
    isolated: Isolated, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    isolated.env |= QUICK_REBALANCE  # the killed instance's partitions move after 6 s, not 10
    sp = await start_intake(isolated, tmp_path / "first")
    acknowledged: list[uuid.UUID] = []
    counter = iter(range(1_000_000))
    killed = asyncio.Event()
    enough = asyncio.Event()

    async def worker(client: httpx.AsyncClient) -> None:
        while not killed.is_set():
            i = next(counter)
            try:
                response = await client.post("/v1/alerts", json=lone_alert(run, i))
            except httpx.TransportError:
                return  # the process is gone: this alert was never acknowledged
            if response.status_code == 202:
                acknowledged.extend(uuid.UUID(x) for x in response.json()["ids"])
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()

    second: ServiceProcs | None = None
    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            workers = [asyncio.create_task(worker(client)) for _ in range(WORKERS)]
            await asyncio.wait_for(enough.wait(), 60)
            sp.procs["intake"].send_signal(signal.SIGKILL)
            await asyncio.to_thread(sp.procs["intake"].wait, 30)
            killed.set()
            await asyncio.gather(*workers)
        assert len(acknowledged) >= KILL_AFTER
        second = await start_intake(isolated, tmp_path / "second")
        events = await collect(
            isolated.infra.bootstrap, f"{isolated.prefix}incidents", len(acknowledged), 120
        )
        prefix = isolated.prefix  # once the second instance has handled all input, look again
        await wait_consumed(
            isolated.infra.bootstrap,
            {
                f"{prefix}intake.raw": f"{prefix}alerts.raw",
                f"{prefix}intake.alerts": f"{prefix}alerts",
            },
            120,
        )
        events = await collect(
            isolated.infra.bootstrap, f"{isolated.prefix}incidents", len(acknowledged), 120
        )
    finally:
        stop_services(sp)
        if second:
            stop_services(second)
    opened_ids = {e.id for e in events if e.type == EventType.INCIDENT_OPENED}
    missing = [a for a in acknowledged if stable_id("open", a) not in opened_ids]
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged alerts lost"
    # a kill between publish and commit may republish an opening, always with the same id
    assert len({e.subject for e in events}) == len(opened_ids)


async def test_two_instances_still_make_one_incident_per_failure(
    isolated: Isolated, tmp_path: Path
) -> None:
    # each of the second instance's three groups waits for the first to heartbeat: 1 s, not 3
    isolated.env |= {"BATON_CONTRACT_PATH": str(CONTRACT)} | QUICK_REBALANCE
    sp = start_services(isolated, tmp_path / "a", ["intake"])
    sp_b = start_services(isolated, tmp_path / "b", ["intake"])
    both = ServiceProcs(
        urls={"a": sp.urls["intake"], "b": sp_b.urls["intake"]},
        procs={"a": sp.procs["intake"], "b": sp_b.procs["intake"]},
        logs={"a": sp.logs["intake"], "b": sp_b.logs["intake"]},
    )
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC).isoformat()
    chain = [
        "stor-01",
        "srv-db-01",
        "os-db-01",
        "pg-main",
        "acc-app",
        "ws-accounting",
        "bank-exchange",
    ]

    def on(object_id: str, n: int) -> dict[str, Any]:
        key = f"{run}-{object_id}-{n}"
        return generic(
            source="scale",
            fingerprint=key,
            summary=f"{object_id} failing",
            object_id=object_id,
            starts_at=now,
        )

    try:
        await wait_healthy(both)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            urls = [both.urls["a"], both.urls["b"]]

            async def post(url: str, body: dict[str, Any]) -> None:
                response = await client.post(f"{url}/v1/alerts", json=body)
                assert response.status_code == 202, response.text

            for i, object_id in enumerate(chain):  # up the chain, alternating instances
                # the same alert to both instances at once, and the mail server beside it
                await asyncio.gather(
                    post(urls[i % 2], on(object_id, 0)),
                    post(urls[(i + 1) % 2], on(object_id, 0)),
                    post(urls[i % 2], on("mail-01", i)),
                )
        events = await settle(
            isolated.infra.bootstrap, f"{isolated.prefix}incidents", 2 * len(chain) + len(chain)
        )
    finally:
        stop_services(sp)
        stop_services(sp_b)
    opened = [e.data for e in events if isinstance(e.data, IncidentOpenedV1)]
    assert sorted(o.object_id or "" for o in opened) == ["mail-01", "stor-01"]
    by_type = [e.type for e in events]
    assert by_type.count(EventType.ALERT_CORRELATED) == len(chain) - 1
    # each chain alert twice (one deduplicated) and the mail server's six repeats on its object
    assert by_type.count(EventType.ALERT_ATTACHED) == len(chain) + len(chain) - 1
