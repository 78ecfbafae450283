"""One alert, one trace: W3C trace context travels in Kafka headers through all four services."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import alertmanager_payload, collect


def traces_in(log: str) -> set[str]:
    """The traces a service's spans belong to or link to (a batch consumer's span starts its
    own trace and links to each message's, as OpenTelemetry's messaging conventions say)."""
    found: set[str] = set()
    for line in log.splitlines():
        if line.startswith('{"span":'):
            span = json.loads(line)
            found.add(span["trace_id"])
            found.update(span["links"])
    return found


async def test_one_alert_is_one_trace_across_the_four_services(
    isolated: Isolated, tmp_path: Path
) -> None:
    isolated.env["BATON_OTEL_EXPORTER"] = "console"  # spans as JSON on each service's stdout
    sp = start_services(isolated, tmp_path)
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            response = await client.post(
                f"{sp.urls['intake']}/v1/alerts/alertmanager",
                json=alertmanager_payload(datetime.now(UTC)),
            )
            assert response.status_code == 202
        await collect(isolated.infra.bootstrap, f"{isolated.prefix}assignments", 2)
        await collect(isolated.infra.bootstrap, f"{isolated.prefix}sla", 2)
        # reporting has recorded them
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            for _ in range(100):
                rows = (await client.get(f"{sp.urls['reporting']}/v1/incidents")).json()
                if rows and rows[0]["primary_party"]:
                    break
    finally:
        stop_services(sp)  # a graceful stop flushes the batched spans

    traces = {name: traces_in(sp.logs[name].read_text()) for name in sp.logs}
    for name, ids in traces.items():
        assert ids, f"{name} exported no span:\n{sp.log_tail(name)}"
    shared = set.intersection(*traces.values())
    assert len(shared) == 1, f"expected the alert's one trace in every service, got {traces}"
