"""A signed alert is accepted once by the whole intake, not once per process: the replay memory
lives in PostgreSQL, shared by every instance and kept across restarts."""

from __future__ import annotations

import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx

from tests.integration.conftest import Isolated, ServiceProcs, stop_services
from tests.integration.helpers import hmac_signed
from tests.integration.test_intake import FIXTURES, start_intake

SECRET = "zabbix-replay-secret"


async def test_a_signed_alert_replayed_to_another_instance_or_after_a_restart_is_refused(
    isolated: Isolated, tmp_path: Path
) -> None:
    secrets = json.dumps({"zabbix": SECRET})

    def intake(name: str, groups: str) -> Coroutine[Any, Any, ServiceProcs]:
        return start_intake(
            isolated, tmp_path / name, BATON_INTAKE_HMAC_SECRETS=secrets, BATON_GROUP_PREFIX=groups
        )

    first = await intake("a", isolated.prefix)
    second: ServiceProcs | None = None
    body = (FIXTURES / "zabbix-problem.json").read_bytes()
    signed = hmac_signed(SECRET, body)
    path = "/v1/alerts/zabbix"
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            accepted = await client.post(first.urls["intake"] + path, content=body, headers=signed)
            assert accepted.status_code == 202, accepted.text
            # Another instance, started after the first accepted and while it runs. It shares
            # the database and topics but consumes in consumer groups of its own, so it starts
            # without a rebalance of the first's groups; its HTTP receivers, under test, are the
            # same.
            second = await intake("b", f"{isolated.prefix}b.")
            other = second.urls["intake"] + path
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
