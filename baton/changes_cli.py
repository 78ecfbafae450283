"""``baton changes list``: the change records beside the incidents (ADR 46), from reporting."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

import typer
from rich.table import Table

changes_app = typer.Typer(
    help="Changes made beside the incidents (PagerDuty change events, CI/CD, contracts).",
    no_args_is_help=True,
)


@changes_app.command("list")
def changes_list(
    object_id: Annotated[
        str | None, typer.Option("--object", help="one object's (and every object's) changes")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="made at or after (ISO 8601, UTC if bare)")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="reporting's base URL")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Change records, newest first."""
    from baton.cli import _get, _reporting_url, console, safe

    query: dict[str, str] = {}
    if object_id:
        query["object"] = object_id
    if since is not None:
        query["since"] = (since if since.tzinfo else since.replace(tzinfo=UTC)).isoformat()
    rows = _get(f"{_reporting_url(url)}/v1/changes?{urlencode(query)}")
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("at (UTC)", "object", "source", "summary", "link")
    for r in rows:
        table.add_row(
            safe(str(r["at"])[:16]),
            safe(r["object_id"] or "(every object)"),
            safe(r["source"]),
            safe(r["summary"]),
            safe(r["link"] or ""),
        )
    console.print(table)
