"""The customer's updates in reporting's documents (issue 27, ADR 47): the closure report lists
each update the coordinator gave and each one that came late; the monthly report counts the
overdue updates per coordinator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from reporting.closure_report import closure_document
from reporting.document_facts import ClosureFacts, MonthlyFacts
from reporting.monthly_report import monthly_document
from reporting.updates import customer_updates

from shared.contract.view import ContractView
from shared.documents import Document, Table, to_json
from tests import factories

CONTRACT = factories.example()
AT = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # 07:00 in Almaty
M = timedelta(minutes=1)


def event(kind: str, when: datetime, **data: Any) -> dict[str, Any]:
    return {"incident_id": "INC-1", "type": kind, "source": "x", "time": when, "data": data}


def first_update(kind: str, at: datetime) -> dict[str, Any]:
    """sla-clock's ``kind`` (due, overdue) at ``at`` for appint's first update, due at 07:30."""
    return event(
        kind,
        at,
        coordinator="appint",
        priority="P1",
        due=(AT + 30 * M).isoformat(),
        every=1800.0,
        last_update_at=None,
        detected_at=at.isoformat(),
    )


EVENTS = [
    event("baton.incident.opened", AT, summary="db down"),
    first_update("baton.sla.update_due", AT + 20 * M),
    first_update("baton.sla.update_overdue", AT + 30 * M),
    event(
        "baton.incident.action_accepted",
        AT + 40 * M,
        action="update",
        party="appint",
        actor="Duty Coordinator",
        at=(AT + 40 * M).isoformat(),
        note="Failover to the replica under way; next update by 07:10",
    ),
]


def table(doc: Document, title: str) -> Table:
    return next(t for s in doc.sections for t in s.tables if t.title == title)


def test_the_updates_and_the_late_one_are_in_the_closure_report() -> None:
    facts = ClosureFacts(
        incident=factories.incident_row(AT),
        report=None,
        clocks=[],
        events=EVENTS,
    )
    doc = closure_document(facts, ContractView.of(CONTRACT))
    rows = table(doc, "Updates to the customer (Asia/Almaty)").rows
    assert rows == (
        ("2026-11-03 07:30", "—", "overdue: no update by its due time (every 30 minutes)"),
        (
            "2026-11-03 07:40",
            "Duty Coordinator",
            "Failover to the replica under way; next update by 07:10",
        ),
    )
    assert "1 update given, 1 overdue" in to_json(doc).decode()


def test_the_monthly_report_counts_overdue_updates_per_coordinator() -> None:
    assert [(u.actor, u.overdue) for u in customer_updates(EVENTS)] == [
        ("—", True),
        ("Duty Coordinator", False),
    ]
    facts = MonthlyFacts(
        date(2026, 11, 1),
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        {"incidents": 1},
        overdue_updates=[{"coordinator": "appint", "priority": "P1", "overdue": 3}],
    )
    rows = table(monthly_document(facts, CONTRACT), "Overdue updates per coordinator").rows
    assert rows == ((CONTRACT.parties["appint"].name, "P1", "3"),)


def test_the_monthly_report_names_the_group_a_problem_was_counted_on() -> None:
    """ADR 55: a problem counted per group of the contract shows its object and the group."""
    opened = datetime(2026, 11, 9, 2, 0, tzinfo=UTC)
    problem = {
        "id": "prb-1",
        "origin_object": "pos-shymkent",
        "group_id": "checkouts",
        "owner": "hw",
        "opened_at": opened,
        "fix_due": opened + timedelta(days=14),
        "status": "open",
        "cause": "",
        "incidents": ["inc-0", "inc-5", "inc-9"],
    }
    facts = MonthlyFacts(
        date(2026, 11, 1), [], [], [], [], [], [], [], [], {"incidents": 3}, problems=[problem]
    )
    (row,) = table(monthly_document(facts, CONTRACT), "Open and closed problems").rows
    shymkent = CONTRACT.object("pos-shymkent")
    assert shymkent is not None
    group = CONTRACT.groups["checkouts"].name
    assert row[1] == f"{shymkent.name} (pos-shymkent), counted with its group {group}"
    per_object = {**problem, "group_id": None}
    facts = MonthlyFacts(
        date(2026, 11, 1), [], [], [], [], [], [], [], [], {"incidents": 3}, problems=[per_object]
    )
    (row,) = table(monthly_document(facts, CONTRACT), "Open and closed problems").rows
    assert row[1] == f"{shymkent.name} (pos-shymkent)"
