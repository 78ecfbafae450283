"""Everyone is told when a deadline moves (issue 23), on the real broker and database: an
incident opens on a business-hours workstation group while its office is closed (deadline days
away); the origin moves to the database, round the clock, same priority. sla-clock publishes the
new deadline, reporting shows it, and the router re-issues it to the database's owner."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import yaml

from shared.events import (
    AssignmentIssuedV3,
    AssignmentRole,
    EventType,
    SlaClockRecomputedV1,
    stable_id,
)
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import read_topic, until
from tests.integration.test_intake import logon_failures

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def closed_office_contract(now: datetime) -> dict[str, Any]:
    """The intake fixture with the office open one hour, three days from now (so closed now,
    whatever the hour of the run), every target on its object's calendar, the workstations on
    the office's, everything else round the clock, the database as medium as the workstations
    (the origin moving changes the calendar, not the priority)."""
    doc = yaml.safe_load((FIXTURES / "contract.yaml").read_text())
    day = DAYS[(now + timedelta(days=3)).weekday()]
    for calendar in doc["calendars"]:
        if calendar["id"] == "office":
            calendar["weekly"] = {day: ["09:00-10:00"]}
            calendar.pop("holidays_country", None)
    for target in doc["sla"]["targets"]:
        target.pop("calendar", None)
    for obj in doc["objects"]:
        obj["calendar"] = "office" if obj["id"] == "ws-accounting" else "24x7"
        if obj["id"] == "pg-main":
            obj["criticality"] = "medium"
    doc["version"] = f"recompute-{uuid.uuid4().hex[:6]}"
    out: dict[str, Any] = doc
    return out


async def notices_of_reissues(
    dsn: str, bootstrap: str, prefix: str, incident: str
) -> dict[tuple[str, str], int]:
    """How many messages each person got per channel for the assignments the recomputation
    re-issued (id ``stable_id("assignment", recomputed event id, party)``; the handover may come
    before or after the recomputation, so its deadlines do not tell it apart); empty until both
    re-issues are out and their rows committed."""
    recomputed = [
        e.id
        for e in await read_topic(bootstrap, f"{prefix}sla")
        if e.type == EventType.SLA_CLOCK_RECOMPUTED and e.subject == incident
    ]
    reissues = [
        e.id
        for e in await read_topic(bootstrap, f"{prefix}assignments")
        if isinstance(e.data, AssignmentIssuedV3)
        and e.subject == incident
        and e.id in {stable_id("assignment", r, e.data.party) for r in recomputed}
    ]
    if len(reissues) < 2:  # one per clock event
        return {}
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT recipient, channel, count(*) AS n FROM router.notifications"
            " WHERE incident_id = $1 AND event_id = ANY($2::uuid[]) GROUP BY 1, 2",
            incident,
            reissues,
        )
    finally:
        await conn.close()
    return {(r["recipient"], r["channel"]): r["n"] for r in rows}


async def test_origin_moving_to_a_24x7_object_is_published_shown_and_reissued(
    isolated: Isolated, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(closed_office_contract(now), sort_keys=False))
    isolated.env |= {
        "BATON_CONTRACT_PATH": str(contract),
        "BATON_INTAKE_TICK_SECONDS": "0.5",
        # rows are written whether or not a message gets through: nothing listens on port 9
        "BATON_NOTIFY_SENDERS": json.dumps(
            {"email": "mailto://127.0.0.1:9?from=baton@baton.local&to={address}&mode=insecure"}
        ),
    }
    sp = start_services(isolated, tmp_path)
    run = uuid.uuid4().hex[:6]
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    try:
        await wait_healthy(sp)
        ws = logon_failures(run, category="degradation")
        pg = orjson.loads((FIXTURES / "alertmanager.json").read_bytes())
        pg["alerts"][0] |= {"fingerprint": f"pg-{run}", "startsAt": now.isoformat()}
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
            intake = sp.urls["intake"]
            response = await client.post(f"{intake}/v1/alerts", json=ws)
            assert response.status_code == 202, response.text

            async def opened() -> str | None:
                events = await read_topic(bootstrap, f"{prefix}sla")
                started = [e for e in events if e.type == EventType.SLA_CLOCK_STARTED]
                return str(started[0].subject) if started else None

            incident = await until("the workstations' clocks started", opened)
            response = await client.post(f"{intake}/v1/alerts/alertmanager", json=pg)
            assert response.status_code == 202, response.text

            async def recomputed() -> dict[str, SlaClockRecomputedV1]:
                events = await read_topic(bootstrap, f"{prefix}sla")
                found = {
                    e.data.clock.value: e.data
                    for e in events
                    if isinstance(e.data, SlaClockRecomputedV1) and e.subject == incident
                }
                return found if len(found) == 2 else {}

            published = await until("sla-clock's recomputation", recomputed)
            response_due = published["response"].deadline
            assert response_due is not None
            assert published["response"].calendar == "24x7"
            assert response_due < now + timedelta(days=1)  # not the office's, days away

            async def shown() -> dict[str, Any] | None:
                body = (await client.get(f"{sp.urls['reporting']}/v1/incidents/{incident}")).json()
                clocks = {c["clock"]: c for c in body.get("clocks", [])}
                response = clocks.get("response")
                if response and response["deadline"] == response_due.isoformat().replace(
                    "+00:00", "Z"
                ):
                    return clocks
                if response and datetime.fromisoformat(response["deadline"]) == response_due:
                    return clocks
                return None

            clocks = await until("reporting showing the new deadline", shown)
            assert clocks["response"]["calendar"] == "24x7"

            async def reissued() -> AssignmentIssuedV3 | None:
                events = await read_topic(bootstrap, f"{prefix}assignments")
                issued = [
                    e.data
                    for e in events
                    if isinstance(e.data, AssignmentIssuedV3)
                    and e.subject == incident
                    and e.data.role == AssignmentRole.PRIMARY
                    and e.data.deadlines is not None
                    and e.data.deadlines.response_due == response_due
                ]
                return issued[-1] if issued else None

            assignment = await until("the router re-issuing the deadline", reissued)
            assert assignment.party == "osdb"  # the database's owner, after the handover
        # one recomputation, two clock events, two re-issues on Kafka: each person told once
        told = await until(  # the rows commit after the events are out
            "the re-issues' notifications",
            lambda: notices_of_reissues(isolated.dsn, bootstrap, prefix, incident),
        )
        assert set(told.values()) == {1}, told
    finally:
        stop_services(sp)
