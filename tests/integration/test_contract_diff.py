"""``baton contract diff`` and ``publish`` with a stack (issue 27 item 4, done-when).

The example contract is in force; two incidents are open on the API gateway int-api-gw (owned
by the integration contractor, appint). A copy of the contract moves the gateway to the network
layer (the hardware contractor, hw): ``contract diff`` names that change and both incidents with
their new owner; ``contract publish`` prints the same preview and refuses without ``--yes``,
then publishes with it. The test plays intake (the incidents topic's one writer); the router
and reporting run.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from typer.testing import CliRunner

from baton.contract_cli import contract_app
from shared.events import Category, Layer
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.test_sla_clock import opened, publish, with_env
from tests.unit.test_contract_diff import moved_copy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contract"


async def test_diff_and_publish_name_the_open_incidents_a_moved_object_would_change(
    isolated: Isolated, tmp_path: Path
) -> None:
    isolated = with_env(isolated, BATON_CONTRACT_PATH=str(EXAMPLE))
    moved = moved_copy(tmp_path)
    run = uuid.uuid4().hex[:6]
    at = datetime.now(UTC).replace(microsecond=0)
    incidents = [
        opened(f"inc-{run}-{n}", "int-api-gw", Layer.INTEGRATION, Category.OUTAGE, "P1", at)
        for n in range(2)
    ]
    sp = start_services(isolated, tmp_path / "run", ["router", "reporting"])
    try:
        await wait_healthy(sp)
        reporting = sp.urls["reporting"]
        await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", incidents)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            await owned_by(client, reporting, "appint", 2)
        env = {
            **isolated.env,
            "BATON_READER_TOKEN": isolated.credentials().readers["operator"],
        }

        def cli(*args: str) -> tuple[int, str]:
            result = CliRunner().invoke(contract_app, list(args), env=env)
            return result.exit_code, result.output

        # in a thread: the CLI runs its own event loop
        code, diff = await asyncio.to_thread(
            cli, "diff", str(EXAMPLE), str(moved), "--reporting", reporting
        )
        first = await asyncio.to_thread(cli, "publish", str(EXAMPLE), "--reporting", reporting)
        refused = await asyncio.to_thread(cli, "publish", str(moved), "--reporting", reporting)
        published = await asyncio.to_thread(
            cli, "publish", str(moved), "--reporting", reporting, "--yes"
        )
    finally:
        stop_services(sp)
    assert code == 0, diff
    assert "objects.int-api-gw: layer integration → network" in diff
    assert "objects.int-api-gw: owner of its incidents appint → hw (primary of network)" in diff
    for incident in incidents:
        assert f"{incident.subject}: owner appint → hw" in diff
    assert first[0] == 0, first[1]
    assert refused[0] == 1, refused[1]
    for incident in incidents:
        assert f"{incident.subject}: owner appint → hw" in refused[1]
    assert "not published: run again with --yes" in refused[1]
    assert published[0] == 0, published[1]
    assert "published" in published[1]


async def owned_by(client: httpx.AsyncClient, reporting: str, party: str, count: int) -> None:
    async with asyncio.timeout(60):
        while True:
            rows = (await client.get(f"{reporting}/v1/incidents")).json()
            if sum(r.get("primary_party") == party for r in rows) >= count:
                return
            await asyncio.sleep(0.3)
