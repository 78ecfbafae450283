"""`baton checkins list`: every expected event of the contract with its check-in key.

The keys are what scheduled jobs, exchanges and backup scripts ping
(``curl -fsS -m 10 --retry 5 http://<sla-clock>/ping/<key>``, ``/start`` before, ``/fail`` or
``/<exit status>`` after; ADR 16). A key is a capability: hand each one only to the job it is for.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.checkins import expected_events
from shared.contract import ContractError, load_contract
from shared.contract.view import ContractView

SECRET_ENV = "BATON_CHECKIN_SECRET"  # noqa: S105 - the variable's name, not a secret

checkins_app = typer.Typer(
    help="Expected events (schedules, backups, test restores) and their check-in keys.",
    no_args_is_help=True,
)


@checkins_app.command("list")
def list_command(
    path: Annotated[
        Path | None,
        typer.Argument(help="contract file or folder (default: the example contract)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Each expected event: object, duty, schedule in words, grace, who is paged, its key.

    A key is a secret (ADR 35): it is derived under ``BATON_CHECKIN_SECRET`` (else the local
    stack's credentials); without either the key column stays empty."""
    from baton import credentials
    from baton.stack import EXAMPLE_CONTRACT, stack_paths

    try:
        contract = load_contract(path or EXAMPLE_CONTRACT)
    except ContractError as exc:
        raise typer.BadParameter(str(exc)) from exc
    secret = os.environ.get(SECRET_ENV)
    if not secret and (creds := credentials.load(stack_paths().root)) is not None:
        secret = creds.checkin_secret
    rows = expected_events(ContractView.of(contract), datetime.now(UTC), secret or None)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    table = Table("object", "duty", "schedule", "grace", "category", "paged", "key")
    table.columns[-1].no_wrap = True
    table.columns[-1].min_width = 36
    for r in rows:
        table.add_row(r.object_id, r.duty, r.schedule, r.grace, r.category, r.paged, r.key)
    # piped output (scripts, CI logs) gets a width that keeps every key whole
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@checkins_app.command("status")
def status_command(
    url: Annotated[
        str | None, typer.Option("--url", help="sla-clock base URL (default: the local stack)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """What the watchdog sees now: the run each expected event awaits, its deadline, the last
    successful run, and what is overdue or failing."""
    import httpx

    from baton.cli import stack_auth
    from baton.stack import status

    base = url or str(status()["services"]["sla-clock"]["url"])
    try:
        reply = httpx.get(f"{base}/v1/checkins", timeout=10, auth=stack_auth())
    except httpx.TransportError as exc:
        raise typer.BadParameter(f"sla-clock is not reachable at {base}: {exc}") from exc
    if reply.status_code != 200:
        typer.echo(f"{reply.status_code} {reply.text[:200]!r}", err=True)
        raise typer.Exit(1)
    rows = reply.json()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("check-in", "awaited run", "deadline", "last success", "state")
    for r in rows:
        state = "FAILING" if r["failing"] else ("OVERDUE" if r["overdue_seconds"] else "ok")
        table.add_row(
            str(r["checkin"]),
            str(r["expected_at"] or "-"),
            str(r["deadline"] or "-"),
            str(r["last_success"] or "never"),
            state,
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)
