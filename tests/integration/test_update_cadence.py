"""The update cadence on the real broker and database, in contract time (issue 27, ADR 47).

A P1 opens at 02:00; nobody updates the customer: sla-clock reminds the coordinator at 02:20
(ten minutes before, Baton's default) and publishes the overdue update at 02:30, each once. The
coordinator's update at 02:40 stops the cadence running late: the next update is due at 03:10,
and nothing more fires before then. The test plays intake (the incidents topic's one writer) and
moves sla-clock's time with the contract clock of ``test_sla_clock``. Reporting, beside it,
puts the late update and the update given in the incident's closure report; the router's
notification outbox holds the reminder and the overdue for the coordinator and the update for
the customer. The contract's level 3 names ``update_overdue`` (ADR 54): the router escalates the
late update to it, once, and its service manager is told.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
from reporting.closure_report import closure_document
from reporting.document_facts import closure_facts

from shared.contract import Contract, load_contract
from shared.contract.view import ContractView
from shared.db import Conn
from shared.documents import to_json
from shared.events import (
    ActionKind,
    AssignmentEscalatedV3,
    Category,
    Envelope,
    EscalationReason,
    EventType,
    Layer,
    UpdateDueV1,
    UpdateOverdueV1,
)
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import reporting_holds, timers_fired
from tests.integration.test_sla_clock import (
    ContractClock,
    TopicReader,
    accepted,
    consumed,
    opened,
    publish,
    sla_clock_env,
    write_contract,
)

M = timedelta(minutes=1)
OPEN = datetime(2026, 10, 28, 2, 0, tzinfo=UTC)
CADENCE = (EventType.UPDATE_DUE, EventType.UPDATE_OVERDUE)


async def settled(isolated: Isolated, at: datetime) -> None:
    """Every incident fact handled and every update timer due by ``at`` fired."""
    await consumed(isolated)
    await timers_fired(isolated.dsn, "sla_clock.update_timers", at)


UPDATE_LEVEL = {
    "level": 3,
    "name": "Coordinator's service manager",
    "triggers": ["update_overdue"],
    "contacts": ["apps/manager"],
}


def write_cadence_contract(folder: Path) -> tuple[Path, Contract]:
    """test_sla_clock's contract with a level that hears of late customer updates."""
    path, _ = write_contract(folder)
    doc = orjson.loads(path.read_bytes())
    doc["escalation"].append(UPDATE_LEVEL)
    doc["parties"]["apps"]["contacts"]["manager"]["channels"]["email"] = "sm@appworks.example"
    path.write_bytes(orjson.dumps(doc))
    return path, load_contract(path)


def late_updates(events: list[Envelope], inc: str) -> list[AssignmentEscalatedV3]:
    return [
        e.data
        for e in events
        if e.subject == inc
        and isinstance(e.data, AssignmentEscalatedV3)
        and e.data.reason == EscalationReason.UPDATE_OVERDUE
    ]


async def test_a_p1_without_update_reminds_then_is_overdue_and_an_update_stops_it(
    isolated: Isolated, tmp_path: Path
) -> None:
    contract_path, contract = write_cadence_contract(tmp_path)
    clock = ContractClock(tmp_path, OPEN)
    inc = f"inc-u-{uuid.uuid4().hex[:6]}"
    incidents = f"{isolated.prefix}incidents"
    sp = start_services(
        sla_clock_env(
            isolated,
            contract_path,
            clock,
            # rows of the router's notification outbox are what is checked; nothing is sent
            BATON_NOTIFY_SENDERS=json.dumps({"email": "mailto://127.0.0.1:9?to={address}"}),
        ),
        tmp_path / "run",
        ["sla-clock", "reporting", "router"],
    )
    try:
        await wait_healthy(sp)
        async with (
            TopicReader(isolated.infra.bootstrap, f"{isolated.prefix}sla", skip=frozenset()) as sla,
            TopicReader(
                isolated.infra.bootstrap, f"{isolated.prefix}assignments", skip=frozenset()
            ) as assignments,
        ):

            def cadence() -> list[tuple[EventType, datetime]]:
                return [(e.type, e.time) for e in sla.events() if e.type in CADENCE]

            await publish(
                isolated.infra.bootstrap,
                incidents,
                [opened(inc, "pg-main", Layer.DBMS, Category.OUTAGE, "P1", OPEN)],
            )
            clock.stand(OPEN + 19 * M)
            await settled(isolated, OPEN + 19 * M)
            await sla.to_end()
            assert cadence() == []  # nothing due yet

            clock.stand(OPEN + 20 * M)
            await sla.until(lambda: len(cadence()) == 1, "the reminder at 02:20")
            clock.stand(OPEN + 30 * M)
            await sla.until(lambda: len(cadence()) == 2, "the overdue update at 02:30")
            reminder, overdue = (e for e in sla.events() if e.type in CADENCE)
            assert reminder.data_as(UpdateDueV1).due == OPEN + 30 * M
            assert reminder.time == OPEN + 20 * M  # before it is due
            late = overdue.data_as(UpdateOverdueV1)
            assert (late.due, late.detected_at, late.coordinator) == (
                OPEN + 30 * M,
                OPEN + 30 * M,
                contract.coordinator,
            )
            assert overdue.subject == inc
            # the level naming update_overdue hears of it, from the router
            await assignments.until(
                lambda: bool(late_updates(assignments.events(), inc)), "the late update's level"
            )
            (escalated,) = late_updates(assignments.events(), inc)
            assert (escalated.level, escalated.update_due) == (3, OPEN + 30 * M)
            assert [(c.party, c.contact) for c in escalated.contacts] == [("apps", "manager")]

            update = accepted(
                inc, ActionKind.UPDATE, OPEN + 40 * M, party=contract.coordinator, note="at 02:50"
            )
            clock.stand(OPEN + 40 * M)
            await publish(isolated.infra.bootstrap, incidents, [update])
            clock.stand(OPEN + 59 * M)  # the next reminder is 03:00, the next due 03:10
            await settled(isolated, OPEN + 59 * M)
            await sla.to_end()
            assert len(cadence()) == 2  # the update stopped it: nothing more was late
            await assignments.to_end()
            assert len(late_updates(assignments.events(), inc)) == 1
            clock.stand(OPEN + 60 * M)
            await sla.until(lambda: len(cadence()) == 3, "the next reminder at 03:00")
            nxt = sla.events()[-1].data_as(UpdateDueV1)
            assert (nxt.due, nxt.last_update_at) == (OPEN + 70 * M, OPEN + 40 * M)
        report = await closure_report(isolated, inc, contract)
        told = await notified(isolated, inc, 4)
    finally:
        stop_services(sp)
    customers = {p for p, party in contract.parties.items() if party.kind == "customer"}
    assert any("customer update due" in s for p, s, _ in told if p == contract.coordinator)
    assert any("customer update overdue" in s for p, s, _ in told if p == contract.coordinator)
    assert any("at 02:50" in body for p, _, body in told if p in customers)  # the update itself
    manager = [b for p, s, b in told if "escalation: Coordinator's service manager" in s]
    said = "was due by Wed 28 Oct 03:30 (Europe/Berlin) and was not given"
    assert any(said in body for body in manager)
    assert "at 02:50" in report  # the update given
    assert "overdue: no update by its due time (every 30 minutes)" in report
    assert "1 update given, 1 overdue." in report


async def closure_report(isolated: Isolated, inc: str, contract: Contract) -> str:
    """The incident's closure report (JSON) once reporting recorded the update and the late one."""

    async def report(conn: Conn) -> str:
        facts = await closure_facts(conn, inc)
        return to_json(closure_document(facts, ContractView.of(contract))).decode() if facts else ""

    return await reporting_holds(
        isolated.dsn, report, lambda text: "1 update given, 1 overdue." in text
    )


async def notified(isolated: Isolated, inc: str, kinds: int) -> list[tuple[str, str, str]]:
    """(party, subject, body) of the router's notifications on ``inc`` once ``kinds`` of the
    reminder, the overdue, the update and the late update's escalation are among them."""
    wanted = (
        "customer update due",
        "customer update overdue",
        "update from the coordinator",
        "escalation: Coordinator's service manager",
    )
    conn = await asyncpg.connect(isolated.dsn)
    try:
        async with asyncio.timeout(60):
            while True:
                rows = await conn.fetch(
                    "SELECT party, subject, body FROM router.notifications WHERE incident_id = $1",
                    inc,
                )
                found = [(r["party"], r["subject"], r["body"]) for r in rows]
                if sum(any(w in s for _, s, _ in found) for w in wanted) >= kinds:
                    return found
                await asyncio.sleep(0.2)
    finally:
        await conn.close()
