"""Secure by default (shared/doors.py), on the real entry points: a service without its
credentials refuses to start, naming the settings; with BATON_INSECURE=1 it starts, warns per
open door in its log and exports ``baton_insecure_mode``; with credentials it starts quietly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from shared.doors import REFUSED_EXIT_CODE
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy

# door reason -> the setting named in the refusal; per service
DOORS = {
    "intake": {
        "receivers without authentication": "BATON_INTAKE_SOURCE_TOKENS",
        "actions without party tokens": "BATON_INTAKE_PARTY_TOKENS",
    },
    "reporting": {"read API without reader tokens": "BATON_REPORTING_READER_TOKENS"},
}
# what a service started bare has: none of the credentials the slice would give it
BARE = {
    "BATON_INTAKE_SOURCE_TOKENS": "{}",
    "BATON_INTAKE_HMAC_SECRETS": "{}",
    "BATON_INTAKE_PARTY_TOKENS": "{}",
    "BATON_REPORTING_READER_TOKENS": "{}",
}


def _log_lines(path: Path) -> list[dict[str, object]]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


@pytest.mark.parametrize("service", sorted(DOORS))
def test_refuses_to_start_without_credentials(
    service: str, isolated: Isolated, tmp_path: Path
) -> None:
    isolated.env |= BARE
    sp = start_services(isolated, tmp_path, [service])
    try:
        code = sp.procs[service].wait(timeout=120)  # the refusal comes before any I/O
    except subprocess.TimeoutExpired:
        stop_services(sp)
        pytest.fail(f"{service} started without credentials:\n{sp.log_tail(service)}")
    text = sp.logs[service].read_text()
    assert code == REFUSED_EXIT_CODE, text
    assert f"{service} refuses to start without credentials" in text
    for setting in DOORS[service].values():
        assert setting in text
    assert "BATON_INSECURE=1" in text


@pytest.mark.parametrize("service", sorted(DOORS))
async def test_starts_insecure_saying_so_in_log_and_metric(
    service: str, isolated: Isolated, tmp_path: Path
) -> None:
    isolated.env |= BARE | {"BATON_INSECURE": "1"}
    sp = start_services(isolated, tmp_path, [service])
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{sp.urls[service]}/metrics")).text
        warned = {
            line["door"]
            for line in _log_lines(sp.logs[service])
            if line.get("level") == "warning" and "door" in line
        }
    finally:
        stop_services(sp)
    assert warned == set(DOORS[service])
    for reason in DOORS[service]:
        assert f'baton_insecure_mode{{reason="{reason}",service="{service}"}} 1.0' in metrics


async def test_with_credentials_nothing_is_open(isolated: Isolated, tmp_path: Path) -> None:
    """The slice gives each service its share, as `baton stack up` does: nothing open, and
    the read side answers only a reader."""
    sp = start_services(isolated, tmp_path, sorted(DOORS))
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient() as client:
            for service, url in sp.urls.items():
                metrics = (await client.get(f"{url}/metrics")).text
                assert "baton_insecure_mode{" not in metrics, service
                assert "INSECURE" not in sp.logs[service].read_text()
            incidents = f"{sp.urls['reporting']}/v1/incidents"
            assert (await client.get(incidents)).status_code == 401
            assert (await client.get(incidents, auth=isolated.auth())).status_code == 200
    finally:
        stop_services(sp)
