"""Changes beside incidents (issue 27 item 2, ADR 46): which changes reporting shows beside an
incident — on its origin and what the origin depends on, in the 24 h before its first alert,
nearest first — and how the closure report prints them. The example contract: the accounting
database pg-acc runs on os-pg-01, on the server srv-pg-01."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reporting import changes
from reporting.documents import closure_document
from reporting.store import ClosureFacts

from shared.contract import load_contract
from shared.documents import to_json

CONTRACT = load_contract(Path(__file__).resolve().parents[2] / "examples" / "contract")
FIRST = datetime(2026, 11, 3, 2, 5, tzinfo=UTC)
M = timedelta(minutes=1)


def change(object_id: str | None, at: datetime, summary: str) -> dict[str, Any]:
    return {
        "at": at,
        "object_id": object_id,
        "summary": summary,
        "link": None,
        "source": "pagerduty",
        "by_whom": None,
    }


def test_the_origin_and_what_it_depends_on_are_in_scope() -> None:
    objects = changes.scope(CONTRACT, "pg-acc")
    assert objects[0] == "pg-acc"
    assert {"os-pg-01", "srv-pg-01"} <= set(objects)
    assert "app-1c-acc" not in objects  # depends on the origin, not the other way round
    assert changes.period(FIRST) == (FIRST - timedelta(hours=24), FIRST)


def test_nearest_first_with_the_time_before_the_alert() -> None:
    rows = changes.beside(
        FIRST,
        [
            change("srv-pg-01", FIRST - 25 * M, "BIOS update"),
            change(None, FIRST - 3 * M, "contract 2026.12 published"),
        ],
        [],
    )
    assert [(r["summary"], r["before_seconds"]) for r in rows] == [
        ("contract 2026.12 published", 180.0),
        ("BIOS update", 1500.0),
    ]


def test_the_closure_report_lists_the_changes() -> None:
    rows = changes.beside(FIRST, [change("srv-pg-01", FIRST - 25 * M, "BIOS update")], [])
    facts = ClosureFacts(
        incident={
            "id": "INC-1",
            "summary": "db down",
            "object_id": "pg-acc",
            "origin_object": "pg-acc",
            "origin_layer": "dbms",
            "category": "outage",
            "priority": "P1",
            "status": "open",
            "first_alert_at": FIRST,
            "opened_at": FIRST,
            "acknowledged_at": None,
            "restored_at": None,
            "closed_at": None,
            "primary_party": "sysops",
            "coordinator": "appint",
            "alert_count": 1,
            "objects": ["pg-acc"],
        },
        report=None,
        clocks=[],
        events=[],
        changes=rows,
    )
    doc = closure_document(facts, CONTRACT)
    table = next(t for s in doc.sections for t in s.tables if t.title.startswith("Changes"))
    ((when, before, obj, what, source),) = table.rows
    assert (when, before, what, source) == (
        "2026-11-03 06:40",  # 01:40 UTC in Almaty
        "25 minutes",
        "BIOS update",
        "pagerduty",
    )
    assert "srv-pg-01" in obj
    assert "BIOS update" in to_json(doc).decode()
