"""The documents package and reporting's document builders, without a database."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from reporting.closure_report import _timeline_row, closure_document
from reporting.document_facts import ClosureFacts, MonthlyFacts
from reporting.document_routes import document_response
from reporting.monthly_report import monthly_document

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.documents import Chart, Document, Section, Series, render_html, to_json
from shared.documents.words import cron_words, duration_words, seconds_words
from tests import factories


@pytest.fixture(scope="module")
def contract() -> Contract:
    return factories.example()


@pytest.mark.parametrize(
    ("value", "business_day", "words"),
    [
        (timedelta(hours=27), timedelta(hours=9), "3 business days"),
        (timedelta(hours=40), timedelta(hours=9), "40 business hours"),
        (timedelta(hours=2, minutes=30), timedelta(hours=9), "2 business hours 30 minutes"),
        (timedelta(days=1, hours=12), None, "1 day 12 hours"),
        (timedelta(minutes=1), None, "1 minute"),
        (timedelta(0), None, "none"),
    ],
)
def test_durations_in_words(value: timedelta, business_day: timedelta | None, words: str) -> None:
    assert duration_words(value, business_day=business_day) == words


def test_measured_spans_and_schedules_in_words() -> None:
    assert seconds_words(None) == "—"
    assert seconds_words(12_900) == "3 hours 35 minutes"
    assert seconds_words(20) == "under a minute"
    assert cron_words("30 2 * * *", "Asia/Almaty") == "At 02:30 (Asia/Almaty)"
    assert cron_words("not a cron") == "cron not a cron"


def test_charts_on_one_page_keep_their_ids_apart() -> None:
    charts = tuple(
        Chart(title, "bar", ("a", "b"), (Series("s", (1.0, 2.0)),)) for title in ("one", "two")
    )
    html = render_html(
        Document("monthly-report", "t", "s", "stamp", sections=(Section("charts", charts=charts),))
    )
    ids = Counter(re.findall(r'\bid="([^"]+)"', html))
    assert ids
    assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1][:5]
    for ref in re.findall(r"url\(#([^)]+)\)", html):
        assert ref in ids


def _open_incident(at: datetime, **over: Any) -> dict[str, Any]:
    """An acknowledged, not yet restored incident on pg-acc with two alerts, as reporting's row
    reads; its summary has markup the documents must escape."""
    return factories.incident_row(at, **{"summary": "<b>db</b> down", "alert_count": 2, **over})


def test_an_open_incident_gets_a_draft_report(contract: Contract) -> None:
    at = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    facts = ClosureFacts(incident=_open_incident(at), report=None, clocks=[], events=[])
    doc = closure_document(facts, ContractView.of(contract))
    text = to_json(doc).decode()
    assert "draft until the customer confirms restoration" in text
    assert "07:00" in text  # 02:00 UTC in Almaty
    html = render_html(doc)
    assert "<b>db</b>" not in html
    assert "&lt;b&gt;db&lt;/b&gt; down" in html


def test_an_empty_month_still_reads(contract: Contract) -> None:
    doc = monthly_document(
        MonthlyFacts(date(2026, 10, 1), [], [], [], [], [], [], [], [], {"incidents": 0}),
        contract,
    )
    html = render_html(doc)
    assert "no data this period" in html
    assert "Monthly service report — 2026-10" in html


async def test_the_download_name_carries_no_header_injection() -> None:
    doc = Document("closure-report", "t", "s", "stamp")
    response = await document_response(doc, "json", 'x"\r\nSet-Cookie: a=1')
    disposition = response.headers["content-disposition"]
    assert disposition == 'inline; filename="x___Set-Cookie__a_1.json"'


async def test_a_print_whose_request_stopped_waiting_still_keeps_the_next_one_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request deadline cancels a slow document's request; its print goes on in its
    thread, and the next print (matplotlib is not thread-safe) starts only after it."""
    import asyncio
    import threading
    import time

    from reporting import document_routes

    running, most = 0, 0
    count = threading.Lock()

    def slow(_: Document) -> str:
        nonlocal running, most
        with count:
            running += 1
            most = max(most, running)
        time.sleep(0.5)
        with count:
            running -= 1
        return "<html/>"

    monkeypatch.setattr(document_routes, "render_html", slow)
    doc = Document("closure-report", "t", "s", "stamp")
    first = asyncio.ensure_future(document_response(doc, "html", "a"))
    await asyncio.sleep(0.1)
    first.cancel()  # what the request deadline does
    second = await document_response(doc, "html", "b")
    assert second.status_code == 200
    assert most == 1


def test_a_source_acknowledgement_reads_as_one_in_the_timeline(contract: Contract) -> None:
    from zoneinfo import ZoneInfo

    from reporting.closure_report import _timeline_row

    row = _timeline_row(
        contract,
        {
            "type": "baton.incident.source_acknowledged",
            "time": datetime(2026, 11, 27, 2, 33, tzinfo=UTC),
            "data": {"fingerprint": "pd:x:disk", "source": "pagerduty", "client": "ops-bot"},
        },
        ZoneInfo("UTC"),
    )
    assert "acknowledged at the monitoring source" in row[1]
    assert "response clock runs on" in row[1]
    assert row[2] == "ops-bot"


@pytest.mark.tools
def test_no_text_of_the_closure_or_monthly_pdf_is_printed_over_other_text(
    contract: Contract,
) -> None:
    from shared.documents import render_pdf
    from tests.reader import overlapping_words

    at = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    incident = _open_incident(at, id="inc-0123456789abcdef", summary="PostgreSQL is down")
    closure = closure_document(ClosureFacts(incident, None, [], []), ContractView.of(contract))
    monthly = monthly_document(
        MonthlyFacts(date(2026, 10, 1), [], [], [], [], [], [], [], [], {"incidents": 0}),
        contract,
    )
    for doc in (closure, monthly):
        assert overlapping_words(render_pdf(doc)) == [], doc.title


def test_a_message_to_a_person_reads_in_the_timeline(contract: Contract) -> None:
    at = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)
    data = {
        "cause": "baton.assignment.issued",
        "recipient_party": "sysops",
        "recipient": "sysops/mailbox",
        "channel": "email",
        "outcome": "sent",
        "attempts": 1,
    }
    sent = {"type": "baton.assignment.notification", "time": at, "data": data}
    zone = ZoneInfo("Asia/Almaty")
    assert (
        _timeline_row(contract, sent, zone)[1] == "told sysops/mailbox by email (assignment.issued)"
    )
    failed = {**sent, "data": {**data, "outcome": "failed", "attempts": 8}}
    assert _timeline_row(contract, failed, zone)[1] == (
        "could not reach sysops/mailbox by email after 8 tries (assignment.issued)"
    )
