"""The contract appendix: the seed's one-table registry plus roles, escalation, pauses, windows.

``build_appendix`` turns a contract into plain ``Table``s; ``render`` writes them as Markdown,
CSV or a standalone HTML page — one content, three formats, readable by IT teams, lawyers and
managers alike.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from typing import Literal

from shared.contract.model import (
    ALL_PERIODS,
    Contract,
    Period,
    SupportObject,
    format_duration,
)
from shared.events import Category

Format = Literal["md", "csv", "html"]
FORMATS: tuple[Format, ...] = ("md", "csv", "html")
_CATEGORY_TITLES = {
    Category.OUTAGE: "Outage",
    Category.DEGRADATION: "Degradation",
    Category.REQUEST: "Request",
    Category.INTEGRATION_ISSUE: "Integration issue",
}


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Appendix:
    title: str
    subtitle: str
    tables: tuple[Table, ...]


def build_appendix(contract: Contract) -> Appendix:
    return Appendix(
        title=f"Appendix — {contract.title or contract.id}",
        subtitle=f"Contract {contract.id}, version {contract.version}, {contract.content_hash}",
        tables=(
            _objects_table(contract),
            _roles_table(contract),
            _layers_table(contract),
            _sla_table(contract),
            _escalation_table(contract),
            _pause_table(contract),
            _windows_table(contract),
            _access_table(contract),
            _vendors_table(contract),
            _scope_table(contract),
        ),
    )


def render(appendix: Appendix, fmt: Format) -> str:
    if fmt == "md":
        return _markdown(appendix)
    if fmt == "csv":
        return _csv(appendix)
    return _html(appendix)


# --------------------------------------------------------------------------- tables


def _party(contract: Contract, party_id: str | None) -> str:
    if party_id is None:
        return "—"
    party = contract.parties.get(party_id)
    return party.name if party else f"{party_id} (unknown)"


def _contact(contract: Contract, ref: str | None) -> str:
    if ref is None:
        return "—"
    found = contract.contact(ref)
    if found is None:
        return f"{ref} (unknown)"
    party, contact = found
    role = f", {contact.role}" if contact.role else ""
    return f"{contact.name}{role} ({party.name})"


def _calendar_name(contract: Contract, calendar_id: str) -> str:
    spec = contract.calendar_spec(calendar_id)
    if spec is None:
        return f"{calendar_id} (unknown)"
    if spec.kind == "24x7":
        return "24/7"
    days = ", ".join(
        f"{d} {' '.join('-'.join(h) for h in hours)}" for d, hours in spec.weekly.items() if hours
    )
    holidays = f"; holidays {spec.holidays_country}" if spec.holidays_country else ""
    return f"{calendar_id}: {days} ({spec.timezone}{holidays})"


def _sla_cell(contract: Contract, obj: SupportObject, category: Category) -> str:
    priority = contract.priority_matrix.get(obj.criticality, {}).get(category)
    if priority is None:
        return "—"
    parts: list[str] = []
    by_value: dict[str, list[Period]] = {}
    for period in ALL_PERIODS:
        target = contract.sla_target(category, priority, period)
        value = (
            f"{format_duration(target.response)} / {format_duration(target.recovery)}"
            if target
            else "no target"
        )
        by_value.setdefault(value, []).append(period)
    for value, periods in by_value.items():
        scope = "" if len(by_value) == 1 else f"{'/'.join(p.value for p in periods)} "
        parts.append(f"{scope}{value}")
    return f"{priority}: " + "; ".join(parts)


def _objects_table(contract: Contract) -> Table:
    columns = (
        "Object",
        "Kind / role",
        "Location",
        "Environment",
        "Layer",
        "Criticality",
        "Customer owner",
        "Executor",
        "Layer primary",
        "Support hours",
        *(f"{title} (priority: response / recovery)" for title in _CATEGORY_TITLES.values()),
        "Comments",
    )
    rows = []
    for obj in contract.objects:
        location = contract.locations.get(obj.location) if obj.location else None
        comments = []
        software = " ".join(p for p in (obj.product, obj.version or "", obj.edition or "") if p)
        if software:
            comments.append(software)
        if obj.depends_on:
            comments.append("depends on " + ", ".join(obj.depends_on))
        if obj.access:
            rule = contract.access_rules.get(obj.access)
            comments.append(
                f"access: {rule.mode.replace('_', ' ')}" if rule else f"access: {obj.access}"
            )
        if obj.backup:
            comments.append(
                f"backups by {_party(contract, obj.backup.made_by)}, test restore by "
                f"{_party(contract, obj.backup.test_restore_by)}"
                + (
                    f" every {format_duration(obj.backup.test_restore_every)}"
                    if obj.backup.test_restore_every
                    else ""
                )
            )
        if obj.schedule:
            comments.append(f"runs {obj.schedule.cron} ({obj.schedule.timezone})")
        if obj.vendor:
            comments.append(f"vendor: {_party(contract, obj.vendor)}")
        if obj.notes:
            comments.append(obj.notes)
        primaries = contract.primaries(obj.layer)
        rows.append(
            (
                f"{obj.name} ({obj.id})",
                f"{obj.kind.value.replace('_', ' ')}" + (f" — {obj.role}" if obj.role else ""),
                location.name if location else (obj.location or "—"),
                obj.environment.value,
                obj.layer.value,
                obj.criticality,
                _contact(contract, obj.owner),
                _party(contract, obj.executor),
                ", ".join(_party(contract, p) for p in primaries) or "—",
                _calendar_name(contract, obj.calendar),
                *(_sla_cell(contract, obj, c) for c in _CATEGORY_TITLES),
                "; ".join(comments),
            )
        )
    return Table(
        "Support objects",
        columns,
        tuple(rows),
        "Every object in the perimeter. Anything not listed is outside it.",
    )


def _roles_table(contract: Contract) -> Table:
    rows = []
    for pid, party in contract.parties.items():
        role = " (coordinator of every incident)" if pid == contract.coordinator else ""
        duty = "; ".join(
            f"{shift.calendar}: {party.contacts[shift.contact].reach()}"
            for shift in party.duty
            if shift.contact in party.contacts
        )
        backups = ", ".join(
            party.contacts[c].name for c in party.backup_contacts if c in party.contacts
        )
        rows.append(
            (
                f"{party.name}{role}",
                party.kind.replace("_", " "),
                "; ".join(party.responsible_for) or "—",
                "; ".join(party.not_responsible_for) or "—",
                duty or party.contact,
                backups or "—",
            )
        )
    return Table(
        "Roles",
        (
            "Party",
            "Kind",
            "Responsible for",
            "Not responsible for",
            "Who answers when",
            "Backup contacts",
        ),
        tuple(rows),
    )


def _layers_table(contract: Contract) -> Table:
    rows = tuple(
        (a.layer.value, _party(contract, a.primary), a.boundary or "—") for a in contract.layers
    )
    return Table(
        "Layers and their primary party",
        ("Layer", "Primary party", "Boundary"),
        rows,
        f"Coordinator until confirmed restoration: {_party(contract, contract.coordinator)}."
        f" Tickets are accepted by: {_party(contract, contract.intake)}.",
    )


def _sla_table(contract: Contract) -> Table:
    rows = [
        (
            _CATEGORY_TITLES[target.category],
            target.priority,
            ", ".join(p.value for p in target.periods),
            format_duration(target.response),
            format_duration(target.recovery),
            target.calendar or "the object's support hours",
        )
        for target in contract.sla.targets
    ]
    matrix = "; ".join(
        f"{crit}: " + ", ".join(f"{c.value} {p}" for c, p in row.items())
        for crit, row in contract.priority_matrix.items()
    )
    warnings = ", ".join(f"{w:.0%}" for w in contract.sla.warnings)
    note = (
        f"Priority matrix — {matrix}. Warnings at {warnings} of a target. Clocks start at "
        f"{contract.sla.clock_start.replace('_', ' ')} (at most "
        f"{format_duration(contract.sla.max_backdate)} before registration). Periods by "
        f"{contract.sla.period_calendar or 'none (always day)'}: open = day, holiday, "
        "other closed day = weekend, rest = night."
    )
    return Table(
        "SLA: response and recovery",
        ("Category", "Priority", "Periods", "Response", "Recovery", "Measured on"),
        tuple(rows),
        note,
    )


def _escalation_table(contract: Contract) -> Table:
    rows = []
    for level in sorted(contract.escalation, key=lambda lv: lv.level):
        threshold = ", ".join(
            f"{clock.value} {fraction:.0%}" for clock, fraction in level.at.items()
        )
        rows.append(
            (
                str(level.level),
                level.name,
                threshold or "—",
                "; ".join(_contact(contract, r) for r in level.contacts) or "—",
                "; ".join(_contact(contract, r) for r in level.emergency_approvers) or "—",
            )
        )
    return Table(
        "Escalation levels",
        ("Level", "Name", "Fires at (share of target)", "Contacts", "Emergency approvers"),
        tuple(rows),
    )


def _pause_table(contract: Contract) -> Table:
    rows = tuple(
        (
            r.id,
            r.text,
            ", ".join(c.value for c in r.clocks) or "—",
            ", ".join(_party(contract, p) for p in r.invoked_by) or "—",
            _party(contract, r.confirmed_by),
            "; ".join(r.evidence) or "—",
        )
        for r in contract.pause_reasons
    )
    return Table(
        "Pause rules",
        ("Id", "Reason", "Pauses", "Who may invoke", "Confirmed by", "Evidence required"),
        rows,
        "The SLA clock stops for no other reason.",
    )


def _windows_table(contract: Contract) -> Table:
    rows = []
    for w in contract.maintenance_windows:
        members = [*w.objects, *(f"group {g}" for g in w.groups)]
        if w.weekly is not None:
            when = (
                f"every {', '.join(w.weekly.days)} {w.weekly.start:%H:%M} for "
                f"{format_duration(w.weekly.duration)} ({w.weekly.timezone})"
            )
        else:
            when = f"{w.start:%Y-%m-%d %H:%M %z} – {w.end:%Y-%m-%d %H:%M %z}"
        rows.append(
            (
                w.id,
                w.description or "—",
                ", ".join(members),
                when,
                _contact(contract, w.approved_by),
            )
        )
    return Table(
        "Maintenance windows", ("Id", "Work", "Objects", "When", "Approved by"), tuple(rows)
    )


def _access_table(contract: Contract) -> Table:
    rows = tuple(
        (
            rid,
            r.mode.replace("_", " "),
            _contact(contract, r.issued_by),
            format_duration(r.lead_time),
            f"yes — {_contact(contract, r.approver)}" if r.after_hours_approval else "no",
            r.emergency or "—",
            _contact(contract, r.confirms_completion),
        )
        for rid, r in contract.access_rules.items()
    )
    return Table(
        "Access",
        (
            "Rule",
            "Mode",
            "Issued by",
            "Lead time",
            "After-hours approval",
            "Emergency access",
            "Confirms completion",
        ),
        rows,
    )


def _vendors_table(contract: Contract) -> Table:
    rows = tuple(
        (
            p.name,
            ", ".join(p.products) or "—",
            _party(contract, h.opens_cases),
            _party(contract, h.collects_logs),
            _party(contract, h.correspondence),
            _party(contract, h.decides_fixes),
            h.support_contract or "—",
        )
        for p in contract.parties.values()
        if (h := p.vendor_handling) is not None
    )
    return Table(
        "Vendors",
        (
            "Vendor",
            "Products",
            "Opens cases",
            "Collects logs",
            "Correspondence",
            "Decides fixes",
            "Support contract",
        ),
        rows,
    )


def _scope_table(contract: Contract) -> Table:
    rows = [("In scope", "environments", ", ".join(e.value for e in contract.environments))]
    rows.extend(("Excluded", e.id, e.text) for e in contract.exclusions)
    return Table("Scope and exclusions", ("", "Id", "Text"), tuple(rows))


# --------------------------------------------------------------------------- renderers


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _markdown(appendix: Appendix) -> str:
    out = [f"# {appendix.title}", "", f"_{appendix.subtitle}_", ""]
    for table in appendix.tables:
        out += [f"## {table.title}", ""]
        if table.note:
            out += [table.note, ""]
        out.append("| " + " | ".join(_md_cell(c) for c in table.columns) + " |")
        out.append("|" + "|".join("---" for _ in table.columns) + "|")
        out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows)
        out.append("")
    return "\n".join(out)


def _csv(appendix: Appendix) -> str:
    """One CSV file: each table starts with a row holding its title, then its header row;
    tables are separated by an empty row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([appendix.title, appendix.subtitle])
    for table in appendix.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.columns)
        writer.writerows(table.rows)
    return buffer.getvalue()


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1a1a1a; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
caption { text-align: left; font-weight: 600; font-size: 1.15em; padding: 0.3em 0; }
.note { color: #555; }
"""


def _html(appendix: Appendix) -> str:
    esc = html.escape
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(appendix.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(appendix.title)}</h1>",
        f'<p class="note">{esc(appendix.subtitle)}</p>',
    ]
    for table in appendix.tables:
        out.append(f"<table><caption>{esc(table.title)}</caption>")
        if table.note:
            out.append(
                f'<tr><td class="note" colspan="{len(table.columns)}">{esc(table.note)}</td></tr>'
            )
        out.append("<tr>" + "".join(f"<th>{esc(c)}</th>" for c in table.columns) + "</tr>")
        out.extend(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in table.rows
        )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
