"""A signed alert is accepted once by the whole intake, not once per process: the replay memory
lives in PostgreSQL, shared by every instance and kept across restarts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from intake.auth import sign

from tests.integration.conftest import Isolated, ServiceProcs, stop_services
from tests.integration.test_intake import FIXTURES, start_intake

SECRET = "zabbix-replay-secret"


async def test_a_signed_alert_replayed_to_another_instance_or_after_a_restart_is_refused(
    isolated: Isolated, tmp_path: Path
) -> None:
    secrets = json.dumps({"zabbix": SECRET})
    first = await start_intake(isolated, tmp_path / "a", BATON_INTAKE_HMAC_SECRETS=secrets)
    second: ServiceProcs | None = None
    body = (FIXTURES / "zabbix-problem.json").read_bytes()
    stamp = int(time.time())
    signed = {
        "content-type": "application/json",
        "x-baton-timestamp": str(stamp),
        "x-baton-signature": sign(SECRET, stamp, body),
    }
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            url = first.urls["intake"] + "/v1/alerts/zabbix"
            assert (await client.post(url, content=body, headers=signed)).status_code == 202
            second = await start_intake(isolated, tmp_path / "b", BATON_INTAKE_HMAC_SECRETS=secrets)
            other = second.urls["intake"] + "/v1/alerts/zabbix"
            replay = await client.post(other, content=body, headers=signed)
            assert replay.status_code == 401, replay.text
            assert "replayed" in replay.json()["error"]
            stop_services(first)
            again = await client.post(other, content=body, headers=signed)
            assert again.status_code == 401
    finally:
        stop_services(first)
        if second is not None:
            stop_services(second)
