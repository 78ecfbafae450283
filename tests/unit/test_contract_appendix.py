"""The appendix: one content as Markdown, CSV, HTML, PDF and JSON, read as a signer would."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.contract_cli import contract_app
from shared.contract import Contract, load_contract
from shared.contract.appendix import build_appendix, csv_cell, render, tables
from shared.documents import Document
from tests.reader import assert_not_blank, pdf_pages, pdf_text, screenshot

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contract"
TITLES = [
    "Support objects",
    "Sites: time zone and period calendar",
    "Priority by criticality and category",
    "Response and recovery targets",
    "Roles",
    "Layers and their one primary party",
    "Escalation levels",
    "Pause rules",
    "Maintenance windows",
    "Expected events",
    "Backups, their checks and test restores",
    "Access",
    "Vendors",
    "Scope",
    "Open points still to agree",
]


@pytest.fixture(scope="module")
def example() -> Contract:
    return load_contract(EXAMPLE, lint=True)


@pytest.fixture(scope="module")
def appendix(example: Contract) -> Document:
    return build_appendix(example)


def test_objects_are_grouped_by_location_and_layer_without_sla_cells(
    example: Contract, appendix: Document
) -> None:
    objects = tables(appendix)[0]
    assert [t.title for t in tables(appendix)] == TITLES
    assert len(objects.columns) <= 9
    assert not any("response" in c.lower() for c in objects.columns)
    assert len(objects.rows) == len(example.objects)
    assert sum(len(rows) for _, rows in objects.groups) == len(example.objects)
    headings = [heading for heading, _ in objects.groups]
    assert len(headings) == len(set(headings))
    assert any(h.startswith("Server room, head office basement · hardware layer") for h in headings)
    pg = next(r for r in objects.rows if r[0].endswith("(pg-acc)"))
    row = dict(zip(objects.columns, pg, strict=True))
    assert row["Executor"] == "Nomad SysOps LLP"
    assert row["Support hours"] == "24/7"
    assert row["Priority by category"].startswith("outage P1, degradation P2")


def test_sla_matrix_states_durations_as_the_contract_means_them(appendix: Document) -> None:
    matrix = tables(appendix)[3]
    rows = {(r[0], r[1]): dict(zip(matrix.columns, r, strict=True)) for r in matrix.rows}
    p1 = rows[("P1", "Outage")]
    assert p1["Day"] == "response 15 minutes; recovery 4 hours"
    assert p1["Night"] == "response 30 minutes; recovery 6 hours"
    p4 = rows[("P4", "Request")]
    # 40 h on office hours of 9 h a day is not "1d16h": it is business time
    assert p4["Day"] == "response 4 business hours; recovery 40 business hours"
    assert p4["Measured on"].startswith("Mon–Fri 09:00–18:00 (Asia/Almaty)")
    sla = next(s for s in appendix.sections if s.title == "SLA")
    text = " ".join(sla.paragraphs)
    assert (
        "while that calendar is open it is day; on a public or contract holiday it is holiday"
        in text
    )
    assert "Approved maintenance time is excluded from the SLA" in text
    assert "db-maintenance" in text


def test_each_site_shows_its_zone_hours_and_holidays(appendix: Document) -> None:
    """Issue 16: the appendix shows each site's period calendar — its zone, the hours that are
    day there and where its public holidays come from."""
    sites = {r[0]: r for r in tables(appendix)[1].rows}
    hub = sites["Logistics hub, Novosibirsk (hub-novosibirsk)"]
    assert hub[1] == "Asia/Novosibirsk"
    assert hub[2].startswith("office-novosibirsk: Mon–Fri")
    assert hub[3].startswith("public holidays of RU (python holidays ")
    assert hub[4] == "1"
    office = sites["Head office, Almaty (hq-almaty)"]
    assert (office[1], office[2].split(":")[0]) == ("Asia/Almaty", "office-almaty")
    assert office[3].startswith("public holidays of KZ")
    assert sum(int(r[4]) for r in sites.values()) == len(load_contract(EXAMPLE).objects)


def test_schedules_roles_and_signatures_read_in_words(appendix: Document) -> None:
    runs = tables(appendix)[9]
    statements = next(r for r in runs.rows if "At 02:00, 08:00, 12:00 and 16:00" in r[2])
    assert statements[1] == "scheduled run"
    assert statements[2].startswith(
        "At 02:00, 08:00, 12:00 and 16:00, Monday through Friday (Asia/Almaty)"
    )
    assert any(r[1] == "test restore" and "every 30 days" in r[2] for r in runs.rows)
    backups = tables(appendix)[10]
    assert any("every 30 days" in r[4] for r in backups.rows)
    roles = {r[0]: r for r in tables(appendix)[4].rows}
    coordinator = roles["Integra Apps LLP (coordinator of every incident)"]
    assert "Hardware faults" in coordinator[3]
    assert {s.party for s in appendix.signatures} == {
        "Qazaq Hardware Service LLP",
        "Nomad SysOps LLP",
        "Integra Apps LLP",
        "Steppe Trade JSC — IT department",
    }
    assert "sha256:" in appendix.stamp


def test_open_points_list_what_the_checks_find(example: Contract) -> None:
    gappy = example.model_copy(update={"pause_reasons": []})
    points = tables(build_appendix(gappy))[-1]
    assert points.rows, "a contract without pause reasons has something left to agree"
    assert tables(build_appendix(example))[-1].rows == ()


def test_markdown_escapes_html_and_keeps_one_cell_per_column(example: Contract) -> None:
    tampered = example.model_copy(update={"title": "<img src=x onerror=alert(1)> | x"})
    text = render(build_appendix(tampered), "md").decode()
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt; \\| x" in text
    header = next(line for line in text.splitlines() if line.startswith("| Object |"))
    body = next(line for line in text.splitlines() if "(pg-acc) |" in line)
    assert header.count(" | ") == body.count(" | ") - body.count("\\|")


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\tx"])
def test_csv_neutralises_formulas(value: str) -> None:
    assert csv_cell(value) == f"'{value}"
    assert csv_cell("plain = text") == "plain = text"


def test_csv_parses_back_into_the_same_rows(example: Contract, appendix: Document) -> None:
    first = example.objects[0].model_copy(update={"name": "=cmd|' /C calc'!A0"})
    tampered = example.model_copy(update={"objects": [first, *example.objects[1:]]})
    rows = list(csv.reader(io.StringIO(render(build_appendix(tampered), "csv").decode())))
    assert any(row[1:2] == [f"'=cmd|' /C calc'!A0 ({first.id})"] for row in rows)
    assert not any(cell.startswith("=") for row in rows for cell in row)
    objects = tables(appendix)[0]
    start = rows.index(["Support objects"])
    assert tuple(rows[start + 1]) == ("Group", *objects.columns)
    assert tuple(rows[start + 2][1:]) == objects.groups[0][1][0]
    assert ["Pause rules"] in rows


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.captions: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "caption":
            self.captions.append(data)


def test_html_escapes_markup_and_json_holds_the_same_data(
    example: Contract, appendix: Document
) -> None:
    tampered = example.model_copy(update={"title": "<script>alert(1)</script>"})
    text = render(build_appendix(tampered), "html").decode()
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    parser = _Cells()
    parser.feed(render(appendix, "html").decode())
    assert parser.captions == TITLES
    doc = json.loads(render(appendix, "json"))
    assert doc["stamp"] == appendix.stamp
    assert [t["title"] for s in doc["sections"] for t in s["tables"]] == TITLES


@pytest.mark.tools
def test_read_as_printed(tmp_path: Path, example: Contract, appendix: Document) -> None:
    """Chromium shows the page; every PDF page has ink, the stamp and its page number."""
    assert_not_blank(screenshot(render(appendix, "html").decode(), tmp_path / "appendix.png"))
    pdf = render(appendix, "pdf")
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 3
    for page in pages:
        assert_not_blank(page)
    text = pdf_text(pdf)
    printed = text.split("\f")[: len(pages)]
    for number, page_text in enumerate(printed, start=1):
        assert f"version {example.version}" in page_text, f"page {number} has no stamp"
        assert example.content_hash[:30] in page_text
        assert f"Page {number} of {len(pages)}" in page_text
    flat = " ".join(text.split())
    assert "response 15 minutes; recovery 4 hours" in flat
    assert "40 business hours" in flat
    assert "Signature" in printed[-1]


@pytest.mark.parametrize("fmt", ["md", "csv", "html", "json"])
def test_cli_writes_each_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"appendix.{fmt}"
    result = CliRunner().invoke(
        contract_app, ["appendix", str(EXAMPLE), "--format", fmt, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "pg-acc" in out.read_text(encoding="utf-8")


def test_cli_refuses_an_unknown_format() -> None:
    result = CliRunner().invoke(contract_app, ["appendix", str(EXAMPLE), "--format", "docx"])
    assert result.exit_code == 2


def test_defaults_are_printed_as_baton_defaults_and_terms_as_terms(tmp_path: Path) -> None:
    """A rule the contract does not write is Baton's default, and says where to set it; once
    written, it reads as a term of the contract."""
    import yaml

    from shared.contract import load_contract
    from shared.contract.appendix import build_appendix, render

    minimal = Path(__file__).resolve().parents[2] / "examples" / "minimal" / "contract.yaml"
    doc = yaml.safe_load(minimal.read_text(encoding="utf-8"))
    for key in ("max_backdate", "clock_start", "warnings"):
        doc["sla"].pop(key, None)
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    text = render(build_appendix(load_contract(path)), "md").decode()
    assert "Baton's default: clocks start at the first alert that shows the fault" in text
    assert "at most 1 hour before the ticket was registered (sla.max_backdate)" in text
    assert "Baton's default: warnings at 75% of a target (sla.warnings)" in text
    assert "(sla.outside_perimeter)" in text
    assert "(sla.priority_follows_worst)" in text
    doc["sla"] |= {
        "max_backdate": "30m",
        "clock_start": "first_alert",
        "warnings": [0.5, 0.9],
        "outside_perimeter": "none",
        "priority_follows_worst": False,
        "update_every": {"P1": "30m"},
        "update_remind_before": "5m",
    }
    doc["problems"] = {"incidents": 4, "group_by": "group"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    written = render(build_appendix(load_contract(path)), "md").decode()
    assert "Baton's default:" not in written  # the SLA's rules; a test restore's grace stays
    assert "at most 30 minutes before the ticket was registered" in written
    assert "Warnings are raised at 50%, 90% of a target" in written
    assert "No SLA applies to an incident on nothing in the perimeter" in written
    assert "keeps the priority it opened with when other alerts join it" in written


@pytest.mark.tools
@pytest.mark.parametrize(
    "path",
    [ROOT / "examples" / "contract", ROOT / "examples" / "minimal" / "contract.yaml"],
    ids=["example", "minimal"],
)
def test_no_text_of_the_appendix_pdf_is_printed_over_other_text(path: Path) -> None:
    """Every word box poppler finds, on every page: none overlaps another (page 1's content
    hash ran into the next label)."""
    from tests.reader import overlapping_words

    pdf = render(build_appendix(load_contract(path)), "pdf")
    assert overlapping_words(pdf) == []


def test_a_grace_the_contract_does_not_write_is_printed_as_batons_default() -> None:
    contract = load_contract(EXAMPLE)
    expected = next(t for t in tables(build_appendix(contract)) if t.title == "Expected events")
    grace = {row[0]: row[3] for row in expected.rows if row[1] == "scheduled run"}
    written = next(o for o in contract.objects if o.schedule and o.schedule.grace is not None)
    unwritten = next(o for o in contract.objects if o.schedule and o.schedule.grace is None)
    assert grace[f"{written.name} ({written.id})"] == "20 minutes"
    assert grace[f"{unwritten.name} ({unwritten.id})"] == (
        "15 minutes (Baton's default; schedule.grace)"
    )


def test_a_level_that_hears_of_late_customer_updates_says_so(appendix: Document) -> None:
    """ADR 54: the example's level 5 names update_overdue; the signer reads when it fires."""
    levels = next(t for t in tables(appendix) if t.title == "Escalation levels")
    rows = {r[0]: dict(zip(levels.columns, r, strict=True)) for r in levels.rows}
    assert rows["5"]["Fires at"] == "each customer update not given by its due time"
    assert rows["5"]["Contacts"].startswith("Ruslan Akhmetov")
    assert rows["3"]["Fires at"] == "100% of the response target, 50% of the recovery target"


def test_the_problem_grouping_is_a_signed_term_with_its_default(example: Contract) -> None:
    """Issue 27.3: how incidents count together for a problem record — per object, Baton's
    default, or per group of the contract — is printed, the default named with its field."""
    text = render(build_appendix(example), "md").decode()
    assert "Baton's default: incidents count together per object (problems.group_by)." in text
    doc = example.model_dump(mode="json", exclude_unset=True)
    doc["problems"] = {"group_by": "group"}
    grouped = Contract.model_validate(doc)
    text = render(build_appendix(grouped), "md").decode()
    assert (
        "Incidents count together per group of the contract: the objects of one group are one"
        " origin (an object in no group counts alone)."
    ) in text
