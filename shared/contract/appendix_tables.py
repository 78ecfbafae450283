"""The contract appendix's tables: objects, SLA matrix, sites, roles, escalation, pauses,
maintenance windows, expected check-ins, access, vendors, scope, open points."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared.calendar import CalendarSpec, holidays_data_version
from shared.contract.lint import check_contract, open_point_of
from shared.contract.model import ALL_PERIODS, Contract, EscalationTrigger, SupportObject
from shared.documents import Table
from shared.documents.words import cron_words, duration_words
from shared.events import Category

if TYPE_CHECKING:
    from shared.checkins import Expectation

from shared.contract.appendix_words import (
    DAY_NAMES,
    calendar_words,
    contact_words,
    duration_text,
    hours_words,
    party_name,
)

CATEGORY_TITLES = {
    Category.OUTAGE: "Outage",
    Category.DEGRADATION: "Degradation",
    Category.REQUEST: "Request",
    Category.INTEGRATION_ISSUE: "Integration issue",
}
# --------------------------------------------------------------------------- tables


def _priorities(contract: Contract, obj: SupportObject) -> str:
    row = contract.priority_matrix.get(obj.criticality, {})
    return ", ".join(f"{CATEGORY_TITLES[c].lower()} {p}" for c, p in row.items())


def _comments(contract: Contract, obj: SupportObject) -> str:
    comments = []
    software = " ".join(p for p in (obj.product, obj.version or "", obj.edition or "") if p)
    if software:
        comments.append(software)
    if obj.business_unit:
        comments.append(f"for {obj.business_unit}")
    if obj.depends_on:
        comments.append("depends on " + ", ".join(obj.depends_on))
    if obj.access:
        rule = contract.access_rules.get(obj.access)
        comments.append(
            f"access: {rule.mode.replace('_', ' ')}" if rule else f"access: {obj.access}"
        )
    if obj.backup:
        comments.append(f"backups by {party_name(contract, obj.backup.made_by)}")
    if obj.schedule:
        when = cron_words(obj.schedule.cron, obj.schedule.timezone)
        comments.append("runs " + when[:1].lower() + when[1:])
    if obj.vendor:
        comments.append(f"vendor: {party_name(contract, obj.vendor)}")
    if obj.notes:
        comments.append(obj.notes)
    return "; ".join(comments)


def objects_table(contract: Contract) -> Table:
    columns = (
        "Object",
        "Kind / role",
        "Environment",
        "Criticality",
        "Priority by category",
        "Customer owner",
        "Executor",
        "Support hours",
        "Comments",
    )
    grouped: dict[tuple[str, int, str], list[tuple[str, ...]]] = {}
    layer_order = {a.layer: i for i, a in enumerate(contract.layers)}
    for obj in contract.objects:
        location = contract.locations.get(obj.location) if obj.location else None
        where = location.name if location else (obj.location or "No location given")
        primary = ", ".join(party_name(contract, p) for p in contract.primaries(obj.layer)) or "—"
        key = (
            where,
            layer_order.get(obj.layer, 99),
            f"{obj.layer.value} layer — primary: {primary}",
        )
        grouped.setdefault(key, []).append(
            (
                f"{obj.name} ({obj.id})",
                obj.kind.value.replace("_", " ") + (f" — {obj.role}" if obj.role else ""),
                obj.environment.value,
                obj.criticality,
                _priorities(contract, obj),
                contact_words(contract, obj.owner),
                party_name(contract, obj.executor),
                calendar_words(contract, obj.calendar),
                _comments(contract, obj),
            )
        )
    location_order = {loc.name: i for i, loc in enumerate(contract.locations.values())}
    keys = sorted(grouped, key=lambda k: (location_order.get(k[0], 99), k[0], k[1]))
    groups = tuple(
        (f"{where} · {layer}", tuple(grouped[(where, o, layer)])) for where, o, layer in keys
    )
    return Table(
        "Support objects",
        columns,
        tuple(row for _, rows in groups for row in rows),
        groups=groups,
    )


def sla_paragraphs(contract: Contract) -> tuple[str, ...]:
    sla = contract.sla
    out = [
        "Two clocks run for every incident: response, until the incident is taken into "
        "work, and recovery, until the service works again in the agreed scope. The "
        "incident's priority comes from the object's criticality and the incident's category "
        "(first table); the targets per priority and period are in the second.",
    ]
    if sla.period_calendar:
        out.append(
            f"The period of an incident is read from the calendar {sla.period_calendar} "
            f"({calendar_words(contract, sla.period_calendar)}) at the moment its clock starts: "
            "while that calendar is open it is day; on a public or contract holiday it is "
            "holiday; on any other closed day it is weekend; outside opening hours on a "
            "working day it is night."
        )
    else:
        out.append("No period calendar is named, so every incident is measured as day.")
    start = (
        "the first alert that shows the fault"
        if sla.clock_start == "first_alert"
        else "the registration of the ticket"
    )
    written = sla.model_fields_set  # a rule the contract does not write is Baton's default
    backdate = f"at most {duration_words(sla.max_backdate)} before the ticket was registered"
    warnings = ", ".join(f"{w:.0%}" for w in sla.warnings)
    out.append(
        " ".join(
            (
                f"Clocks start at {start}."
                if "clock_start" in written
                else f"Baton's default: clocks start at {start} (sla.clock_start).",
                f"A clock starts {backdate}."
                if "max_backdate" in written
                else f"Baton's default: a clock starts {backdate} (sla.max_backdate).",
                f"Warnings are raised at {warnings} of a target."
                if "warnings" in written
                else f"Baton's default: warnings at {warnings} of a target (sla.warnings).",
                "A target measured on a business-hours calendar counts only the hours that "
                "calendar is open (business hours and business days); others count the "
                "object's support hours.",
            )
        )
    )
    outside = (
        "an incident on nothing in the perimeter is taken by the coordinator and measured as "
        "on a critical object: the matrix's critical row for its category, round the clock "
        "unless the target names a calendar; its assignment carries those deadlines."
        if sla.outside_perimeter == "matrix"
        else "no SLA applies to an incident on nothing in the perimeter: the coordinator "
        "triages it, no clock runs and its assignment carries no deadlines."
    )
    worst = (
        "an incident's priority follows the worst of what joins it: an alert whose category "
        "on its object has a more urgent priority in the matrix (an outage joining a "
        "degradation) reclassifies the incident, recorded with the alert as the reason; a "
        "priority is never lowered automatically."
        if sla.priority_follows_worst
        else "an incident keeps the priority it opened with when other alerts join it; a more "
        "critical probable origin still raises it, and a priority is never lowered "
        "automatically."
    )
    for field, text in (("outside_perimeter", outside), ("priority_follows_worst", worst)):
        out.append(
            text[0].upper() + text[1:]
            if field in written
            else f"Baton's default: {text[:-1]} (sla.{field})."
        )
    out.extend(coordination_terms(contract))
    if (
        not {
            "clock_start",
            "max_backdate",
            "warnings",
            "outside_perimeter",
            "priority_follows_worst",
            "update_every",
            "update_remind_before",
        }
        <= written
        or "group_by" not in contract.problems.model_fields_set
    ):
        out.append(
            'A rule marked "Baton\'s default" is not written in this contract: it applies '
            "until the contract sets the field named beside it."
        )
    excluded = [w.id for w in contract.maintenance_windows if w.excludes_sla and w.approved_by]
    if excluded:
        out.append(
            "Approved maintenance time is excluded from the SLA: time inside the approved "
            f"maintenance windows {', '.join(excluded)} does not count on the clocks of "
            "their objects."
        )
    else:
        out.append("No maintenance window is excluded from the SLA: its time counts.")
    return tuple(out)


def coordination_terms(contract: Contract) -> list[str]:
    """The customer's update cadence (ADR 47) and when recurring incidents become a problem
    record (ADR 48), each marked Baton's default where the contract does not write it."""
    sla, written = contract.sla, contract.sla.model_fields_set
    priorities = sorted({p for row in contract.priority_matrix.values() for p in row.values()})
    every = [(p, sla.update_cadence(p)) for p in priorities]
    cadence = ", ".join(f"{p} every {duration_words(e)}" for p, e in every if e is not None)
    text = (
        f"while an incident is open the coordinator updates the customer {cadence}"
        if cadence
        else "no priority has an update cadence"
    )
    remind = (
        f"the coordinator is reminded {duration_words(sla.update_remind_before)} before an"
        " update is due, and an update not given by then is overdue (an escalation)"
    )
    problems = contract.problems
    problem = (
        f"{problems.incidents} incidents on one origin within {duration_words(problems.within)}"
        " open a problem record owned by the primary of the origin's layer, its fix due"
        f" {duration_words(problems.fix_due)} later"
    )
    grouping = (
        "incidents count together per group of the contract: the objects of one group are one"
        " origin (an object in no group counts alone)"
        if problems.group_by == "group"
        else "incidents count together per object"
    )
    return [
        f"{text[0].upper()}{text[1:]}."
        if "update_every" in written
        else f"Baton's default: {text} (sla.update_every).",
        f"{remind[0].upper()}{remind[1:]}."
        if "update_remind_before" in written
        else f"Baton's default: {remind} (sla.update_remind_before).",
        f"{problem[0].upper()}{problem[1:]}."
        if "problems" in contract.model_fields_set
        else f"Baton's default: {problem} (problems).",
        f"{grouping[0].upper()}{grouping[1:]}."
        if "group_by" in problems.model_fields_set
        else f"Baton's default: {grouping} (problems.group_by).",
    ]


def holidays_words(spec: CalendarSpec) -> str:
    """Where a calendar's days off come from: the public-holiday set (``holidays`` package,
    whose version the contract hash includes), contract days off, and worked weekend days."""
    if spec.kind == "24x7":
        return "none: open every day"
    parts = []
    if spec.holidays_country:
        region = spec.holidays_country + (
            f"-{spec.holidays_subdiv}" if spec.holidays_subdiv else ""
        )
        parts.append(f"public holidays of {region} (python holidays {holidays_data_version()})")
    if spec.extra_holidays:
        parts.append("contract days off " + ", ".join(f"{d:%Y-%m-%d}" for d in spec.extra_holidays))
    if spec.moved_working_days:
        parts.append(
            "worked "
            + ", ".join(
                f"{d:%Y-%m-%d} (as {DAY_NAMES[w]})" for d, w in spec.moved_working_days.items()
            )
        )
    return "; ".join(parts) or "no holidays"


def sites_table(contract: Contract) -> Table:
    """Each site's period calendar: the zone its objects' times are shown in, the hours that
    are day there, and where its holidays come from (ADR 22)."""
    rows = []
    sites: list[tuple[str, str | None, int, str | None]] = [
        (
            f"{location.name} ({location_id})",
            location.period_calendar or contract.sla.period_calendar,
            sum(1 for o in contract.objects if o.location == location_id),
            location.timezone,
        )
        for location_id, location in contract.locations.items()
    ]
    elsewhere = sum(1 for o in contract.objects if o.location not in contract.locations)
    if elsewhere:
        sites.append(("No location given", contract.sla.period_calendar, elsewhere, None))
    for name, calendar_id, count, written in sites:
        spec = contract.calendar_spec(calendar_id) if calendar_id else None
        if spec is None:
            rows.append((name, "UTC", "every hour is day (no period calendar)", "—", str(count)))
            continue
        hours = "24/7: every hour is day" if spec.kind == "24x7" else hours_words(spec)
        zone = spec.timezone
        if written is not None and written != spec.timezone and spec.kind != "24x7":
            zone += f" (the site is written in {written}: lint BTN308)"  # never silently
        rows.append((name, zone, f"{spec.id}: {hours}", holidays_words(spec), str(count)))
    return Table(
        "Sites: time zone and period calendar",
        ("Site", "Time zone", "Day is (period calendar)", "Days off", "Objects"),
        tuple(rows),
    )


def priority_table(contract: Contract) -> Table:
    columns = ("Criticality", *CATEGORY_TITLES.values())
    rows = tuple(
        (crit, *(row.get(c, "—") for c in CATEGORY_TITLES))
        for crit, row in contract.priority_matrix.items()
    )
    return Table("Priority by criticality and category", columns, rows)


def sla_matrix(contract: Contract) -> Table:
    keys: list[tuple[Category, str]] = []
    for written in contract.sla.targets:
        if (written.category, written.priority) not in keys:
            keys.append((written.category, written.priority))
    keys.sort(key=lambda k: (k[1], list(CATEGORY_TITLES).index(k[0])))
    rows = []
    for category, priority in keys:
        cells = []
        calendars: set[str] = set()
        for period in ALL_PERIODS:
            target = contract.sla_target(category, priority, period)
            if target is None:
                cells.append("no target")
                continue
            calendars.add(target.calendar or "")
            cells.append(
                f"response {duration_text(contract, target.response, target.calendar)}; "
                f"recovery {duration_text(contract, target.recovery, target.calendar)}"
            )
        measured = "; ".join(
            calendar_words(contract, c) if c else "the object's support hours"
            for c in sorted(calendars)
        )
        rows.append((priority, CATEGORY_TITLES[category], *cells, measured))
    return Table(
        "Response and recovery targets",
        ("Priority", "Category", *(p.value.capitalize() for p in ALL_PERIODS), "Measured on"),
        tuple(rows),
    )


def roles_table(contract: Contract) -> Table:
    rows = []
    for pid, party in contract.parties.items():
        role = " (coordinator of every incident)" if pid == contract.coordinator else ""
        if pid == contract.first_line_party and pid != contract.coordinator:
            role = " (first line: accepts tickets, hands them to the coordinator)"
        duty = "; ".join(
            f"{calendar_words(contract, shift.calendar)}: {party.contacts[shift.contact].reach()}"
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
        ("Party", "Kind", "Responsible for", "Not responsible for", "Who answers when", "Backup"),
        tuple(rows),
    )


def layers_table(contract: Contract) -> Table:
    rows = tuple(
        (a.layer.value, party_name(contract, a.primary), a.boundary or "—") for a in contract.layers
    )
    return Table(
        "Layers and their one primary party",
        ("Layer", "Primary party", "Boundary"),
        rows,
        f"The coordinator ({party_name(contract, contract.coordinator)}) owns every incident until "
        "the customer confirms restoration, even while other teams work on it.",
    )


TRIGGER_TEXT = {
    EscalationTrigger.UPDATE_OVERDUE: "each customer update not given by its due time",
}
"""What a level's trigger means, in the appendix's words (ADR 54)."""


def escalation_table(contract: Contract) -> Table:
    rows = []
    for level in sorted(contract.escalation, key=lambda lv: lv.level):
        fires = [f"{share:.0%} of the {clock.value} target" for clock, share in level.at.items()]
        threshold = ", ".join([*fires, *(TRIGGER_TEXT[t] for t in level.triggers)])
        rows.append(
            (
                str(level.level),
                level.name,
                threshold or "at once",
                "; ".join(contact_words(contract, r) for r in level.contacts) or "—",
                "; ".join(contact_words(contract, r) for r in level.emergency_approvers) or "—",
            )
        )
    return Table(
        "Escalation levels",
        ("Level", "Name", "Fires at", "Contacts", "Emergency approvers"),
        tuple(rows),
    )


def pause_table(contract: Contract) -> Table:
    rows = tuple(
        (
            r.text,
            " and ".join(c.value for c in r.clocks) or "—",
            ", ".join(party_name(contract, p) for p in r.invoked_by) or "—",
            party_name(contract, r.confirmed_by),
            "; ".join(r.evidence) or "—",
        )
        for r in contract.pause_reasons
    )
    return Table(
        "Pause rules",
        ("Reason", "Clocks paused", "Who may invoke", "Confirmed by", "Evidence required"),
        rows,
    )


def maintenance_paragraphs(contract: Contract) -> tuple[str, ...]:
    return (
        "During an approved window, alerts from its objects open no incident; an alert still "
        "firing when the window ends opens one then. A window without an approver counts "
        "for nothing. Where the table says so, the window's time is also excluded from the SLA.",
    )


def windows_table(contract: Contract) -> Table:
    rows = []
    for w in contract.maintenance_windows:
        members = [*w.objects, *(f"group {g}" for g in w.groups)]
        if w.weekly is not None:
            days = ", ".join(DAY_NAMES[d] for d in w.weekly.days)
            when = (
                f"every {days} from {w.weekly.start:%H:%M} for "
                f"{duration_words(w.weekly.duration)} ({w.weekly.timezone})"
            )
        else:
            when = f"{_at(w.start)} – {_at(w.end)}"
        rows.append(
            (
                w.description or w.id,
                ", ".join(members),
                when,
                contact_words(contract, w.approved_by) if w.approved_by else "not approved",
                "yes" if w.excludes_sla and w.approved_by else "no",
            )
        )
    return Table(
        "Maintenance windows",
        ("Work", "Objects", "When", "Approved by", "Excluded from SLA"),
        tuple(rows),
    )


def _at(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M %z}" if value else "—"


def _grace_words(obj: SupportObject, exp: Expectation) -> str:
    """How late a run may report; Baton's default where the contract writes none."""
    from shared.checkins import Duty

    backup = obj.backup
    written = {
        Duty.RUN: obj.schedule,
        Duty.BACKUP: backup.copies if backup else None,
        Duty.BACKUP_CHECK: backup.check if backup else None,
    }.get(exp.duty)
    words = duration_words(exp.grace)
    if written is None:
        return f"{words} (Baton's default)"  # a test restore: a day, not settable
    return words if written.grace is not None else f"{words} (Baton's default; schedule.grace)"


def expected_tables(contract: Contract) -> tuple[Table, ...]:
    from shared.checkins import DUTY_WORDS, expectations, schedule_in_words

    runs = []
    for exp in expectations(contract):
        obj = contract.object(exp.object_id)
        if obj is None:
            continue
        paged = ", ".join(party_name(contract, p) for p in contract.primaries(obj.layer)) or "—"
        runs.append(
            (
                f"{obj.name} ({obj.id})",
                DUTY_WORDS[exp.duty],
                schedule_in_words(exp),
                _grace_words(obj, exp),
                party_name(contract, exp.party),
                paged,
            )
        )
    backups = tuple(
        (
            f"{obj.name} ({obj.id})",
            obj.backup.schedule or "—",
            party_name(contract, obj.backup.made_by),
            party_name(contract, obj.backup.checked_by),
            party_name(contract, obj.backup.test_restore_by)
            + (
                f", every {duration_words(obj.backup.test_restore_every)}"
                if obj.backup.test_restore_every
                else ""
            ),
        )
        for obj in contract.objects
        if obj.backup is not None
    )
    return (
        Table(
            "Expected events",
            ("Object", "What", "When", "Grace", "Reported by", "Paged when missed"),
            tuple(runs),
            "Each run reports to its check-in key. A run not reported by its expected time "
            "plus the grace opens an incident for the layer's primary party, at the object's "
            "local time; a maintenance window or a skipped holiday expects no run.",
        ),
        Table(
            "Backups, their checks and test restores",
            ("Object", "Copies", "Made by", "Checked by", "Test restore by"),
            backups,
        ),
    )


def access_table(contract: Contract) -> Table:
    rows = tuple(
        (
            rid,
            r.mode.replace("_", " "),
            contact_words(contract, r.issued_by),
            duration_words(r.lead_time),
            f"yes — {contact_words(contract, r.approver)}" if r.after_hours_approval else "no",
            r.emergency or "—",
            contact_words(contract, r.confirms_completion),
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


def vendors_table(contract: Contract) -> Table:
    rows = tuple(
        (
            p.name,
            ", ".join(p.products) or "—",
            party_name(contract, h.opens_cases),
            party_name(contract, h.collects_logs),
            party_name(contract, h.correspondence),
            party_name(contract, h.decides_fixes),
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


def scope_table(contract: Contract) -> Table:
    rows = [("In scope", "environments: " + ", ".join(e.value for e in contract.environments))]
    rows.extend(("Excluded", e.text) for e in contract.exclusions)
    return Table("Scope", ("", "Text"), tuple(rows))


def open_points_table(contract: Contract) -> Table:
    from shared.contract.findings import RULES

    issues = check_contract(contract)
    covered: dict[int, list[str]] = {i: [] for i in range(len(contract.open_points))}
    rest = []
    for issue in issues:
        held_by = open_point_of(contract, issue)
        if held_by is None:
            rest.append((issue.code, RULES[issue.code].severity.value, issue.message))
        else:
            covered[held_by].append(issue.message)
    agreed = []
    for index, point in enumerate(contract.open_points):
        words = [point.field + (f": {point.note}" if point.note else "")]
        if point.owner:
            words.append(f"answer from {contact_words(contract, point.owner)}")
        if covered[index]:
            words.append("to settle: " + "; ".join(covered[index]))
        agreed.append(("to be agreed", "open point", " — ".join(words)))
    return Table(
        "Open points still to agree",
        ("Check", "Severity", "What is missing"),
        (*agreed, *rest),
        "The fields the contract marks as to be agreed (open_points), then what the contract "
        "checks (`baton contract lint`) still miss; none means every check passes.",
    )


def signature_role(contract: Contract, party_id: str) -> str:
    party = contract.parties[party_id]
    if party.kind == "customer":
        return "Customer"
    layers = [a.layer.value for a in contract.layers if a.primary == party_id]
    role = "Contractor" + (f", primary for {', '.join(layers)}" if layers else "")
    if party_id == contract.coordinator:
        role += "; coordinator"
    return role
