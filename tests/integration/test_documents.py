"""The closure report and the monthly service report, from a demo month in the real read model,
read as a person would: Chromium shows the HTML, poppler prints and reads the PDF; and served
by the reporting service over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import pytest
from reporting.closure_report import closure_document
from reporting.document_facts import closure_facts, monthly_facts
from reporting.monthly_report import monthly_document
from reporting.store import project, record_many
from typer.testing import CliRunner

from baton.cli import app
from shared.contract import Contract, load_contract
from shared.contract.view import ContractView
from shared.db import create_pool, migrate
from shared.documents import render_html, render_pdf
from tests.demo_month import demo_month
from tests.integration.conftest import Infra, Isolated, isolated_slice, started, stop_services
from tests.reader import assert_not_blank, pdf_pages, pdf_text, screenshot

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contract"
MIGRATIONS = ROOT / "services" / "reporting" / "reporting" / "migrations"
NOVEMBER = date(2026, 11, 1)


@dataclass
class Month:
    isolated: Isolated
    pool: asyncpg.Pool


@pytest.fixture(scope="module")
async def month(infra: Infra) -> AsyncIterator[Month]:
    """The demo month recorded and projected exactly as reporting's consumer does it, once for
    the module (the tests only read it)."""
    async with isolated_slice(infra) as isolated:
        pool = await create_pool(isolated.dsn, "reporting")
        try:
            await migrate(pool, MIGRATIONS)
            async with pool.acquire() as conn:
                events = demo_month()
                async with conn.transaction():
                    fresh = await record_many(conn, [("demo", e) for e in events])
                    for event in events:
                        if event.id in fresh:
                            await project(conn, event)
            yield Month(isolated, pool)
        finally:
            await pool.close()


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(EXAMPLE)


def flat(text: str) -> str:
    return " ".join(text.split())


async def test_closure_report_read_as_printed(
    month: Month, contract: Contract, tmp_path: Path
) -> None:
    async with month.pool.acquire() as conn:
        facts = await closure_facts(conn, "INC-NIGHT-01")
    assert facts is not None
    doc = closure_document(facts, ContractView.of(contract))
    assert_not_blank(screenshot(render_html(doc), tmp_path / "closure.png"))
    pdf = render_pdf(doc)
    pages = pdf_pages(pdf, tmp_path)
    for page in pages:
        assert_not_blank(page)
    text = pdf_text(pdf)
    for number in range(1, len(pages) + 1):
        assert f"Page {number} of {len(pages)}" in text
    assert text.count("Closure report · incident INC-NIGHT-01") == len(pages)
    words = flat(text)
    # 19:00 UTC is 00:00 the next day in Almaty, where the database lives
    assert "Started (first alert)" in words
    assert "2026-11-03 00:00" in words
    assert "Times are in the object's zone, Asia/Almaty." in words
    assert "9 hours" in words  # downtime
    assert "RAID controller of srv-pg-01 failed" in words
    assert "Restoration confirmed by Aigerim Duty (customer IT)" in words
    assert "Nomad SysOps LLP" in words
    assert "Steppe Trade JSC" in words
    assert "Low: the part was replaced" in words
    assert "2 hours" in words  # the spare-part pause, excluded from recovery
    assert "breached" in words
    assert "met" in words


async def test_monthly_report_read_as_printed(
    month: Month, contract: Contract, tmp_path: Path
) -> None:
    async with month.pool.acquire() as conn:
        facts = await monthly_facts(conn, NOVEMBER)
    doc = monthly_document(facts, contract)
    html = render_html(doc)
    assert html.count("<svg") == 4  # compliance, pauses, MTTA/MTTR, recurring objects
    assert_not_blank(screenshot(html, tmp_path / "monthly.png"))
    pdf = render_pdf(doc)
    pages = pdf_pages(pdf, tmp_path)
    for page in pages:
        assert_not_blank(page)
    words = flat(pdf_text(pdf))
    for figure in ("Incidents opened", "21 / 3", "87.5%", "16 minutes"):
        assert figure in words
    assert "Qazaq Hardware Service LLP recovery 2 2 0 0 100.0%" in words
    assert "Integra Apps LLP recovery 6 5 1 0 83.3%" in words
    assert "Nomad SysOps LLP recovery 4 3 1 0 75.0%" in words
    assert "RAID controller of srv-pg-01 failed" in words  # a breach with its cause
    assert "4 hours" in words  # no-access pauses of the hardware contractor
    assert "INC-OUT-12" in words
    assert "Printer-9 unreachable" in words
    # the missed bank exchange run, seen by the check-in watchdog
    assert "INC-03 Bank file exchange (int-bank-exchange) scheduled run" in words


async def test_reporting_serves_both_documents(month: Month, tmp_path: Path) -> None:
    isolated = replace(
        month.isolated, env={**month.isolated.env, "BATON_CONTRACT_PATH": str(EXAMPLE)}
    )
    sp = await started(isolated, tmp_path, ["reporting"])
    try:
        base = sp.urls["reporting"]
        async with httpx.AsyncClient(auth=isolated.auth(), base_url=base, timeout=60) as client:
            pdf = await client.get("/v1/incidents/INC-NIGHT-01/report.pdf")
            assert pdf.status_code == 200
            assert pdf.headers["content-type"] == "application/pdf"
            assert "RAID controller of srv-pg-01 failed" in flat(pdf_text(pdf.content))
            html = await client.get("/v1/incidents/INC-NIGHT-01/report.html")
            assert html.headers["content-type"].startswith("text/html")
            assert "RAID controller" in html.text
            missing = await client.get("/v1/incidents/nope/report.pdf")
            assert missing.status_code == 404
            assert "incident_id" in missing.text
            monthly = await client.get(
                "/v1/reports/monthly", params={"month": "2026-11", "format": "json"}
            )
            assert monthly.status_code == 200
            doc = json.loads(monthly.content)
            facts = {f["label"]: f["value"] for f in doc["facts"]}
            assert facts["SLA compliance"] == "87.5%"
            page = await client.get("/v1/reports/monthly", params={"month": "2026-11"})
            assert page.headers["content-type"].startswith("text/html")
            bad = await client.get("/v1/reports/monthly", params={"month": "2026-13"})
            assert bad.status_code == 422
            assert "month" in bad.text
        # the CLI fetches the same documents
        for args, name in (
            (["incidents", "report", "INC-NIGHT-01", "-f", "pdf"], "closure.pdf"),
            (["report", "monthly", "2026-11", "-f", "html"], "monthly.html"),
        ):
            out = tmp_path / name
            reader = {"BATON_READER_TOKEN": isolated.creds.readers["operator"]}
            result = CliRunner().invoke(app, [*args, "--url", base, "-o", str(out)], env=reader)
            assert result.exit_code == 0, result.output
            assert out.stat().st_size > 1000
        assert "87.5%" in (tmp_path / "monthly.html").read_text(encoding="utf-8")
    finally:
        stop_services(sp)
