"""Changes beside incidents (issue 27 item 2, ADR 46): which changes reporting shows beside an
incident — on its origin and what the origin depends on, in the 24 h before its first alert,
nearest first — and how the closure report prints them. The example contract: the accounting
database pg-acc runs on os-pg-01, on the server srv-pg-01."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from reporting import changes
from reporting.closure_report import closure_document
from reporting.document_facts import ClosureFacts

from shared.contract.view import ContractView
from shared.documents import to_json
from tests import factories

CONTRACT = factories.example()
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
        incident=factories.incident_row(FIRST, status="open", acknowledged_at=None),
        report=None,
        clocks=[],
        events=[],
        changes=rows,
    )
    doc = closure_document(facts, ContractView.of(CONTRACT))
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


def test_the_drill_shows_the_changes_before_its_instant_on_the_chain() -> None:
    """Issue 27.2: the drill answers for an object at an instant; of the change records it was
    given (reporting's ``GET /v1/changes`` per object of the chain, which repeats the records
    on every object) it shows those on the object and what it depends on, made in the 24 h
    before the instant, each once, nearest first — with the approved maintenance windows of
    those objects that began then, as beside an incident."""
    recorded = [
        {**change("srv-pg-01", FIRST - 25 * M, "BIOS update"), "id": 1},
        {**change(None, FIRST - 3 * M, "contract 2026.12 published"), "id": 2},
        {**change(None, FIRST - 3 * M, "contract 2026.12 published"), "id": 2},  # again
        {**change("app-1c-acc", FIRST - 5 * M, "1C release"), "id": 3},  # depends on pg-acc
        {**change("pg-acc", FIRST - 25 * 60 * M, "vacuum settings"), "id": 4},  # too early
        {**change("pg-acc", FIRST + M, "restart"), "id": 5},  # after the instant
    ]
    rows = changes.drilled(CONTRACT, "pg-acc", FIRST, recorded)
    assert [(r["summary"], r["before_seconds"]) for r in rows] == [
        ("contract 2026.12 published", 180.0),
        ("BIOS update", 1500.0),
    ]


def test_the_drill_shows_maintenance_windows_without_records() -> None:
    """No stack, no records: the contract's approved windows that began on the chain in the
    24 h before are still shown (they are in the contract), as a change beside an incident."""
    window = next(
        w for w in CONTRACT.maintenance_windows if w.id == "core-network-firmware-2026-12"
    )
    began = window.start
    assert began is not None
    (obj, *_) = window.objects
    rows = changes.drilled(CONTRACT, obj, began + 30 * M, [])
    assert [(r["source"], r["object_id"], r["before_seconds"]) for r in rows] == [
        ("maintenance", obj, 1800.0)
    ]
    assert rows[0]["summary"].startswith("maintenance window core-network-firmware-2026-12")
