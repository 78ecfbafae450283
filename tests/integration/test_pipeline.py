"""The walking skeleton end to end on the real broker and database.

Alertmanager webhook → intake → IncidentOpened → router (primary owner + coordinator) →
sla-clock (response and recovery deadlines) → acknowledgement (HTTP), restoration (commands
topic), customer confirmation (HTTP) → reporting's incident row, timeline and closure report.
Every service is a real process; stop any one and this test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.events import (
    ActionKind,
    AssignmentIssuedV3,
    Envelope,
    EventType,
    PartyActionV2,
    SlaClockStartedV1,
    make_event,
)
from shared.topics import inbox_name
from tests.integration.conftest import (
    SERVICES,
    Isolated,
    ServiceProcs,
    start_services,
    stop_services,
    wait_healthy,
)
from tests.integration.helpers import (
    NeverArrived,
    alert_path_reads,
    alertmanager_payload,
    kafka,
    read_topic,
    wait_consumed,
)


class Unreached(Exception):
    """The pipeline stopped at ``stage``: the service responsible never did its part."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage} never did its part: {cause}")
        self.stage = stage


@contextlib.asynccontextmanager
async def reached(stage: str) -> AsyncIterator[None]:
    """Wrap only the wait for ``stage``'s service (a request to it, or its output on a topic):
    its absence — nothing arrived in time, or nothing listens — becomes Unreached(stage); any
    other error, and a wrong result (checked outside), stays a failure."""
    try:
        yield
    except (NeverArrived, httpx.ConnectError) as exc:
        raise Unreached(stage, exc) from exc


async def output(
    isolated: Isolated,
    topic: str,
    done: Callable[[list[Envelope]], bool],
    running: list[str],
    timeout: float,
) -> list[Envelope]:
    """``topic``'s events once ``done`` holds for them. Waited for as the running services'
    consumers handle all their input (each publishes before it commits), then read whole:
    NeverArrived if ``done`` fails even then, as none of them will write more."""
    bootstrap = isolated.infra.bootstrap
    await wait_consumed(bootstrap, alert_path_reads(isolated.prefix, running), timeout)
    events = await read_topic(bootstrap, topic)
    if not done(events):
        got = [(e.type.value, e.subject) for e in events]
        raise NeverArrived(f"{topic}: nothing more will come, and not enough came: {got}")
    return events


async def poll_incident(
    client: httpx.AsyncClient, url: str, until: str, timeout: float
) -> dict[str, Any]:
    for _ in range(int(timeout / 0.2)):
        response = await client.get(url)
        if response.status_code == 200 and response.json()["incident"]["status"] == until:
            body: dict[str, Any] = response.json()
            return body
        await asyncio.sleep(0.2)
    raise NeverArrived(f"{url} never reached status {until}: {response.text}")


async def test_alert_to_closure_report(isolated: Isolated, services: ServiceProcs) -> None:
    await drive_pipeline(isolated, services.urls, list(SERVICES))


@pytest.mark.parametrize("missing", list(SERVICES))
async def test_the_pipeline_needs_every_service(
    isolated: Isolated, tmp_path: Path, missing: str
) -> None:
    """The end-to-end test above stops exactly where the missing service has its part."""
    running = [s for s in SERVICES if s != missing]
    sp = start_services(isolated, tmp_path, running)
    try:
        await wait_healthy(sp)
        urls = {**sp.urls, missing: "http://127.0.0.1:9"}  # nothing listens there
        with pytest.raises(Unreached) as stopped:
            await drive_pipeline(isolated, urls, running)
        assert stopped.value.stage == missing, str(stopped.value)
    finally:
        stop_services(sp)


async def drive_pipeline(
    isolated: Isolated, urls: dict[str, str], running: list[str], timeout: float = 60
) -> None:
    """One alert from webhook to closure report, each stage waited for; ``running`` are the
    services started (a stage whose output waits on Kafka ends once they are idle)."""
    now = datetime.now(UTC)
    bootstrap = isolated.infra.bootstrap
    async with httpx.AsyncClient(timeout=30, auth=isolated.auth()) as client:
        async with reached("intake"):
            response = await client.post(
                f"{urls['intake']}/v1/alerts/alertmanager", json=alertmanager_payload(now)
            )
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1

        # router: the DBMS layer's primary party and the coordinator, one message each
        async with reached("router"):
            assignments = await output(
                isolated,
                f"{isolated.prefix}assignments",
                lambda events: sum(e.type == EventType.ASSIGNMENT_ISSUED for e in events) >= 2,
                running,
                timeout,
            )
        incident_id = str(assignments[0].subject)
        issued = [
            a.data_as(AssignmentIssuedV3)
            for a in assignments
            if a.type == EventType.ASSIGNMENT_ISSUED
        ]
        by_role = {a.role.value: a for a in issued}
        assert {a.subject for a in assignments} == {incident_id}
        assert by_role["primary"].party == "osdb"
        assert by_role["primary"].layer == "dbms"
        assert by_role["primary"].object_id == "pg-main"
        assert by_role["primary"].priority == "P1"
        assert by_role["coordinator"].party == "apps"

        # sla-clock: response 15 min and recovery 4 h for an outage at P1 (the contract's row)
        async with reached("sla-clock"):
            sla_events = await output(
                isolated, f"{isolated.prefix}sla", lambda events: len(events) >= 2, running, timeout
            )
        started = [e.data_as(SlaClockStartedV1) for e in sla_events]
        targets = {clock.clock.value: clock.target for clock in started}
        assert targets == {"response": timedelta(minutes=15), "recovery": timedelta(hours=4)}
        for clock in started:
            assert clock.deadline == clock.started_at + clock.target

        actions = f"{urls['intake']}/v1/incidents/{incident_id}/actions"
        ack = await client.post(
            actions, json={"action": "acknowledge", "party": "osdb", "actor": "night.engineer"}
        )
        assert ack.status_code == 202, ack.text
        incident_url = f"{urls['reporting']}/v1/incidents/{incident_id}"
        async with reached("reporting"):
            await poll_incident(client, incident_url, "acknowledged", timeout)

        # the contractor's system reports restoration over Kafka, in its own command inbox
        restored = make_event(
            PartyActionV2(
                action=ActionKind.RESTORED,
                party="osdb",
                actor="night.engineer",
                cause="data volume full: WAL archiving stalled",
                actions_taken=["freed WAL space", "restarted archiver"],
                recurrence_risk="medium until the volume is enlarged",
            ),
            source="contractor:osdb",
            time=datetime.now(UTC),
            subject=incident_id,
        )
        producer = AIOKafkaProducer(**kafka(bootstrap), enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(
                inbox_name(isolated.prefix, "osdb"), restored.to_json(), key=incident_id.encode()
            )
        finally:
            await producer.stop()
        await poll_incident(client, incident_url, "restored", timeout)

        # a contractor cannot confirm: refused and recorded; the customer can
        refused = await client.post(
            actions, json={"action": "confirm", "party": "osdb", "actor": "night.engineer"}
        )
        assert refused.status_code == 403, refused.text  # refused at once, and recorded
        confirm = await client.post(
            actions, json={"action": "confirm", "party": "customer", "actor": "chief.accountant"}
        )
        assert confirm.status_code == 202, confirm.text
        closed = await poll_incident(client, incident_url, "closed", timeout)
        # the sla topic reaches reporting on its own schedule: wait for both clocks' stops
        for _ in range(int(timeout / 0.2)):
            stops = [e for e in closed["timeline"] if e["type"] == "baton.sla.clock_stopped"]
            if len(stops) >= 2:
                break
            await asyncio.sleep(0.2)
            closed = (await client.get(incident_url)).json()

    types = [e["type"] for e in closed["timeline"]]
    for expected in (
        EventType.INCIDENT_OPENED,
        EventType.ASSIGNMENT_ISSUED,
        EventType.SLA_CLOCK_STARTED,
        EventType.ACTION_ACCEPTED,
        EventType.ACTION_REFUSED,
        EventType.SLA_CLOCK_STOPPED,
        EventType.INCIDENT_CLOSED,
    ):
        assert expected.value in types, f"{expected} missing from timeline {types}"
    assert types.count(EventType.ASSIGNMENT_ISSUED.value) == 2

    conn = await asyncpg.connect(isolated.dsn)
    try:
        await conn.execute("SET search_path = reporting")
        report = await conn.fetchrow(
            "SELECT * FROM closure_reports WHERE incident_id = $1", incident_id
        )
        stopped = await conn.fetch(
            "SELECT data FROM incident_events WHERE incident_id = $1 AND type = $2",
            incident_id,
            EventType.SLA_CLOCK_STOPPED.value,
        )
    finally:
        await conn.close()
    assert report is not None
    assert report["cause"] == "data volume full: WAL archiving stalled"
    assert report["confirmed_by"] == "customer:chief.accountant"
    assert "osdb" in report["provider_participants"]
    assert "apps" in report["provider_participants"]
    assert report["downtime"] > timedelta(minutes=2)
    assert len(stopped) == 2  # response met by the acknowledgement, recovery by restoration
