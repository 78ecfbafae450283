"""Night approvals and access, executable (issue 26), on the real broker and database.

1. In contract time (sla-clock's test clock) on the example contract: a P1 on the accounting
   database at 02:05; the DBMS contractor requests ``db-privileged`` access at 02:10; nobody
   approves; at 02:25 (15 min lead time) the recovery clock is paused with ``no-approver``, its
   evidence filled; the approver approves at 02:40; the clock resumes; the closure report shows
   15 minutes paused with its evidence and who approved.
2. Through intake's HTTP API on the same contract, at night by the object's own calendar: the
   request, the approval by the approver, and each refusal — a grant by a contractor, a
   non-approver approving, approving twice, a manual ``no-access`` pause without a request.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from intake.access import apply_access
from intake.incidents import IncidentState

from shared import links
from shared.contract import load_contract
from shared.contract.view import ContractView
from shared.events import (
    AccessActionV1,
    AccessRequestV1,
    AccessStep,
    Envelope,
    EventType,
    IncidentStatus,
    SlaClockPausedV1,
    SlaClockResumedV1,
    make_event,
)
from tests import factories
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import read_topic, until
from tests.integration.test_sla_clock import ContractClock, publish, with_env

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contract"
ALMATY = ZoneInfo("Asia/Almaty")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def at(hh: int, mm: int) -> datetime:
    return datetime(2026, 3, 11, hh, mm, tzinfo=ALMATY)  # a Wednesday night


def example_contract(folder: Path, now: datetime | None = None) -> Path:
    """The example contract as one file; with ``now``, its office (which classifies every
    instant) open only one hour three days away — so it is after hours now, whenever the run."""
    doc = load_contract(EXAMPLE).model_dump(mode="json")
    doc["version"] = f"access-{uuid.uuid4().hex[:6]}"
    if now is not None:
        day = DAYS[(now.astimezone(ALMATY) + timedelta(days=3)).weekday()]
        office = next(c for c in doc["calendars"] if c["id"] == "office-almaty")
        office |= {"weekly": {day: ["09:00-10:00"]}, "extra_holidays": []}
        office.pop("moved_working_days", None)
        office.pop("holidays_country", None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "contract.json.yaml"
    path.write_bytes(orjson.dumps(doc))  # JSON is YAML
    return path


def access_step(
    state: IncidentState, kind: AccessStep, party: str, actor: str, when: datetime, **f: Any
) -> tuple[IncidentState, Envelope]:
    contract = load_contract(EXAMPLE)
    data = AccessActionV1(action=kind, party=party, actor=actor, **f)
    command = make_event(data, source="test", time=when, subject=state.id, event_id=uuid.uuid4())
    state, events, answer = apply_access(command, state, ContractView.of(contract), when)
    assert answer == (202, ""), answer
    return state, events[0]


async def test_the_clock_waits_for_the_approver_15_minutes_with_its_evidence(
    isolated: Isolated, tmp_path: Path
) -> None:
    incident = f"inc-acc-{uuid.uuid4().hex[:8]}"
    opened = factories.opened(
        incident,
        at(2, 5),
        object_id="pg-acc",
        summary="Accounting database down",
        fingerprint="am:pg-acc",
    )
    state = factories.state_of(opened, IncidentStatus.ACKNOWLEDGED)
    state, asked = access_step(
        state,
        AccessStep.REQUEST,
        "sysops",
        "dba",
        at(2, 10),
        rule="db-privileged",
        purpose="restore the accounting database",
    )
    request = asked.data_as(AccessRequestV1)
    clock = ContractClock(tmp_path / "clock", at(2, 10))
    env = with_env(
        isolated,
        BATON_CONTRACT_PATH=str(example_contract(tmp_path)),
        BATON_SLA_TICK_SECONDS="0.05",
        **clock.env(),
    )
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    await publish(bootstrap, f"{prefix}incidents", [opened, asked])
    sp = start_services(env, tmp_path / "run", ["sla-clock", "reporting"])
    try:
        await wait_healthy(sp)

        async def sla(kind: type[Any]) -> list[Any]:
            events = await read_topic(bootstrap, f"{prefix}sla")
            return [e.data for e in events if e.subject == incident and isinstance(e.data, kind)]

        await until("the clocks started", lambda: _started(bootstrap, prefix, incident))
        clock.stand(at(2, 24))
        assert await sla(SlaClockPausedV1) == []  # the lead time has not passed yet
        clock.stand(at(2, 25))
        [paused] = await until("the automatic pause", lambda: sla(SlaClockPausedV1))
        assert paused.pause_reason == "no-approver"
        assert paused.paused_at == at(2, 25)
        assert (paused.party, paused.actor) == ("sysops", "baton")
        assert request.request_id in paused.evidence[0]
        assert "passed at" in paused.evidence[1]
        assert "customer/it-duty" in paused.evidence[1]

        # 02:40: the approver approves (the command as intake decides it)
        _, approved = access_step(
            state,
            AccessStep.APPROVE,
            "customer",
            "it-duty",
            at(2, 40),
            request_id=request.request_id,
        )
        clock.stand(at(2, 40))
        await publish(bootstrap, f"{prefix}incidents", [approved])
        [resumed] = await until("the resume", lambda: sla(SlaClockResumedV1))
        assert resumed.pause_reason == "no-approver"
        assert resumed.resumed_at == at(2, 40)
        assert resumed.paused == timedelta(minutes=15)

        async with httpx.AsyncClient(auth=env.auth(), timeout=30) as client:

            async def report() -> dict[str, Any] | None:
                url = f"{sp.urls['reporting']}/v1/incidents/{incident}/report.json"
                response = await client.get(url)
                if response.status_code != 200 or "15 minutes" not in response.text:
                    return None
                doc: dict[str, Any] = response.json()
                return doc

            doc = await until("the closure report with the pause", report)
            view = (await client.get(f"{sp.urls['reporting']}/v1/incidents/{incident}")).json()
        sections = {s["title"]: s for s in doc["sections"]}
        [row] = sections["Access and approvals"]["tables"][0]["rows"]
        assert row[0] == request.request_id
        assert row[4].startswith("customer:it-duty at 2026-03-11 02:40")
        assert row[6] == "15 minutes"
        [pause] = sections["SLA clocks"]["tables"][1]["rows"]
        assert pause[3:6] == ["2026-03-11 02:25", "2026-03-11 02:40", "15 minutes"]
        assert request.request_id in pause[6]
        [listed] = view["access"]  # the incident view lists the request, its waits, its pause
        assert (listed["request_id"], listed["status"]) == (request.request_id, "approved")
        assert listed["approved_by"] == "customer:it-duty"
        assert listed["approval_wait_seconds"] == 30 * 60
        assert listed["paused_seconds"] == 15 * 60
    finally:
        stop_services(sp)


async def _started(bootstrap: str, prefix: str, incident: str) -> bool:
    events = await read_topic(bootstrap, f"{prefix}sla")
    return any(e.subject == incident and e.type == EventType.SLA_CLOCK_STARTED for e in events)


async def test_approval_through_the_api_and_each_refusal(
    isolated: Isolated, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    isolated.env |= {"BATON_CONTRACT_PATH": str(example_contract(tmp_path, now))}
    sp = start_services(isolated, tmp_path / "run", ["intake", "router", "reporting"])
    run = uuid.uuid4().hex[:8]
    alert = {
        "version": "4",
        "status": "firing",
        "receiver": "baton",
        "groupKey": f"pg-{run}",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "PostgresDown",
                    "service": "postgres",
                    "instance": "srv-pg-01",
                    "severity": "critical",
                },
                "annotations": {"summary": "Accounting database down"},
                "startsAt": now.isoformat(),
                "fingerprint": f"pg-{run}",
            }
        ],
    }
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(auth=isolated.auth(), timeout=60) as client:
            intake = sp.urls["intake"]
            response = await client.post(f"{intake}/v1/alerts/alertmanager", json=alert)
            assert response.status_code == 202, response.text

            async def opened() -> str | None:
                events = await read_topic(isolated.infra.bootstrap, f"{isolated.prefix}incidents")
                found = [e for e in events if e.type == EventType.INCIDENT_OPENED]
                return found[0].subject if found else None

            incident = await until("the incident opened", opened)
            access = f"{intake}/v1/incidents/{incident}/access"
            actions = f"{intake}/v1/incidents/{incident}/actions"

            async def post(url: str, body: dict[str, Any]) -> httpx.Response:
                return await client.post(url, json=body)

            # a manual no-access pause without a request is refused
            pause = {
                "action": "pause",
                "party": "sysops",
                "actor": "dba",
                "clock": "recovery",
                "pause_reason": "no-access",
                "evidence": ["asked security by phone at 02:10", "lead time 15m passed"],
            }
            refused = await post(actions, pause)
            assert refused.status_code == 409, refused.text
            assert "must point at an access request" in refused.json()["error"]

            def ask(purpose: str) -> dict[str, Any]:
                """sysops' DBA asks for the privileged database role."""
                return {
                    "action": "request_access",
                    "party": "sysops",
                    "actor": "dba",
                    "rule": "db-privileged",
                    "purpose": purpose,
                }

            asked = await post(access, ask("restore the database"))
            assert asked.status_code == 202, asked.text
            rid = asked.json()["request_id"]

            def step(kind: str, party: str, actor: str) -> dict[str, Any]:
                return {"action": kind, "party": party, "actor": actor, "request_id": rid}

            grant = await post(access, step("grant", "sysops", "security"))
            assert grant.status_code == 403, grant.text
            assert "only the rule's issuer customer/security" in grant.json()["error"]
            early = await post(access, step("grant", "customer", "security"))
            assert early.status_code == 409, early.text
            assert "waits for approval by customer/it-duty" in early.json()["error"]
            stranger = await post(access, step("approve", "customer", "security"))
            assert stranger.status_code == 403, stranger.text
            assert "only the rule's approver customer/it-duty" in stranger.json()["error"]
            key = {"Idempotency-Key": f"approve-{run}"}
            body = step("approve", "customer", "it-duty")
            approved = await client.post(access, json=body, headers=key)
            assert approved.status_code == 202, approved.text
            retried = await client.post(access, json=body, headers=key)  # the same command
            assert retried.status_code == 202, retried.text
            assert retried.json()["command_id"] == approved.json()["command_id"]
            twice = await post(access, step("approve", "customer", "it-duty"))
            assert twice.status_code == 409, twice.text
            assert "already answered" in twice.json()["error"]

            # a second request, approved through a signed link as the router mails it
            again = await post(access, ask("check the replica"))
            assert again.status_code == 202, again.text
            claims = {
                "incident": incident,
                "party": "customer",
                "step": AccessStep.APPROVE,
                "request": again.json()["request_id"],
                "nonce": "n-approve",
                "expires": int((now + timedelta(hours=1)).timestamp()),
                "to": "it-duty",
            }
            token = links.sign(isolated.credentials().links_secret, links.Claims(**claims))
            page = await client.get(f"{intake}/v1/links/{token}")
            assert "Approve access request" in page.text
            pressed = await client.post(f"{intake}/v1/links/{token}")
            assert pressed.status_code == 200, pressed.text
            assert "Done" in pressed.text
            used = await client.post(f"{intake}/v1/links/{token}")
            assert used.status_code == 410

            # the customer confirms an automatic pause; a contractor may not
            pauses = f"{intake}/v1/incidents/{incident}/pauses"
            confirm = {
                "verdict": "confirm",
                "party": "customer",
                "actor": "it-duty",
                "clock": "recovery",
                "pause_reason": "no-approver",
                "paused_at": now.isoformat(),
            }
            confirmed = await post(pauses, confirm)
            assert confirmed.status_code == 202, confirmed.text
            forbidden = await post(pauses, {**confirm, "party": "sysops", "actor": "dba"})
            assert forbidden.status_code == 403, forbidden.text

            async def recorded() -> list[Envelope]:
                events = await read_topic(isolated.infra.bootstrap, f"{isolated.prefix}incidents")
                kinds = {EventType.ACCESS_REQUEST, EventType.ACCESS_REFUSED}
                found = [e for e in events if e.subject == incident and e.type in kinds]
                return found if len(found) >= 8 else []

            events = await until("the steps recorded", recorded)
            steps = [e.data for e in events if isinstance(e.data, AccessRequestV1)]
            assert [s.status.value for s in steps] == [
                "requested",
                "approved",
                "requested",
                "approved",
            ]
            assert steps[0].needs_approval
            assert steps[1].approved_by == "customer:it-duty"
            assert steps[3].approved_by == "customer:it-duty (link)"
    finally:
        stop_services(sp)
