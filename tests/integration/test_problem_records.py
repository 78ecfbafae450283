"""Problem records on the real broker and database (issue 27 item 3, ADR 48).

The test plays intake (the incidents topic's one writer): four incidents open on the example
contract's accounting database pg-acc, days apart. The router counts them on their origin: the
third opens one problem record owned by the DBMS layer's primary, told on its own assignment
topic and the coordinator's; the fourth links to it. A party that does not own it cannot close it;
the owner closes it with the root cause and what was changed (through intake, decided by the
router). Reporting lists the problem, closed with its cause and its four incidents, in the
month's service report.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from reporting.document_facts import MonthlyFacts, monthly_facts
from reporting.monthly_report import monthly_document

from shared.contract import load_contract
from shared.documents import Document
from shared.events import (
    Category,
    EventType,
    Layer,
    ProblemCloseRefusedV1,
    ProblemLinkedV1,
    ProblemOpenedV1,
    ProblemOpenedV2,
)
from shared.topics import party_topic_name
from tests.integration.conftest import Isolated, start_services, stop_services, wait_healthy
from tests.integration.helpers import reporting_holds
from tests.integration.test_sla_clock import TopicReader, opened, publish, with_env

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contract"
CONTRACT = load_contract(EXAMPLE)
DBMS_PRIMARY = next(a.primary for a in CONTRACT.layers if a.layer == "dbms")
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
PROBLEMS = (EventType.PROBLEM_OPENED, EventType.PROBLEM_LINKED)


async def test_three_incidents_on_one_origin_open_one_problem_and_the_fourth_links(
    isolated: Isolated, tmp_path: Path
) -> None:
    isolated = with_env(isolated, BATON_CONTRACT_PATH=str(EXAMPLE))
    run = uuid.uuid4().hex[:6]
    incidents = [
        opened(f"inc-{run}-{n}", "pg-acc", Layer.DBMS, Category.OUTAGE, "P1", T0 + day)
        for n, day in enumerate((timedelta(0), timedelta(days=6), timedelta(days=13)))
    ]
    fourth = opened(
        f"inc-{run}-3", "pg-acc", Layer.DBMS, Category.OUTAGE, "P1", T0 + timedelta(days=20)
    )
    sp = start_services(isolated, tmp_path, ["intake", "router", "reporting"])
    try:
        await wait_healthy(sp)
        bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
        async with (
            TopicReader(bootstrap, f"{prefix}assignments") as everything,
            TopicReader(bootstrap, party_topic_name(prefix, DBMS_PRIMARY)) as owner,
            TopicReader(bootstrap, party_topic_name(prefix, CONTRACT.coordinator)) as coordinator,
        ):
            await publish(bootstrap, f"{prefix}incidents", incidents)

            def told() -> list[EventType]:
                return [e.type for e in everything.events() if e.type in PROBLEMS]

            def told_all() -> list[EventType]:
                return [e.type for e in everything.events()]

            await everything.until(lambda: len(told()) == 1, "the problem opened")
            await publish(bootstrap, f"{prefix}incidents", [fourth])
            await everything.until(lambda: len(told()) == 2, "the fourth incident linked")
            for reader in (owner, coordinator):
                await reader.until(
                    lambda r=reader: sum(e.type in PROBLEMS for e in r.events()) == 2,  # type: ignore[misc]
                    f"both problem events on {reader.topic}",
                )
            events = [e for e in everything.events() if e.type in PROBLEMS]
            problem_id = events[0].data_as(ProblemOpenedV1).problem_id
            close = f"{sp.urls['intake']}/v1/problems/{problem_id}/close"
            async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
                # the check party of the OS layer is not the problem's owner: refused
                stranger = await client.post(
                    close,
                    json={"party": "hw", "actor": "lead", "cause": "x", "changed": ["y"]},
                )
                assert stranger.status_code == 202, stranger.text  # the router decides
                nothing_changed = await client.post(
                    close,
                    json={"party": DBMS_PRIMARY, "actor": "lead", "cause": "x", "changed": []},
                )
                assert nothing_changed.status_code == 422  # intake: changed names the field
                assert "changed" in nothing_changed.text
                await everything.until(
                    lambda: EventType.PROBLEM_CLOSE_REFUSED in told_all(), "the refusal"
                )
                closed = await client.post(
                    close,
                    json={
                        "party": DBMS_PRIMARY,
                        "actor": "DBA lead",
                        "cause": "WAL archive volume filled at night",
                        "changed": ["archive volume doubled", "alert at 80% full"],
                    },
                )
                assert closed.status_code == 202, closed.text
                await everything.until(
                    lambda: EventType.PROBLEM_CLOSED in told_all(), "the problem closed"
                )
            refusal = next(
                e for e in everything.events() if e.type == EventType.PROBLEM_CLOSE_REFUSED
            )
        report = await month_report(isolated, date(2026, 11, 1))
    finally:
        stop_services(sp)
    assert told() == [EventType.PROBLEM_OPENED, EventType.PROBLEM_LINKED]
    problem = events[0].data_as(ProblemOpenedV1)
    assert (problem.origin_object, problem.owner, problem.coordinator) == (
        "pg-acc",
        DBMS_PRIMARY,
        CONTRACT.coordinator,
    )
    assert problem.incidents == [e.subject for e in incidents]
    # the third counted made the count (three partitions: not necessarily the latest opened)
    assert events[0].subject in {e.subject for e in incidents}
    linked = events[1].data_as(ProblemLinkedV1)
    assert (linked.problem_id, linked.incident_id, linked.incidents) == (
        problem.problem_id,
        fourth.subject,
        4,
    )
    table = next(
        t for s in report.sections for t in s.tables if t.title == "Open and closed problems"
    )
    ((problem_id, _, owner_name, _, _, status, listed),) = table.rows
    assert refusal.data_as(ProblemCloseRefusedV1).reason == (
        "only the problem's owner or the coordinator closes it"
    )
    assert (problem_id, status) == (
        problem.problem_id,
        "closed: WAL archive volume filled at night",
    )
    assert owner_name.startswith(CONTRACT.parties[DBMS_PRIMARY].name)
    assert listed == ", ".join([*(e.subject or "" for e in incidents), fourth.subject or ""])


async def month_report(isolated: Isolated, month: date) -> Document:
    """The month's service report once reporting has linked the fourth incident."""

    def linked(facts: MonthlyFacts) -> bool:
        found = facts.problems[0] if facts.problems else {}
        return len(found.get("incidents", [])) == 4 and found["status"] == "closed"

    facts = await reporting_holds(isolated.dsn, lambda conn: monthly_facts(conn, month), linked)
    return monthly_document(facts, CONTRACT)


async def test_under_the_contracts_grouping_a_groups_objects_count_as_one_origin(
    isolated: Isolated, tmp_path: Path
) -> None:
    """ADR 55: with ``problems.group_by: group`` the example's "Production databases" (pg-acc
    and mssql-wms) are one origin: two incidents on one and one on the other open one problem,
    which names the group, and the month's report says it was counted with it."""
    doc = CONTRACT.model_dump(mode="json", exclude_unset=True)
    doc["problems"] = {"group_by": "group"}
    path = tmp_path / "grouped.json"
    path.write_bytes(orjson.dumps(doc))  # JSON is YAML
    grouped = load_contract(path)
    isolated = with_env(isolated, BATON_CONTRACT_PATH=str(path))
    run = uuid.uuid4().hex[:6]
    incidents = [
        opened(f"inc-{run}-{n}", obj, Layer.DBMS, Category.OUTAGE, "P1", T0 + timedelta(days=day))
        for n, (obj, day) in enumerate((("pg-acc", 0), ("mssql-wms", 6), ("pg-acc", 13)))
    ]
    sp = start_services(isolated, tmp_path / "run", ["intake", "router", "reporting"])
    try:
        await wait_healthy(sp)
        bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
        async with TopicReader(bootstrap, f"{prefix}assignments") as everything:
            await publish(bootstrap, f"{prefix}incidents", incidents)
            await everything.until(
                lambda: any(e.type == EventType.PROBLEM_OPENED for e in everything.events()),
                "the group's problem opened",
            )
            (event,) = [e for e in everything.events() if e.type == EventType.PROBLEM_OPENED]
        rows = await problems_of_month(isolated, date(2026, 11, 1))
    finally:
        stop_services(sp)
    problem = event.data_as(ProblemOpenedV2)
    assert (problem.group, problem.owner) == ("databases", DBMS_PRIMARY)
    assert sorted(problem.incidents) == sorted(e.subject or "" for e in incidents)
    assert problem.origin_object in {"pg-acc", "mssql-wms"}  # the one that made the count
    report = monthly_document(rows, grouped)
    table = next(
        t for s in report.sections for t in s.tables if t.title == "Open and closed problems"
    )
    ((_, origin, *_),) = table.rows
    assert origin.endswith("counted with its group Production databases")


async def problems_of_month(isolated: Isolated, month: date) -> MonthlyFacts:
    """The month's facts once reporting holds a problem record."""
    return await reporting_holds(
        isolated.dsn, lambda conn: monthly_facts(conn, month), lambda facts: bool(facts.problems)
    )
