"""The appendix renders the same content as Markdown, CSV and HTML."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.contract_cli import contract_app
from shared.contract import Contract, load_contract
from shared.contract.appendix import build_appendix, render

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contract"
TITLES = [
    "Support objects",
    "Roles",
    "Layers and their primary party",
    "SLA: response and recovery",
    "Escalation levels",
    "Pause rules",
    "Maintenance windows",
    "Access",
    "Vendors",
    "Scope and exclusions",
]


@pytest.fixture(scope="module")
def example() -> Contract:
    return load_contract(EXAMPLE, lint=True)


def test_tables_hold_the_seed_columns_and_every_object(example: Contract) -> None:
    appendix = build_appendix(example)
    assert [t.title for t in appendix.tables] == TITLES
    objects = appendix.tables[0]
    for column in ("Object", "Customer owner", "Executor", "Support hours", "Comments"):
        assert column in objects.columns
    assert len(objects.rows) == len(example.objects)
    pg = next(r for r in objects.rows if r[0].endswith("(pg-acc)"))
    row = dict(zip(objects.columns, pg, strict=True))
    assert row["Executor"] == "Nomad SysOps LLP"
    assert row["Support hours"] == "24/7"
    assert row["Outage (priority: response / recovery)"] == (
        "P1: day 15m / 4h; night/weekend/holiday 30m / 6h"
    )
    assert "test restore by Nomad SysOps LLP every 30d" in row["Comments"]
    roles = {r[0]: r for r in appendix.tables[1].rows}
    coordinator = roles["Integra Apps LLP (coordinator of every incident)"]
    assert "Hardware faults" in coordinator[3]
    assert len(appendix.tables[4].rows) == 4
    assert {r[0] for r in appendix.tables[5].rows} >= {"no-access", "spare-part"}
    assert example.version in appendix.subtitle
    assert example.content_hash in appendix.subtitle


def test_markdown(example: Contract) -> None:
    text = render(build_appendix(example), "md")
    assert text.startswith("# Appendix — Steppe Trade JSC")
    for title in TITLES:
        assert f"\n## {title}\n" in text
    assert "| Accounting database (PostgreSQL) (pg-acc) |" in text
    header = next(line for line in text.splitlines() if line.startswith("| Object |"))
    body = next(line for line in text.splitlines() if "(pg-acc) |" in line)
    assert header.count(" | ") == body.count(" | ") - body.count("\\|")


def test_csv_parses_back_into_the_same_rows(example: Contract) -> None:
    appendix = build_appendix(example)
    rows = list(csv.reader(io.StringIO(render(appendix, "csv"))))
    start = rows.index(["Support objects"])
    assert tuple(rows[start + 1]) == appendix.tables[0].columns
    assert tuple(rows[start + 2]) == appendix.tables[0].rows[0]
    assert ["Pause rules"] in rows


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.captions: list[str] = []
        self.cells: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "caption":
            self.captions.append(data)
        elif self._in in {"td", "th"}:
            self.cells.append(data)


def test_html_is_a_standalone_escaped_page(example: Contract) -> None:
    text = render(build_appendix(example), "html")
    assert text.startswith("<!doctype html>")
    assert "Accounting ↔ warehouse message queue" in text
    parser = _Cells()
    parser.feed(text)
    assert parser.captions == TITLES
    assert "Accounting database (PostgreSQL) (pg-acc)" in parser.cells


def test_html_escapes_markup(example: Contract) -> None:
    tampered = example.model_copy(update={"title": "<script>alert(1)</script>"})
    text = render(build_appendix(tampered), "html")
    assert "<script>" not in text
    assert "&lt;script&gt;" in text


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
def test_cli_writes_each_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"appendix.{fmt}"
    result = CliRunner().invoke(
        contract_app, ["appendix", str(EXAMPLE), "--format", fmt, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "pg-acc" in out.read_text(encoding="utf-8")


def test_cli_refuses_an_unknown_format() -> None:
    result = CliRunner().invoke(contract_app, ["appendix", str(EXAMPLE), "--format", "pdf"])
    assert result.exit_code == 2
