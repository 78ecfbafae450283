"""`baton drill`: the seed's night test in one command — who accepts, who checks each layer,
deadlines, escalation, pauses, access and vendors for an incident on an object at an instant,
the changes recorded before it and the expected events on its chain.

Thin shell over ``shared.contract.drill``: parse, ask the pure functions, print. The only clock
read is the default anchor of ``drill --all`` (now), and it is passed down like any other
instant.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from baton.contract_cli import JsonOpt, PathArg, echo_json, parse_or_exit, stack_reporting
from shared.checkins import ExpectedEvent, expected_events
from shared.contract.drill import DrillReport, Gap, drill, drill_all
from shared.contract.model import Contract
from shared.contract.view import ContractView
from shared.events import Category


def drill_command(
    path: PathArg,
    *,
    object_id: Annotated[str | None, typer.Option("--object", help="object id to drill")] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="ISO time; without offset = contract local time. "
            "With --all: the anchor to search night/weekend/holiday from (default now)",
        ),
    ] = None,
    category: Annotated[Category, typer.Option("--category", help="incident category")] = (
        Category.OUTAGE
    ),
    all_objects: Annotated[
        bool, typer.Option("--all", help="every critical object at a night, weekend, holiday")
    ] = False,
    reporting: Annotated[
        str | None,
        typer.Option(
            "--reporting",
            help="reporting's URL for the changes recorded before TIME (default: the local"
            " stack's; its reader token from BATON_READER_TOKEN, else the stack's credentials)",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The seed's test: who accepts, who checks each layer, deadlines, escalation, pauses,
    access and vendors for an incident on OBJECT at TIME, and what changed on it and on what
    it depends on in the 24 h before (with a stack; offline, the contract's maintenance windows
    only). Exit 1 if any question has no answer."""
    _, contract, _ = parse_or_exit(path, as_json=as_json)
    view = ContractView.of(contract)
    beside: DrillChanges | None = None
    if all_objects:
        anchor = _parse_at(at, contract) if at else datetime.now(UTC)
        reports, general = drill_all(view, anchor, category)
    elif object_id is None or at is None:
        raise typer.BadParameter("give --object and --at, or --all")
    else:
        if contract.object(object_id) is None:
            raise typer.BadParameter(f"--object: {object_id!r} is not in the contract")
        reports, general = [drill(view, object_id, _parse_at(at, contract), category)], []
        beside = _drill_changes(contract, reports[0], reporting)
    failed = bool(general) or any(not r.ok for r in reports)
    drilled = {r.object for r in reports} | {c.object for r in reports for c in r.checks}
    anchor_at = reports[0].at if reports else datetime.now(UTC)
    expected = [
        e for e in expected_events(view, anchor_at) if all_objects or e.object_id in drilled
    ]
    if as_json:
        echo_json(
            {
                "ok": not failed,
                "contract": contract.id,
                "version": contract.version,
                "gaps": [g.model_dump() for g in general],
                "reports": [r.model_dump(mode="json") for r in reports],
                "expected_events": [dataclasses.asdict(e) for e in expected],
                **({"changes": beside.as_json()} if beside is not None else {}),
            }
        )
    elif all_objects:
        _print_summary(reports, general)
        typer.echo("\n".join(_render_expected(expected)))
    else:
        shown = _render_changes(beside) if beside is not None else []
        typer.echo("\n".join(_render(reports[0]) + shown + _render_expected(expected)))
    if failed:
        raise typer.Exit(1)


def _parse_at(text: str, contract: Contract) -> datetime:
    """ISO 8601; a time without offset is read in the contract's local time zone (the SLA
    period calendar's)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"--at: {text!r} is not an ISO 8601 date-time") from exc
    if value.tzinfo is None:
        spec = contract.calendar_spec(contract.sla.period_calendar or "24x7")
        zone = contract.business_calendar(spec.id).zone if spec else UTC
        value = value.replace(tzinfo=zone)
    return value


def _render(report: DrillReport) -> list[str]:
    def who(answer: Any) -> str:
        if answer is None:
            return "NOBODY"
        on_duty = answer.on_duty or "nobody on duty now"
        return f"{answer.name} [{answer.party}] — {on_duty}"

    lines = [
        f"{report.object_name} ({report.object}) — {report.layer}, {report.criticality}, "
        f"{report.environment}",
        f"{report.category.value} at {report.at_local} ({report.period.value}), priority "
        f"{report.priority or '?'}" + (f" — {report.trigger}" if report.trigger else ""),
        f"  accepts the ticket:  {who(report.accepts)}",
        *([f"    first line: {report.first_line}"] if report.first_line else []),
        f"  coordinator:         {who(report.coordinator)}",
        f"  primary owner:       {who(report.primary)}",
        f"  executor:            {who(report.executor)}",
        "  who checks what along the dependency chain:",
    ]
    lines.extend(
        f"    {c.relation:<10} {c.object:<20} {c.layer:<12} {who(c.checked_by)}"
        + (f" (when its hours open: {c.engaged_at})" if c.engaged_at else "")
        for c in report.checks
    )
    lines.append("  deadlines:")
    lines.extend(
        f"    {d.clock.value:<9} {d.target:>6} on {d.calendar} -> {d.due_local}"
        for d in report.deadlines
    )
    lines.append("  escalation:")
    for step in report.escalation:
        fires = ", ".join(
            [
                *(f"{clock.value} {when}" for clock, when in step.fires.items()),
                *(f"each {trigger.value.replace('_', ' ')}" for trigger in step.triggers),
            ]
        )
        lines.append(f"    L{step.level} {step.name} ({fires}): {'; '.join(step.contacts)}")
        if step.emergency_approvers:
            lines.append(f"       emergency approval: {'; '.join(step.emergency_approvers)}")
    lines.append("  may pause:")
    for pause in report.pauses:
        clocks = "+".join(c.value for c in pause.clocks)
        lines.append(f"    {pause.id} ({clocks}; by {', '.join(pause.invoked_by)}): {pause.text}")
    if report.access:
        a = report.access
        lines += [
            f"  access ({a.rule}): {a.mode.replace('_', ' ')}, issued by {a.issued_by}, "
            f"lead time {a.lead_time} (ready by {a.ready_by_local})",
            f"    {a.approval}",
            f"    emergency: {a.emergency}",
        ]
    for vendor in report.vendors:
        lines.append(
            f"  vendor {vendor.name} (for {vendor.for_object}): cases by "
            f"{vendor.opens_cases}, logs by {vendor.collects_logs}, correspondence by "
            f"{vendor.correspondence}, fix decided by {vendor.decides_fixes}"
        )
    if report.maintenance:
        lines.append(f"  in maintenance window {report.maintenance}")
    for gap in report.gaps:
        lines.append(f"  GAP {gap.code}: {gap.message}")
    return lines


@dataclasses.dataclass(frozen=True)
class DrillChanges:
    """The changes the drill shows (issue 27.2): ``read`` when reporting's records were read;
    ``note`` says why not (the contract's maintenance windows are shown either way)."""

    rows: list[dict[str, Any]]
    read: bool
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        rows = [{**r, "at": r["at"].isoformat()} for r in self.rows]
        return {"rows": rows, "read": self.read, "note": self.note}


def _drill_changes(contract: Contract, report: DrillReport, reporting: str | None) -> DrillChanges:
    """The changes on the drilled object and what it depends on in the 24 h before the drilled
    instant (``reporting.changes.drilled``), read from reporting's ``GET /v1/changes`` with
    the reader's token, one request per object of the chain; without a stack, the contract's
    maintenance windows only and a note that says so."""
    import httpx
    from reporting import changes

    from baton.cli import stack_auth

    start, end = changes.period(report.at)
    base, why = stack_reporting(reporting)
    if base is None:
        rows = changes.drilled(contract, report.object, report.at, [])
        note = f"none to show, {why} (give --reporting URL to read the recorded ones)"
        return DrillChanges(rows, read=False, note=note)
    recorded: list[dict[str, Any]] = []
    window = {"since": start.astimezone(UTC).isoformat(), "until": end.astimezone(UTC).isoformat()}
    try:
        with httpx.Client(timeout=30, auth=stack_auth()) as client:
            for obj in changes.scope(contract, report.object):
                answer = client.get(
                    f"{base}/v1/changes", params={"object": obj, **window, "limit": 1000}
                )
                answer.raise_for_status()
                recorded.extend({**r, "at": datetime.fromisoformat(r["at"])} for r in answer.json())
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        rows = changes.drilled(contract, report.object, report.at, [])
        return DrillChanges(rows, read=False, note=f"none to show, reporting at {base}: {exc}")
    return DrillChanges(changes.drilled(contract, report.object, report.at, recorded), read=True)


def _render_changes(beside: DrillChanges) -> list[str]:
    from baton.cli import safe
    from shared.documents.words import seconds_words

    head = "  changes in the 24 h before"
    if not beside.rows:
        return [f"{head}: {beside.note or 'none'}"]
    lines = [f"{head} (nearest first):"]
    for r in beside.rows:
        by = f", {r['by_whom']}" if r.get("by_whom") else ""
        link = f"  {r['link']}" if r.get("link") else ""
        text = (
            f"{seconds_words(r['before_seconds'])} before  {r['object_id'] or 'every object'}"
            f"  {r['source']}{by}: {r['summary']}{link}"
        )
        lines.append(f"    {safe(text).plain}")
    if beside.note:
        lines.append(f"    recorded changes: {beside.note}")
    return lines


def _render_expected(events: list[ExpectedEvent]) -> list[str]:
    """The expected events on the drilled chain: when each must run, how late it may be, and
    who is paged when it does not (the watchdog opens the incident; ADR 16)."""
    if not events:
        return []
    lines = ["  expected events (a missed run opens an incident):"]
    for e in events:
        lines.append(f"    {e.object_id:<20} {e.duty:<14} {e.schedule}; grace {e.grace}")
        lines.append(f"    {'':<20} {'':<14} {e.category}, pages {e.paged}")
    return lines


def _print_summary(reports: list[DrillReport], general: list[Gap]) -> None:
    for gap in general:
        typer.echo(f"GAP {gap.code}: {gap.message}")
    for report in reports:
        status = "ok " if report.ok else "GAP"
        due = {d.clock.value: d.due_local for d in report.deadlines}
        on_duty = report.primary.on_duty if report.primary and report.primary.on_duty else "-"
        typer.echo(
            f"{status} {report.object:<20} {report.period.value:<8} {report.at_local}  "
            f"{report.category.value} {report.priority or '?'}; primary: {on_duty}; "
            f"recovery by {due.get('recovery', '-')}"
            + (f"  [{report.trigger}]" if report.trigger else "")
        )
        for gap in report.gaps:
            typer.echo(f"      {gap.code}: {gap.message}")
    failed = sum(not r.ok for r in reports)
    typer.echo(f"{len(reports)} drill(s), {failed} with gaps")


drill_app = typer.Typer(help="Drill the contract: the seed's night test in one command.")
drill_app.command("drill")(drill_command)
