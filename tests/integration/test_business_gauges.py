"""Reporting's business gauges with two instances (ADR 67): one instance shows them, so the
dashboards' ``sum()`` over instances counts each open incident once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.factories import opened
from tests.integration.conftest import Isolated, ServiceProcs, started, stop_services
from tests.integration.helpers import QUICK_REBALANCE, polled
from tests.integration.test_sla_clock import group_members, publish, with_env

OPEN = 7


def incidents_open(metrics: str) -> float | None:
    """The sum of ``baton_incidents_open``'s series, None where it has none."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("baton_incidents_open{")
    ]
    return sum(values) if values else None


async def test_one_of_two_instances_shows_the_open_incidents(
    isolated: Isolated, tmp_path: Path
) -> None:
    env = with_env(isolated, **QUICK_REBALANCE)
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    events = [opened(f"inc-gauge-{i}", t0 + timedelta(minutes=i)) for i in range(OPEN)]
    instances: list[ServiceProcs] = []
    try:
        instances.append(await started(env, tmp_path / "a", ["reporting"]))
        instances.append(await started(env, tmp_path / "b", ["reporting"]))
        await group_members(isolated, "reporting", 2)
        await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", events)
        seen: list[list[float | None]] = [[]]

        async def one_shows_all() -> bool:
            async with httpx.AsyncClient(auth=isolated.auth()) as client:
                seen[0] = [
                    incidents_open((await client.get(f"{sp.urls['reporting']}/metrics")).text)
                    for sp in instances
                ]
            return sorted(seen[0], key=lambda v: v is not None) == [None, OPEN]

        await polled(one_shows_all, lambda: f"baton_incidents_open per instance: {seen[0]}")
    finally:
        for sp in instances:
            stop_services(sp)
