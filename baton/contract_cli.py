"""`baton contract lint|appendix|hash|match|rules|diff|publish|apply-open`: the contract from the
shell (`baton drill` is in ``drill_cli``).

Thin shell over ``shared.contract``: parse, ask the pure functions, print. The only clock read
is the publishing instant of ``publish`` (now), stamped on the contract event.
"""

from __future__ import annotations

import contextlib
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
from shared.contract.appendix import FORMATS, build_appendix, render
from shared.contract.findings import RULES, Finding, Severity, has_errors
from shared.contract.lint import lint_parsed
from shared.contract.load import Parsed, parse_path
from shared.contract.model import Contract
from shared.topics import Topic

contract_app = typer.Typer(
    help="Lint the support contract, render its appendix, show its hash.", no_args_is_help=True
)

IN_FORCE_WAIT_SECONDS = 20.0
"""How long ``publish`` reads the version in force on another cluster (to name new parties)."""

PathArg = Annotated[Path, typer.Argument(help="contract file or folder of YAML files")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


def parse_or_exit(path: Path, *, as_json: bool) -> tuple[Parsed, Contract, list[Finding]]:
    parsed = parse_path(path)
    findings = lint_parsed(parsed)
    if parsed.contract is None:
        if as_json:
            echo_json({"ok": False, "findings": [f.to_json() for f in findings]})
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
        echo_json(
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
    _, contract, findings = parse_or_exit(path, as_json=False)
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
    _, contract, _ = parse_or_exit(path, as_json=as_json)
    doc = {"id": contract.id, "version": contract.version, "hash": contract.content_hash}
    if as_json:
        echo_json(doc)
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
    _, contract, _ = parse_or_exit(path, as_json=as_json)
    found = contract.explain_match(given)
    if as_json:
        echo_json(
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
        echo_json(
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

    _, contract, _ = parse_or_exit(path, as_json=as_json)
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
        echo_json(rows)
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


def stack_reporting(reporting: str | None) -> tuple[str | None, str]:
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

    base, why = stack_reporting(reporting)
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
    _, before, _ = parse_or_exit(old, as_json=as_json)
    _, after, _ = parse_or_exit(new, as_json=as_json)
    changes, moves = _preview(before, after, reporting)
    if as_json:
        echo_json({"changes": changes, "open_incidents": moves})
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

    _, contract, findings = parse_or_exit(path, as_json=as_json)
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
        echo_json(result)
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
