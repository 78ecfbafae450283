"""`baton contract lint|appendix|hash|match|rules` and `baton drill`: the contract from the shell.

Thin shell over ``shared.contract``: parse, ask the pure functions, print. The only clock read
is the default anchor of ``drill --all`` (now), and it is passed down like any other instant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from aiokafka.errors import KafkaError

from baton.credentials import Credentials
from shared.checkins import ExpectedEvent, expected_events
from shared.contract.appendix import FORMATS, build_appendix, render
from shared.contract.drill import DrillReport, Gap, drill, drill_all
from shared.contract.findings import RULES, Finding, Severity, has_errors
from shared.contract.lint import lint_parsed
from shared.contract.load import Parsed, parse_path
from shared.contract.model import Contract
from shared.contract.view import ContractView
from shared.events import Category
from shared.topics import Topic

contract_app = typer.Typer(
    help="Lint the support contract, render its appendix, show its hash.", no_args_is_help=True
)

IN_FORCE_WAIT_SECONDS = 20.0
"""How long ``publish`` reads the version in force on another cluster (to name new parties)."""

PathArg = Annotated[Path, typer.Argument(help="contract file or folder of YAML files")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


def _parse_or_exit(path: Path, *, as_json: bool) -> tuple[Parsed, Contract, list[Finding]]:
    parsed = parse_path(path)
    findings = lint_parsed(parsed)
    if parsed.contract is None:
        if as_json:
            _echo_json({"ok": False, "findings": [f.to_json() for f in findings]})
        else:
            for finding in findings:
                typer.echo(str(finding), err=True)
            typer.echo(f"{path}: no contract could be built", err=True)
        raise typer.Exit(2)
    return parsed, parsed.contract, findings


def _deployment_senders(given: str | None) -> frozenset[str] | None:
    """The channel kinds the deployment sends: ``--senders``, else the kinds of
    ``BATON_NOTIFY_SENDERS`` when it is set, else unknown (None: BTN701 is not checked)."""
    if given is not None:
        return frozenset(k.strip() for k in given.split(",") if k.strip())
    raw = os.environ.get("BATON_NOTIFY_SENDERS")
    if raw is None:
        return None
    try:
        return frozenset(json.loads(raw))
    except (ValueError, TypeError):
        raise typer.BadParameter("BATON_NOTIFY_SENDERS is not a JSON object") from None


@contract_app.command("lint")
def lint_command(
    path: PathArg,
    as_json: JsonOpt = False,
    senders: Annotated[
        str | None,
        typer.Option(
            "--senders",
            help="channel kinds this deployment can send, comma-separated (default: those of"
            " BATON_NOTIFY_SENDERS when set): the others are reported (BTN701)",
        ),
    ] = None,
) -> None:
    """Check the contract; exit 1 on any error (warnings alone exit 0)."""
    parsed = parse_path(path)
    findings = lint_parsed(parsed, _deployment_senders(senders))
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    if as_json:
        contract = parsed.contract
        _echo_json(
            {
                "ok": errors == 0,
                "contract": contract.id if contract else None,
                "version": contract.version if contract else None,
                "hash": contract.content_hash if contract else None,
                "errors": errors,
                "warnings": warnings,
                "findings": [f.to_json() for f in findings],
            }
        )
    else:
        for finding in findings:
            typer.echo(str(finding))
            typer.echo(f"    hint: {finding.hint}")
        label = parsed.contract.id if parsed.contract else str(path)
        typer.echo(f"{label}: {errors} error(s), {warnings} warning(s)")
    if errors:
        raise typer.Exit(1)


@contract_app.command("appendix")
def appendix_command(
    path: PathArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, csv, html, pdf or json")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to FILE")] = None,
) -> None:
    """The contract appendix both sides sign: objects by location and layer, the SLA matrix,
    roles, escalation, pauses, maintenance windows, expected events, open points, signatures."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    _, contract, findings = _parse_or_exit(path, as_json=False)
    if has_errors(findings):
        errors = sum(f.severity is Severity.ERROR for f in findings)
        typer.echo(
            f"warning: the contract has {errors} lint error(s); run `baton contract lint`", err=True
        )
    write_document(render(build_appendix(contract), fmt), fmt, output)


def write_document(data: bytes, fmt: str, output: Path | None) -> None:
    """To FILE, or to standard output; a PDF is never written to a terminal."""
    if output is not None:
        output.write_bytes(data)
        typer.echo(f"wrote {output}", err=True)
        return
    if fmt == "pdf" and sys.stdout.isatty():
        raise typer.BadParameter("a PDF goes to a file: give --output FILE (or redirect)")
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


@contract_app.command("hash")
def hash_command(path: PathArg, as_json: JsonOpt = False) -> None:
    """The contract's id, version and content hash."""
    _, contract, _ = _parse_or_exit(path, as_json=as_json)
    doc = {"id": contract.id, "version": contract.version, "hash": contract.content_hash}
    if as_json:
        _echo_json(doc)
    else:
        typer.echo(f"{contract.id} {contract.version} {contract.content_hash}")


@contract_app.command("match")
def match_command(
    path: PathArg,
    labels: Annotated[
        str,
        typer.Option(
            "--labels", help='an alert\'s labels as JSON, e.g. \'{"instance": "h:9100"}\''
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Which object an alert with these labels lands on, and why; exit 1 if none."""
    try:
        given = json.loads(labels)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--labels") from exc
    if not isinstance(given, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in given.items()
    ):
        raise typer.BadParameter("a JSON object of string labels", param_hint="--labels")
    _, contract, _ = _parse_or_exit(path, as_json=as_json)
    found = contract.explain_match(given)
    if as_json:
        _echo_json(
            {
                "object": found.object_id if found else None,
                "rule": found.rule.where if found else None,
                "matchers": found.rule.describe() if found else None,
                "also": [
                    {"object": r.object_id, "rule": r.where, "matchers": r.describe()}
                    for r in (found.also if found else ())
                ],
            }
        )
    elif found is None:
        typer.echo("outside the perimeter: no object's match, matchers or alert rule holds")
    else:
        typer.echo(found.explain())
    if found is None:
        raise typer.Exit(1)


@contract_app.command("rules")
def rules_command(as_json: JsonOpt = False) -> None:
    """Every lint code with its severity, title and fix hint."""
    if as_json:
        _echo_json(
            [
                {
                    "code": r.code,
                    "severity": r.severity.value,
                    "title": r.title,
                    "hint": r.hint,
                    "integrity": r.integrity,
                }
                for r in RULES.values()
            ]
        )
        return
    for rule in RULES.values():
        typer.echo(f"{rule.code} {rule.severity.value:<7} {rule.title}")


# --------------------------------------------------------------------------- drill


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
    _, contract, _ = _parse_or_exit(path, as_json=as_json)
    beside: DrillChanges | None = None
    if all_objects:
        anchor = _parse_at(at, contract) if at else datetime.now(UTC)
        reports, general = drill_all(ContractView.of(contract), anchor, category)
    elif object_id is None or at is None:
        raise typer.BadParameter("give --object and --at, or --all")
    else:
        if contract.object(object_id) is None:
            raise typer.BadParameter(f"--object: {object_id!r} is not in the contract")
        reports, general = (
            [drill(ContractView.of(contract), object_id, _parse_at(at, contract), category)],
            [],
        )
        beside = _drill_changes(contract, reports[0], reporting)
    failed = bool(general) or any(not r.ok for r in reports)
    drilled = {r.object for r in reports} | {c.object for r in reports for c in r.checks}
    anchor_at = reports[0].at if reports else datetime.now(UTC)
    expected = [
        e for e in expected_events(contract, anchor_at) if all_objects or e.object_id in drilled
    ]
    if as_json:
        _echo_json(
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
    base, why = _stack_reporting(reporting)
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


@contract_app.command("apply-open")
def apply_open_command(
    path: PathArg,
    *,
    intake: Annotated[
        str | None, typer.Option(help="intake's URL (default: the local stack)")
    ] = None,
    reporting: Annotated[
        str | None, typer.Option(help="reporting's URL (default: the local stack)")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="BATON_COORDINATOR_TOKEN", help="the coordinator's API token"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan only")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply the contract in force to the incidents already open, on the record: the
    coordinator re-routes each (owners follow this version) and reclassifies those whose
    priority this version sets otherwise. PATH is the published contract in force."""
    import httpx

    from baton.apply_open import apply, open_incidents, plan
    from baton.cli import stack_auth
    from baton.stack import status

    _, contract, _ = _parse_or_exit(path, as_json=as_json)
    services = status()["services"] if intake is None or reporting is None else {}
    intake = intake or str(services["intake"]["url"])
    reporting = reporting or str(services["reporting"]["url"])
    # reads with the stack's operator token; each step acts as the coordinator: with --token,
    # else with the coordinator's own token from the stack's credentials
    with httpx.Client(timeout=30, auth=stack_auth()) as client:
        steps = plan(contract, open_incidents(client, reporting))
        done = [] if dry_run else apply(client, intake, steps, token)
    rows = [
        {"incident": s.incident_id, "action": s.body["action"], "priority": s.body.get("priority")}
        | ({"status": code, "answer": answer} if not dry_run else {})
        for s, code, answer in (done or [(s, 0, "") for s in steps])
    ]
    if as_json:
        _echo_json(rows)
    else:
        for row in rows:
            typer.echo("  ".join(f"{k}={v}" for k, v in row.items() if v is not None))
        typer.echo(f"{len(rows)} step(s) {'planned' if dry_run else 'sent'}")
    if any(isinstance(r.get("status"), int) and r["status"] >= 300 for r in rows):
        raise typer.Exit(1)


def local_stack_credentials(environ: Mapping[str, str]) -> Credentials | None:
    """The local stack's credentials when a CLI command talks to it (no ``BATON_KAFKA_BOOTSTRAP``
    naming another cluster, as ``client_settings`` decides); None otherwise."""
    from baton import credentials
    from baton.stack import kafka_env, stack_paths, stack_ports

    paths = stack_paths(environ)
    creds = credentials.load(paths.root)
    if creds is None:
        return None
    own = kafka_env(stack_ports(paths, environ), creds)["BATON_KAFKA_BOOTSTRAP"]
    return creds if environ.get("BATON_KAFKA_BOOTSTRAP", own) == own else None


def uncredentialed_parties(
    contract: Contract,
    path: Path,
    environ: Mapping[str, str],
    in_force: Contract | None = None,
) -> tuple[list[str], str]:
    """The parties of ``contract`` this deployment has no credentials for, and what to run.

    Services get every party's tokens and Kafka user when they start, so a party new in a
    published contract is refused (401/403) until they restart with it. Publishing to the
    local stack, its credentials file says who has credentials; to another cluster, nothing
    here can read its secrets: the parties new since the version ``in_force`` are named.
    """
    creds = local_stack_credentials(environ)
    if creds is not None:
        missing = sorted(set(contract.parties) - set(creds.parties))
        todo = (
            f"baton stack down && BATON_CONTRACT_PATH={path} baton stack up "
            "(the stack keeps its data; the services restart with the new parties' tokens, "
            "Kafka users and ACLs)"
        )
    else:
        known = set(in_force.parties) if in_force is not None else set(contract.parties)
        missing = sorted(set(contract.parties) - known)
        todo = (
            f"docker compose: baton compose-secrets --contract {path} && docker compose up -d; "
            "Helm: give the chart's secret the new parties' tokens and Kafka users, then "
            "helm upgrade"
        )
    return missing, todo if missing else ""


ReportingOpt = Annotated[
    str | None,
    typer.Option(
        "--reporting", help="reporting's URL for the open incidents (default: the local stack's)"
    ),
]


def _stack_reporting(reporting: str | None) -> tuple[str | None, str]:
    """Reporting's base URL: ``reporting``, else the local stack's when it runs; or None and
    why not."""
    from baton.stack import status

    if reporting is not None:
        return reporting.rstrip("/"), ""
    service = status()["services"]["reporting"]
    if not service.get("running"):
        return None, "no stack running"
    return str(service["url"]).rstrip("/"), ""


def _open_incidents(reporting: str | None) -> tuple[list[dict[str, Any]] | None, str]:
    """The open incidents from reporting (``reporting``, else the local stack's when it runs),
    or None and why not."""
    import httpx

    from baton.apply_open import open_incidents
    from baton.cli import stack_auth

    base, why = _stack_reporting(reporting)
    if base is None:
        return None, f"{why}: open incidents not read (--reporting URL)"
    try:
        with httpx.Client(timeout=30, auth=stack_auth()) as client:
            return open_incidents(client, base), ""
    except httpx.HTTPError as exc:
        return None, f"reporting at {reporting} not read: {exc}"


def _preview(old: Contract, new: Contract, reporting: str | None) -> tuple[list[str], list[str]]:
    """The changes a person signs and, with a stack, the open incidents apply-open would
    change (``baton/contract_diff.py``), as lines; the second list is empty without a move."""
    from baton.contract_diff import diff, impact

    changes = [str(c) for c in diff(old, new)] or ["no change"]
    rows, why = _open_incidents(reporting)
    if rows is None:
        return [*changes, why], []
    moves = [str(m) for m in impact(old, new, rows)]
    return changes, moves


@contract_app.command("diff")
def diff_command(
    old: PathArg,
    new: PathArg,
    reporting: ReportingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every change from OLD to NEW a person signs (objects, owners, support hours, SLA rows,
    pause reasons, escalation, access rules, ...) and, with a stack, which open incidents
    would change owner, coordinator, priority or deadline under apply-open."""
    _, before, _ = _parse_or_exit(old, as_json=as_json)
    _, after, _ = _parse_or_exit(new, as_json=as_json)
    changes, moves = _preview(before, after, reporting)
    if as_json:
        _echo_json({"changes": changes, "open_incidents": moves})
        return
    for line in changes:
        typer.echo(line)
    if moves:
        typer.echo(f"under apply-open, {len(moves)} change(s) to open incidents:")
        for line in moves:
            typer.echo(f"  {line}")


@contract_app.command("publish")
def publish_command(
    path: PathArg,
    as_json: JsonOpt = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="publish although open incidents would change")
    ] = False,
    reporting: ReportingOpt = None,
) -> None:
    """Lint the contract and, only if it has no error, publish it to the contract topic.

    Every service adopts the newest published version without a restart. Kafka connection and
    topic prefix come from the BATON_* settings (BATON_KAFKA_BOOTSTRAP, BATON_TOPIC_PREFIX, the
    BATON_KAFKA_SASL_* credentials); what they leave unset, the local stack fills (its admin).
    """
    import asyncio

    from baton.stack import client_settings
    from shared.contract_feed import publish_contract, read_newest

    _, contract, findings = _parse_or_exit(path, as_json=as_json)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        for finding in errors:
            typer.echo(str(finding), err=True)
        typer.echo(f"{contract.id}: {len(errors)} error(s): not published", err=True)
        raise typer.Exit(1)
    settings = client_settings()  # BATON_* settings; the local stack fills what they leave unset

    async def newest() -> Contract | None:
        """The version in force on the contract topic, if Kafka answers in time."""
        with contextlib.suppress(KafkaError, TimeoutError):
            return await asyncio.wait_for(read_newest(settings), IN_FORCE_WAIT_SECONDS)
        return None

    in_force = asyncio.run(newest())
    if in_force is not None:  # what a person signs, and what apply-open would move (issue 27)
        changes, moves = _preview(in_force, contract, reporting)
        if not as_json:
            typer.echo(f"from {in_force.id} {in_force.version} in force:")
            for line in changes:
                typer.echo(f"  {line}")
        if moves:
            typer.echo(f"under apply-open, {len(moves)} change(s) to open incidents:", err=True)
            for line in moves:
                typer.echo(f"  {line}", err=True)
            if not yes:
                typer.echo("not published: run again with --yes to publish", err=True)
                raise typer.Exit(1)
    event = asyncio.run(publish_contract(settings, contract, now=datetime.now(UTC)))
    missing, todo = uncredentialed_parties(contract, path, os.environ, in_force)
    result = {
        "contract": contract.id,
        "version": contract.version,
        "hash": contract.content_hash,
        "event_id": str(event.id),
        "topic": settings.topic(Topic.CONTRACT),
        "parties_without_credentials": missing,
        "to_run": todo or None,
    }
    if as_json:
        _echo_json(result)
    else:
        typer.echo(
            f"published {contract.id} {contract.version} ({contract.content_hash}) "
            f"to {result['topic']}"
        )
    if missing and not as_json:
        typer.echo(
            f"warning: no credentials in this deployment for {', '.join(missing)}: they are "
            f"refused (401/403) until the services restart with them. Run: {todo}",
            err=True,
        )
