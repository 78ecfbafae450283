"""Batches keep the guarantees: a consumer killed after its batch's publishes and before its
commit loses and doubles nothing downstream; two instances of each service in one consumer
group split a storm between them and nothing is doubled."""

from __future__ import annotations

import asyncio
import re
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.events import AssignmentIssuedV3, Envelope, EventType
from tests.integration.conftest import Fleet, Isolated, ServiceProcs
from tests.integration.helpers import (
    QUICK_REBALANCE,
    alert_path_reads,
    alertmanager_payload,
    collect_until,
    read_topic,
    wait_consumed,
)

STORM = 30


def storm_bodies(run: str) -> list[dict[str, Any]]:
    """STORM alerts on distinct hosts outside the perimeter, five per webhook: each opens its
    own incident, and their keys spread over every partition."""
    now = datetime.now(UTC)
    bodies = []
    for start in range(0, STORM, 5):
        alerts = []
        for i in range(start, start + 5):
            one = alertmanager_payload(
                now,
                labels={"alertname": "Storm", "instance": f"b-{run}-{i}"},
                fingerprint=f"{run}-{i}",
            )
            alerts.extend(one["alerts"])
        bodies.append({**alertmanager_payload(now), "alerts": alerts})
    return bodies


async def post_storm(intake: str, run: str, auth: httpx.Auth) -> None:
    async with httpx.AsyncClient(timeout=30, auth=auth) as client:
        for body in storm_bodies(run):
            response = await client.post(f"{intake}/v1/alerts/alertmanager", json=body)
            assert response.status_code == 202, response.text


def primaries(events: list[Envelope]) -> list[Envelope]:
    return [
        e
        for e in events
        if isinstance(e.data, AssignmentIssuedV3) and e.data.role.value == "primary"
    ]


async def reporting_rows(url: str, want: int, auth: httpx.Auth) -> list[dict[str, Any]]:
    """Reporting's incidents once ``want`` of them have their primary party (deadline 60 s)."""
    async with httpx.AsyncClient(timeout=30, auth=auth) as client, asyncio.timeout(60):
        while True:
            rows = (await client.get(f"{url}/v1/incidents?limit=1000")).json()
            if sum(1 for r in rows if r["primary_party"]) >= want:
                return list(rows)
            await asyncio.sleep(0.2)


async def test_router_killed_between_publish_and_commit_loses_and_doubles_nothing(
    isolated: Isolated, fleet: Fleet
) -> None:
    run = uuid.uuid4().hex[:6]
    isolated.env.update(QUICK_REBALANCE)  # the killed router's partitions move after 6 s
    others = fleet.start("others", ["intake", "reporting"])
    first = fleet.start("first", ["router"], {"BATON_TEST_CRASH_AFTER_PUBLISH": "router"})
    await fleet.healthy()
    await post_storm(others.urls["intake"], run, isolated.auth())
    # the first router publishes its first batch's assignments, then dies before committing
    code = await asyncio.to_thread(first.procs["router"].wait, 60)
    assert code == -signal.SIGKILL, first.log_tail("router")
    await fleet.started("second", ["router"])
    await collect_until(
        isolated.infra.bootstrap,
        f"{isolated.prefix}assignments",
        lambda got: len({e.subject for e in primaries(got)}) >= STORM,
    )
    # every input handled (repeats included, by reporting too), then everyone stopped
    await wait_consumed(
        isolated.infra.bootstrap,
        alert_path_reads(isolated.prefix, ["intake", "router", "reporting"]),
    )
    rows = await reporting_rows(others.urls["reporting"], STORM, isolated.auth())
    async with httpx.AsyncClient(timeout=30, auth=isolated.auth()) as client:
        answers = await asyncio.gather(
            *(client.get(f"{others.urls['reporting']}/v1/incidents/{r['id']}") for r in rows)
        )
        timelines = [answer.json() for answer in answers]
    fleet.stop()
    events = await read_topic(isolated.infra.bootstrap, f"{isolated.prefix}assignments")
    ids = [e.id for e in events]
    assert len(ids) > len(set(ids)), "the killed batch's assignments were not republished"
    assert len({e.subject for e in primaries(events)}) == STORM  # nothing lost
    assert len({e.id for e in primaries(events)}) == STORM  # a repeat carries the same id
    assert len(rows) == STORM
    for timeline in timelines:  # reporting recorded each assignment once
        issued = [t for t in timeline["timeline"] if t["type"] == EventType.ASSIGNMENT_ISSUED]
        assert len(issued) == len({t["event_id"] for t in issued}) >= 1


def _records(metrics: str, consumer: str) -> float:
    found = re.search(
        rf'^baton_batch_records_sum\{{consumer="{re.escape(consumer)}"\}} (\S+)$', metrics, re.M
    )
    return float(found.group(1)) if found else 0.0


CONSUMERS = {
    "intake": "intake.alerts",
    "router": "router",
    "sla-clock": "sla-clock",
    "reporting": "reporting",
}


async def split(a: ServiceProcs, b: ServiceProcs) -> dict[str, list[float]]:
    """Records each consumer handled so far, per instance."""
    async with httpx.AsyncClient(timeout=30) as client:
        out = {}
        for name, consumer in CONSUMERS.items():
            texts = [(await client.get(f"{p.urls[name]}/metrics")).text for p in (a, b)]
            out[consumer] = [_records(t, consumer) for t in texts]
        return out


async def test_two_instances_of_each_service_split_a_storm_without_duplicates(
    isolated: Isolated, fleet: Fleet
) -> None:
    run = uuid.uuid4().hex[:6]
    isolated.env.update(QUICK_REBALANCE)  # b's instances join a's groups sooner
    a = fleet.start("a", list(CONSUMERS))
    b = fleet.start("b", list(CONSUMERS))
    await fleet.healthy()
    # warm up until every instance has records, i.e. each group has split its partitions
    warm = 0
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(90):
        next_post = loop.time()
        while True:
            before = await split(a, b)
            if all(min(counts) > 0 for counts in before.values()):
                break
            if loop.time() >= next_post:  # another wave while some instance has none
                await post_storm(a.urls["intake"], f"{run}w{warm}", isolated.auth())
                warm += 1
                next_post = loop.time() + 3
            await asyncio.sleep(0.2)
    await post_storm(a.urls["intake"], run, isolated.auth())
    await post_storm(b.urls["intake"], f"{run}b", isolated.auth())
    incidents = (warm + 2) * STORM
    await collect_until(
        isolated.infra.bootstrap,
        f"{isolated.prefix}assignments",
        lambda got: len({e.subject for e in primaries(got)}) >= incidents,
    )
    # every input handled, then everyone stopped: all that was published
    await wait_consumed(
        isolated.infra.bootstrap, alert_path_reads(isolated.prefix, list(CONSUMERS))
    )
    rows = await reporting_rows(a.urls["reporting"], incidents, isolated.auth())
    after = await split(a, b)
    fleet.stop()
    events = await read_topic(isolated.infra.bootstrap, f"{isolated.prefix}assignments")
    ids = [e.id for e in primaries(events)]
    assert len(ids) == len(set(ids)) == incidents  # one primary assignment per incident
    assert len(rows) == incidents
    for consumer, counts in after.items():
        storm = [n - m for n, m in zip(counts, before[consumer], strict=True)]
        # both instances took part. The split follows the partitions each one holds (3 per
        # topic between 2 instances: one third against two thirds is already the expected
        # shape) and the keys' hashes over them, so "equal" is loose: neither instance took
        # less than a tenth of the storm's records (a fifth failed once here: 13 of 68)
        assert min(storm) >= 0.1 * sum(storm), f"{consumer}: {storm}"
