"""A signed alert is accepted once by the whole intake, not once per process: the replay memory
lives in PostgreSQL, shared by every instance and kept across restarts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
from intake.auth import sign

from tests.integration.conftest import Isolated, ServiceProcs, stop_services
from tests.integration.test_intake import FIXTURES, start_intake

SECRET = "zabbix-replay-secret"


async def side_by_side(*starts: Coroutine[Any, Any, ServiceProcs]) -> list[ServiceProcs]:
    """Start services at once; if one does not come up, stop the others and fail."""
    results = await asyncio.gather(*starts, return_exceptions=True)
    up = [r for r in results if isinstance(r, ServiceProcs)]
    for result in results:
        if isinstance(result, BaseException):
            for sp in up:
                stop_services(sp)
            raise result
    return up


async def test_a_signed_alert_replayed_to_another_instance_or_after_a_restart_is_refused(
    isolated: Isolated, tmp_path: Path
) -> None:
    secrets = json.dumps({"zabbix": SECRET})

    def intake(name: str, groups: str) -> Coroutine[Any, Any, ServiceProcs]:
        return start_intake(
            isolated, tmp_path / name, BATON_INTAKE_HMAC_SECRETS=secrets, BATON_GROUP_PREFIX=groups
        )

    # The other instance shares the database and topics but consumes in consumer groups of its
    # own: the two start side by side without a rebalance (up to a 3 s heartbeat in each of
    # intake's three groups). Its HTTP receivers, which are under test, are the same.
    first, other = await side_by_side(
        intake("a", isolated.prefix), intake("b", f"{isolated.prefix}b.")
    )
    restarted: ServiceProcs | None = None
    body = (FIXTURES / "zabbix-problem.json").read_bytes()
    stamp = int(time.time())
    signed = {
        "content-type": "application/json",
        "x-baton-timestamp": str(stamp),
        "x-baton-signature": sign(SECRET, stamp, body),
    }
    path = "/v1/alerts/zabbix"
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            accepted = await client.post(first.urls["intake"] + path, content=body, headers=signed)
            assert accepted.status_code == 202, accepted.text
            # another instance, while the first runs
            replay = await client.post(other.urls["intake"] + path, content=body, headers=signed)
            assert replay.status_code == 401, replay.text
            assert "replayed" in replay.json()["error"]
            # the first instance restarted (its own consumer groups again)
            stop_services(first)
            restarted = await intake("c", isolated.prefix)
            again = await client.post(restarted.urls["intake"] + path, content=body, headers=signed)
            assert again.status_code == 401, again.text
            assert "replayed" in again.json()["error"]
    finally:
        for sp in (first, other, restarted):
            if sp is not None:
                stop_services(sp)
