"""The contract appendix both sides sign: one ``Document``, printed as HTML, PDF, Markdown, CSV
or JSON.

Objects are grouped by location and layer; the SLA is its own matrix (priority by criticality
and category, then response and recovery per period) instead of four cells repeated on every
object; durations read as the contract means them (business hours and days on a business-hours
calendar), schedules in words, and the document ends with what is still open and a signature
block for each party.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Literal

from shared.contract.appendix_tables import (
    access_table,
    escalation_table,
    expected_tables,
    layers_table,
    maintenance_paragraphs,
    objects_table,
    open_points_table,
    pause_table,
    priority_table,
    roles_table,
    scope_table,
    signature_role,
    sites_table,
    sla_matrix,
    sla_paragraphs,
    vendors_table,
    windows_table,
)
from shared.contract.appendix_words import (
    business_day,
    first_line_words,
    party_name,
)
from shared.contract.model import Contract, Period
from shared.documents import Document, Fact, Section, Signature, Table, render_html, render_pdf
from shared.documents import to_json as document_json

Format = Literal["md", "csv", "html", "pdf", "json"]
FORMATS: tuple[Format, ...] = ("md", "csv", "html", "pdf", "json")


def build_appendix(contract: Contract) -> Document:
    stamp = (
        f"Appendix to contract {contract.id} · version {contract.version} · {contract.content_hash}"
    )
    return Document(
        kind="appendix",
        title=f"Appendix — {contract.title or contract.id}",
        subtitle=f"Contract {contract.id}, version {contract.version}, {contract.content_hash}",
        stamp=stamp,
        facts=(
            Fact("Contract", contract.id),
            Fact("Version", contract.version),
            Fact("Content hash", contract.content_hash),
            Fact("Coordinator of every incident", party_name(contract, contract.coordinator)),
            Fact("Tickets accepted by", first_line_words(contract)),
            Fact("Environments in scope", ", ".join(e.value for e in contract.environments)),
        ),
        sections=(
            Section(
                "Support objects",
                (
                    "Every object in the perimeter, by location and layer. Anything not listed "
                    "is outside it.",
                ),
                tables=(objects_table(contract),),
            ),
            Section(
                "SLA",
                sla_paragraphs(contract),
                tables=(
                    sites_table(contract),
                    priority_table(contract),
                    sla_matrix(contract),
                ),
            ),
            Section(
                "Roles",
                tables=(roles_table(contract), layers_table(contract)),
            ),
            Section("Escalation", tables=(escalation_table(contract),)),
            Section(
                "Pauses",
                (
                    "The SLA clock stops for no other reason. Each clock is paused on its own, "
                    "with who, when and the evidence recorded.",
                ),
                tables=(pause_table(contract),),
            ),
            Section(
                "Maintenance windows",
                maintenance_paragraphs(contract),
                tables=(windows_table(contract),),
            ),
            Section("Expected events", tables=expected_tables(contract)),
            Section("Access and vendors", tables=(access_table(contract), vendors_table(contract))),
            Section("Scope and exclusions", tables=(scope_table(contract),)),
            Section("Open points", tables=(open_points_table(contract),)),
        ),
        signatures=tuple(
            Signature(party.name, signature_role(contract, pid))
            for pid, party in contract.parties.items()
            if party.kind != "vendor"
        ),
        footnote=(
            f"Generated from contract {contract.id} version {contract.version}; the content "
            f"hash {contract.content_hash} identifies exactly the text both sides sign."
        ),
        landscape=True,
    )


def tables(doc: Document) -> list[Table]:
    return [t for s in doc.sections for t in s.tables]


def render(doc: Document, fmt: Format) -> bytes:
    if fmt == "md":
        return _markdown(doc).encode()
    if fmt == "csv":
        return _csv(doc).encode()
    if fmt == "html":
        return render_html(doc).encode()
    if fmt == "pdf":
        return render_pdf(doc)
    return document_json(doc)


# --------------------------------------------------------------------------- text formats


def _md_cell(text: str) -> str:
    """A Markdown cell that stays one cell and shows as written: pipes and line breaks
    neutralised, HTML escaped so a renderer never runs markup from the contract."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\n", " ") or " "


def _markdown(doc: Document) -> str:
    out = [f"# {_md_cell(doc.title)}", "", f"_{_md_cell(doc.subtitle)}_", ""]
    for section in doc.sections:
        out += [f"## {_md_cell(section.title)}", ""]
        for paragraph in section.paragraphs:
            out += [_md_cell(paragraph), ""]
        for table in section.tables:
            out += [f"### {_md_cell(table.title)}", ""]
            out.append("| " + " | ".join(_md_cell(c) for c in table.columns) + " |")
            out.append("|" + "|".join("---" for _ in table.columns) + "|")
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in _rows(table))
            out.append("")
            if table.note:
                out += [_md_cell(table.note), ""]
    if doc.signatures:
        out += ["## Signatures", ""]
        out.extend(
            f"- {_md_cell(s.party)} ({_md_cell(s.role)}): ____________" for s in doc.signatures
        )
        out.append("")
    return "\n".join(out)


def _rows(table: Table) -> Iterable[tuple[str, ...]]:
    if not table.groups:
        return table.rows
    return [
        (f"**{heading}**", *("" for _ in table.columns[1:])) if i == 0 else row
        for heading, rows in table.groups
        for i, row in enumerate([(), *rows])
    ]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote
    (OWASP's advice against CSV injection)."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _csv(doc: Document) -> str:
    """One CSV file: each table starts with a row holding its title, then its header row;
    tables are separated by an empty row. Grouped tables carry the group in a first column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(doc.title), csv_cell(doc.subtitle)])
    for table in tables(doc):
        writer.writerow([])
        writer.writerow([csv_cell(table.title)])
        if table.groups:
            writer.writerow([csv_cell(c) for c in ("Group", *table.columns)])
            for heading, rows in table.groups:
                writer.writerows([csv_cell(c) for c in (heading, *row)] for row in rows)
        else:
            writer.writerow([csv_cell(c) for c in table.columns])
            writer.writerows([csv_cell(c) for c in row] for row in table.rows)
    return buffer.getvalue()


__all__ = [
    "FORMATS",
    "Format",
    "Period",
    "build_appendix",
    "business_day",  # reporting reads it here
    "csv_cell",
    "render",
    "tables",
]
