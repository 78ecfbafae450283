"""The monthly service report: one month of one contract, in the order a customer reads it.

The facts come from ``document_facts.monthly_facts`` (one query per section); each section below
is a pure function of those facts and the contract, so the same figures feed HTML, PDF and JSON
(``shared.documents``). ``monthly_document`` puts the headline figures first, then the sections:
SLA compliance, breaches, pauses, access waits, mean times per week, recurring objects and
origins, problem records, missed expected events, updates to the customer, outside the perimeter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from reporting import access_view
from reporting.document_facts import MonthlyFacts
from reporting.document_words import object_name, party_name, reason_text
from reporting.pauses import pauses
from shared.contract.model import Contract
from shared.documents import Chart, Document, Fact, Section, Series, Table
from shared.documents.words import duration_words, seconds_words


def monthly_document(facts: MonthlyFacts, contract: Contract) -> Document:
    label = f"{facts.month:%Y-%m}"
    met = sum(r["met"] for r in facts.compliance)
    breached = sum(r["breached"] for r in facts.compliance)
    totals = facts.totals
    return Document(
        kind="monthly-report",
        title=f"Monthly service report — {label}",
        subtitle=f"{contract.title or contract.id}",
        stamp=f"Monthly service report {label} · contract {contract.id} version {contract.version}",
        facts=(
            Fact("Month", f"{label} (UTC)"),
            Fact("Incidents opened", str(totals.get("incidents", 0))),
            Fact("Closed", str(totals.get("closed", 0))),
            Fact("SLA clocks met / breached", f"{met} / {breached}"),
            Fact("SLA compliance", _share(met, breached)),
            Fact("MTTA", seconds_words(_float(totals.get("mtta")))),
            Fact("MTTR", seconds_words(_float(totals.get("mttr")))),
            Fact("Outside the perimeter", str(len(facts.outside))),
            Fact("Missed expected events", str(len(facts.missed))),
        ),
        sections=(
            compliance_section(facts, contract),
            breaches_section(facts, contract),
            pauses_section(facts, contract),
            access_section(facts, contract),
            weeks_section(facts),
            recurring_section(facts, contract),
            problems_section(facts, contract),
            missed_section(facts, contract),
            updates_section(facts, contract),
            outside_section(facts),
        ),
    )


def _party_names(contract: Contract) -> Callable[[str | None], str]:
    return lambda party_id: party_name(contract, party_id)


# --------------------------------------------------------------------------- SLA compliance


def compliance_section(facts: MonthlyFacts, contract: Contract) -> Section:
    """Met and breached clocks per contractor, category, priority and clock, and a chart of the
    contractors' compliance."""
    by_party, party_shares = _compliance_by(facts.compliance, "party", _party_names(contract))
    by_category, _ = _compliance_by(facts.compliance, "category")
    by_priority, _ = _compliance_by(facts.compliance, "priority")
    by_clock, _ = _compliance_by(facts.compliance, "clock")
    contractors = sorted({name for shares in party_shares.values() for name in shares})
    chart = Chart(
        "SLA compliance per contractor",
        "bar",
        tuple(contractors),
        tuple(
            Series(clock, tuple(party_shares[clock].get(c, 0.0) for c in contractors))
            for clock in ("response", "recovery")
            if clock in party_shares
        ),
        percent=True,
    )
    return Section(
        "SLA compliance",
        (
            "A clock is met when it stopped before its deadline and never breached; "
            "running clocks are not counted yet. Clocks are counted in the month they "
            "started.",
        ),
        tables=(by_party, by_category, by_priority, by_clock),
        charts=(chart,),
    )


def _share(met: int, breached: int) -> str:
    decided = met + breached
    return f"{met / decided:.1%}" if decided else "—"


def _compliance_by(
    rows: Sequence[dict[str, Any]], key: str, name: Any = str
) -> tuple[Table, dict[str, dict[str, float]]]:
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        cell = sums[(str(r[key]), r["clock"])]
        cell[0] += r["clocks"]
        cell[1] += r["met"]
        cell[2] += r["breached"]
        cell[3] += r["running"]
    table_rows = []
    shares: dict[str, dict[str, float]] = defaultdict(dict)
    for (group, clock), (clocks, met, breached, running) in sorted(sums.items()):
        table_rows.append(
            (
                *((name(group),) if key != "clock" else ()),
                clock,
                str(clocks),
                str(met),
                str(breached),
                str(running),
                _share(met, breached),
            )
        )
        if met + breached:
            shares[clock][name(group)] = met / (met + breached)
    title = {
        "party": "contractor",
        "category": "category",
        "priority": "priority",
        "clock": "clock",
    }[key]
    return (
        Table(
            f"Compliance per {title}",
            (
                *((title.capitalize(),) if key != "clock" else ()),
                "Clock",
                "Clocks",
                "Met",
                "Breached",
                "Running",
                "Compliance",
            ),
            tuple(table_rows),
        ),
        shares,
    )


# --------------------------------------------------------------------------- breaches


def breaches_section(facts: MonthlyFacts, contract: Contract) -> Section:
    return Section(
        "Breaches and their causes",
        tables=(
            Table(
                "Breached clocks",
                ("Incident", "Clock", "Priority", "Contractor", "Deadline (UTC)", "Cause"),
                tuple(
                    (
                        f"{b['incident_id']}: {b['summary']}",
                        b["clock"],
                        b["priority"],
                        party_name(contract, b["party"]),
                        f"{b['deadline']:%Y-%m-%d %H:%M}",
                        b.get("cause") or "not closed yet",
                    )
                    for b in facts.breaches
                ),
            ),
        ),
    )


# --------------------------------------------------------------------------- pauses and access


def pauses_section(facts: MonthlyFacts, contract: Contract) -> Section:
    """Paused business time by reason and party, the unconfirmed and disputed part apart."""
    paused: dict[tuple[str, str], timedelta] = defaultdict(timedelta)
    apart: dict[tuple[str, str, str], timedelta] = defaultdict(timedelta)
    for p in pauses(facts.pause_events):
        paused[(p.reason, p.party)] += p.business or timedelta(0)
        apart[(p.reason, p.party, p.confirmation(contract))] += p.business or timedelta(0)
    pause_rows = sorted(paused.items(), key=lambda kv: kv[1], reverse=True)
    by_reason: dict[str, timedelta] = defaultdict(timedelta)
    for (reason, _), span in pause_rows:
        by_reason[reason_text(contract, reason)] += span
    chart = Chart(
        "Paused business time by reason (hours)",
        "barh",
        tuple(by_reason),
        (Series("paused", tuple(s.total_seconds() / 3600 for s in by_reason.values())),),
        unit="hours",
    )
    return Section(
        "Pauses",
        (
            "Business time the clocks did not count, by the contract's pause reason and "
            "the party that asked for the pause.",
        ),
        tables=(
            Table(
                "Pause time by reason and party",
                ("Reason", "Party", "Paused (business time)", "Unconfirmed", "Disputed"),
                tuple(
                    (
                        reason_text(contract, reason),
                        party_name(contract, pid),
                        duration_words(span),
                        duration_words(apart[(reason, pid, "unconfirmed")]),
                        duration_words(apart[(reason, pid, "disputed")]),
                    )
                    for (reason, pid), span in pause_rows
                ),
            ),
        ),
        charts=(chart,) if by_reason else (),
    )


def access_section(facts: MonthlyFacts, contract: Contract) -> Section:
    return Section(
        "Waiting for access and approvals",
        (
            "Access requests of the month's incidents, per access rule and the party "
            "that asked: how long the answers took, and the clock time the automatic "
            "no-access / no-approver pauses excluded.",
        ),
        tables=(
            Table(
                "Access waits by rule and party",
                access_view.WAIT_COLUMNS,
                access_view.waits(facts.pause_events, _party_names(contract)),
            ),
        ),
    )


# --------------------------------------------------------------------------- mean times


def weeks_section(facts: MonthlyFacts) -> Section:
    weeks = facts.weeks
    chart = Chart(
        "MTTA and MTTR per week (minutes)",
        "line",
        tuple(f"week of {w['week']:%d %b}" for w in weeks),
        (
            Series("MTTA", tuple(float(w["mtta"] or 0) / 60 for w in weeks)),
            Series("MTTR", tuple(float(w["mttr"] or 0) / 60 for w in weeks)),
        ),
        unit="minutes",
    )
    return Section(
        "Mean times per week",
        (
            "MTTA: from registration to taken into work. MTTR: from the first alert to "
            "restoration. Weeks start on Monday.",
        ),
        tables=(
            Table(
                "MTTA and MTTR per week",
                ("Week", "Incidents", "MTTA", "MTTR"),
                tuple(
                    (
                        f"{w['week']:%Y-%m-%d}",
                        str(w["incidents"]),
                        seconds_words(_float(w["mtta"])),
                        seconds_words(_float(w["mttr"])),
                    )
                    for w in weeks
                ),
            ),
        ),
        charts=(chart,),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- where it recurs


def recurring_section(facts: MonthlyFacts, contract: Contract) -> Section:
    chart = Chart(
        "Incidents per object (top 10)",
        "barh",
        tuple(object_name(contract, r["object_id"]) for r in facts.top_objects),
        (Series("incidents", tuple(float(r["incidents"]) for r in facts.top_objects)),),
        unit="incidents",
    )
    return Section(
        "Recurring objects and origins",
        tables=(
            Table(
                "Objects with the most incidents",
                ("Object", "Incidents"),
                tuple(
                    (object_name(contract, r["object_id"]), str(r["incidents"]))
                    for r in facts.top_objects
                ),
            ),
            Table(
                "Where incidents started (probable origin)",
                ("Origin object", "Layer", "Incidents"),
                tuple(
                    (
                        object_name(contract, r["origin_object"]),
                        r["origin_layer"] or "—",
                        str(r["incidents"]),
                    )
                    for r in facts.top_origins
                ),
            ),
        ),
        charts=(chart,),
    )


def problems_section(facts: MonthlyFacts, contract: Contract) -> Section:
    return Section(
        "Problem records",
        (
            "Incidents that kept recurring on one origin, each owned by its layer's "
            "primary until its cause is known and fixed (ADR 48).",
        ),
        tables=(
            Table(
                "Open and closed problems",
                ("Problem", "Origin", "Owner", "Opened", "Fix due", "Status", "Incidents"),
                tuple(
                    (
                        r["id"],
                        _problem_origin(contract, r),
                        party_name(contract, r["owner"]),
                        f"{r['opened_at']:%Y-%m-%d}",
                        f"{r['fix_due']:%Y-%m-%d}",
                        r["status"] + (f": {r['cause']}" if r.get("cause") else ""),
                        ", ".join(r["incidents"]),
                    )
                    for r in facts.problems
                ),
            ),
        ),
    )


def _problem_origin(contract: Contract, problem: dict[str, Any]) -> str:
    """The object a problem opened on, and the contract's group it was counted on (ADR 55)."""
    name = object_name(contract, problem["origin_object"])
    group_id = problem.get("group_id")
    if not group_id:
        return name
    group = contract.groups.get(group_id)
    return f"{name}, counted with its group {group.name if group else group_id}"


# --------------------------------------------------------------------------- what was missed


def missed_section(facts: MonthlyFacts, contract: Contract) -> Section:
    return Section(
        "Missed expected events",
        (
            "Scheduled exchanges, jobs, backups, their checks and test restores that did "
            "not report in time (the check-in watchdog), each an incident.",
        ),
        tables=(
            Table(
                "Expected events that did not happen",
                ("Incident", "Object", "What", "Opened (UTC)", "Status"),
                tuple(_missed_row(contract, r) for r in facts.missed),
            ),
        ),
    )


def _missed_row(contract: Contract, row: dict[str, Any]) -> tuple[str, ...]:
    from shared.checkins import DUTY_WORDS, Duty

    name = str(row["fp"]).removeprefix("checkin:")
    object_id, _, duty = name.rpartition("/")
    what = DUTY_WORDS[Duty(duty)] if duty in Duty.__members__.values() else duty
    return (
        row["id"],
        object_name(contract, object_id or row["object_id"]),
        what,
        f"{row['opened_at']:%Y-%m-%d %H:%M}",
        row["status"],
    )


def updates_section(facts: MonthlyFacts, contract: Contract) -> Section:
    return Section(
        "Updates to the customer",
        (
            "Updates the coordinators did not give by the time the contract's cadence "
            "(sla.update_every) set, each an escalation.",
        ),
        tables=(
            Table(
                "Overdue updates per coordinator",
                ("Coordinator", "Priority", "Overdue updates"),
                tuple(
                    (party_name(contract, r["coordinator"]), r["priority"], str(r["overdue"]))
                    for r in facts.overdue_updates
                ),
            ),
        ),
    )


def outside_section(facts: MonthlyFacts) -> Section:
    return Section(
        "Outside the perimeter",
        ("Alerts from objects the contract does not name: candidates for the registry.",),
        tables=(
            Table(
                "Incidents outside the perimeter",
                ("Incident", "Opened (UTC)", "Summary", "Alerts", "Status"),
                tuple(
                    (
                        r["id"],
                        f"{r['opened_at']:%Y-%m-%d %H:%M}",
                        r["summary"],
                        str(r["alert_count"]),
                        r["status"],
                    )
                    for r in facts.outside
                ),
            ),
        ),
    )
