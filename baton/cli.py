"""`baton`: the one command line for operators and developers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from baton import credentials
from baton.changes_cli import changes_app
from baton.checkins_cli import checkins_app
from baton.contract_cli import contract_app
from baton.drill_cli import drill_command
from baton.stack import stack_app, stack_contract, stack_paths, status
from shared.contract.model_validators import format_duration

if TYPE_CHECKING:
    from baton.scenarios import Stack
    from baton.stack.lifecycle import StackStatus
    from shared.settings import Settings
    from shared.topic_admin import KafkaClient

app = typer.Typer(
    help="Baton: the event backbone of a 24/7 support contract.", no_args_is_help=True
)
app.add_typer(stack_app, name="stack", help="Start, stop and inspect the local stack.")
app.add_typer(contract_app, name="contract", help="Lint, render and inspect a contract.")
app.command("drill")(drill_command)
app.add_typer(checkins_app, name="checkins")
app.add_typer(changes_app, name="changes")
incidents_app = typer.Typer(help="Read incidents from the reporting service.", no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")
# Piped output (CI logs, `make run | tee`) gets a width that fits the incident table.
console = Console(width=None if sys.stdout.isatty() else 150)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="reporting base URL (default: from the local stack); its reader token from"
        " BATON_READER_TOKEN, else the stack's credentials",
    ),
]


# C0 and C1 controls, and the bidirectional controls that reorder what a terminal shows
# (U+061C, U+200E-F, U+202A-E, U+2066-9: "Trojan Source", CVE-2021-42574)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: object) -> Text:
    """Text from the outside (alert summaries, object names, actors) as a terminal cell: control
    and bidi characters shown as escapes, never executed nor reordering the line; Rich markup
    shown as typed, never rendered."""
    return Text(_CONTROL.sub(_escaped, str(value)))


def _reporting_url(url: str | None) -> str:
    return url or str(status()["services"]["reporting"]["url"])


READER_TOKEN_ENV = "BATON_READER_TOKEN"  # noqa: S105 - the variable's name, not a secret


def stack_auth() -> credentials.StackAuth | None:
    """The local stack's credentials for the services' APIs (operator's reader token, each
    source's and party's own), or None for a stack that has none (an open one). With
    ``BATON_READER_TOKEN`` set (a reporting elsewhere, ``--url``), reads carry that token."""
    if token := os.environ.get(READER_TOKEN_ENV):
        return credentials.StackAuth(credentials.Credentials(readers={credentials.OPERATOR: token}))
    creds = credentials.load(stack_paths().root)
    return credentials.StackAuth(creds) if creds is not None else None


def _get(url: str) -> Any:
    try:
        response = httpx.get(url, timeout=10, auth=stack_auth())
    except httpx.TransportError as exc:
        raise typer.BadParameter(f"reporting is not reachable at {url}: {exc}") from exc
    if response.status_code != 200:
        console.print(Text(f"{response.status_code} ", style="red") + safe(response.text))
        raise typer.Exit(1)
    return response.json()


def _read(url: str | None, path: str, *, as_json: bool) -> Any:
    """``path`` read from reporting (at ``url``, else the local stack's); with ``--json`` it is
    printed as it came and the command ends there."""
    doc = _get(f"{_reporting_url(url)}{path}")
    if as_json:
        print(json.dumps(doc, indent=2, default=str))
        raise typer.Exit
    return doc


def _required_auth() -> credentials.StackAuth:
    try:
        return credentials.StackAuth(credentials.require(stack_paths().root))
    except credentials.MissingCredentials as exc:
        console.print(Text(str(exc), style="red"))
        raise typer.Exit(1) from exc


@incidents_app.command("list")
def incidents_list(
    url: UrlOption = None,
    state: Annotated[
        str | None, typer.Option("--status", help="open|acknowledged|restored|closed")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Incidents, newest first."""
    query = f"?status={state}" if state else ""
    rows = _read(url, f"/v1/incidents{query}", as_json=as_json)
    table = Table("id", "status", "prio", "layer", "origin", "owner", "opened (UTC)", "summary")
    for column in table.columns:
        column.no_wrap = True
        column.overflow = "ellipsis"
    for column, width in zip(table.columns, (20, 12, 4, 11, 16, 8, 16), strict=False):
        column.min_width = width
    table.columns[-1].max_width = 48
    for r in rows:
        table.add_row(
            safe(r["id"]),
            safe(r["status"]),
            safe(r["priority"]),
            safe(r["layer"] or "-"),
            safe(r.get("origin_object") or r["object_id"] or "(outside)"),
            safe(r.get("primary_party") or "-"),
            safe(str(r["opened_at"])[:16]),
            safe(r["summary"]),
        )
    console.print(table)


@incidents_app.command("show")
def incidents_show(
    incident_id: str,
    url: UrlOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One incident: its state, timeline and closure report."""
    doc = _read(url, f"/v1/incidents/{incident_id}", as_json=as_json)
    inc = doc["incident"]
    console.print(
        Text.assemble(
            (safe(inc["id"]).plain, "bold"),
            " ",
            safe(
                f"{inc['status']} {inc['priority']} {inc['layer']} {inc['object_id']}: "
                f"{inc['summary']}"
            ),
        )
    )
    clocks = Table("clock", "state", "target", "deadline (local)", "remaining / margin", "why")
    for c in doc.get("clocks", []):
        clocks.add_row(*(safe(cell) for cell in clock_cells(c)))
    if doc.get("clocks"):
        console.print(clocks)
    beside = Table("changed (UTC)", "before the alert", "object", "source", "summary")
    for c in doc.get("changes", []):
        beside.add_row(
            safe(str(c["at"])[:16]),
            safe(format_duration(timedelta(seconds=c["before_seconds"]))),
            safe(c["object_id"] or "(every object)"),
            safe(c["source"]),
            safe(c["summary"]),
        )
    if doc.get("changes"):
        console.print(beside)
    table = Table("time", "type", "source", "data")
    for e in doc["timeline"]:
        table.add_row(
            safe(e["time"]), safe(e["type"]), safe(e["source"]), safe(json.dumps(e["data"])[:120])
        )
    console.print(table)
    if doc["closure_report"]:
        console.print_json(json.dumps(doc["closure_report"], default=str))


def clock_cells(c: dict[str, Any]) -> list[str]:
    """One clock of the read API as table cells: state in words, durations as ``1h30m``."""

    def duration(seconds: float | None) -> str:
        if seconds is None:
            return ""
        text = format_duration(timedelta(seconds=abs(seconds)))
        return f"-{text}" if seconds < 0 else text

    if c["state"] == "stopped":
        state = "stopped, met" if c.get("met") else "stopped, breached"
        left = f"margin {duration(c.get('margin'))}"
        why = ""
    elif c["state"] == "paused":
        state, left = "paused", f"{duration(c.get('remaining'))} left at pause"
        why = f"{c.get('paused_reason')} by {c.get('paused_by') or '?'}"
    else:
        remaining = c.get("remaining")
        state = "running" if remaining is None or remaining >= 0 else "running, breached"
        left = duration(remaining)
        why = ""
    return [
        c["clock"],
        state,
        duration(c["target"]),
        c.get("deadline_local") or "",
        left,
        why,
    ]


DocFormatOption = Annotated[str, typer.Option("--format", "-f", help="html, pdf or json")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="write to FILE")]


def _document(url: str, fmt: str, output: Path | None) -> None:
    """Fetch a document from reporting and write it out (a PDF never to a terminal)."""
    from baton.contract_cli import write_document

    if fmt not in {"html", "pdf", "json"}:
        raise typer.BadParameter(f"--format must be html, pdf or json, not {fmt!r}")
    try:
        response = httpx.get(url, timeout=120, auth=stack_auth())
    except httpx.TransportError as exc:
        raise typer.BadParameter(f"reporting is not reachable at {url}: {exc}") from exc
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(1)
    write_document(response.content, fmt, output)


@incidents_app.command("report")
def incidents_report(
    incident_id: str,
    url: UrlOption = None,
    fmt: DocFormatOption = "html",
    output: OutputOption = None,
) -> None:
    """The incident's closure report (a draft until it is closed)."""
    _document(f"{_reporting_url(url)}/v1/incidents/{incident_id}/report.{fmt}", fmt, output)


report_app = typer.Typer(help="Service reports from the reporting service.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("monthly")
def report_monthly(
    month: Annotated[str, typer.Argument(help="YYYY-MM")],
    url: UrlOption = None,
    fmt: DocFormatOption = "html",
    output: OutputOption = None,
) -> None:
    """The monthly service report: compliance, breaches, pauses, MTTA/MTTR, recurring objects,
    incidents outside the perimeter, with charts."""
    _document(f"{_reporting_url(url)}/v1/reports/monthly?month={month}&format={fmt}", fmt, output)


@app.command("compose-secrets")
def compose_secrets(
    contract: Annotated[
        Path, typer.Option(help="The contract compose runs (BATON_CONTRACT_DIR): its parties.")
    ] = Path("examples/minimal"),
    folder: Annotated[
        Path | None, typer.Option(help="Where to write (default deploy/compose/secrets).")
    ] = None,
) -> None:
    """Generate the secrets docker-compose.yml reads (Kafka users and ACLs, PostgreSQL and
    Grafana passwords, the services' tokens) into a git-ignored, owner-only folder."""
    from baton.compose_secrets import SECRETS_DIR, generate

    written = generate(folder or SECRETS_DIR, contract)
    console.print(f"wrote {len(written)} files to {(folder or SECRETS_DIR)} (owner-only)")


@app.command("docs")
def docs() -> None:
    """Regenerate docs/asyncapi.yaml and docs/openapi/*.json from the code."""
    from baton.apidocs import write

    for path in write():
        console.print(f"wrote {path}")


@app.command("sla-report")
def sla_report(
    month: Annotated[str, typer.Argument(help="YYYY-MM")],
    url: UrlOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """SLA compliance for a month, per contractor, category, priority and clock."""
    doc = _read(url, f"/v1/reports/sla?month={month}", as_json=as_json)
    table = Table(
        "contractor",
        "category",
        "prio",
        "clock",
        "clocks",
        "met",
        "breached",
        "running",
        "compliance",
        title=f"SLA compliance {month}",
    )
    for r in doc["rows"]:
        share = "-" if r["compliance"] is None else f"{r['compliance']:.0%}"
        table.add_row(
            safe(r["party"]),
            safe(r["category"]),
            safe(r["priority"]),
            safe(r["clock"]),
            str(r["clocks"]),
            str(r["met"]),
            str(r["breached"]),
            str(r["running"]),
            share,
        )
    console.print(table)


@app.command()
def demo(
    contract: Annotated[
        Path | None,
        typer.Option(help="the contract the services run with (default: the stack's)"),
    ] = None,
) -> None:
    """Feed an alert storm from the example environment and drive it to closure reports."""
    from baton.demo import run_demo

    st = status()
    intake, reporting = st["services"]["intake"], st["services"]["reporting"]
    if not (intake["running"] and reporting["running"]):
        console.print("[red]the stack is not running: `baton stack up` first[/red]")
        raise typer.Exit(1)
    closed = run_demo(
        intake["url"],
        reporting["url"],
        contract or stack_contract(),
        sla_clock=st["services"]["sla-clock"]["url"],
        kafka=str(st["kafka"]["bootstrap"]),
        auth=_required_auth(),
        log=console.print,
        mailpit=st["mailpit"]["web"] if st.get("mailpit", {}).get("running") else None,
    )
    console.print(
        f"[green]{len(closed)} incidents closed with closure reports in PostgreSQL[/green]"
    )
    from baton.demo import told
    from baton.stack import client_settings

    console.print("\nWho was told what, through which channel:")
    for line in asyncio.run(told(client_settings().pg_dsn.get_secret_value(), closed)):
        console.print(line, markup=False, highlight=False)
    incidents_list(url=reporting["url"], state=None, as_json=False)
    console.print("\nWhere to look:")
    console.print("  incidents:      baton incidents list")
    console.print(f"                  baton incidents show {closed[0]}")
    console.print(
        f"  documents:      baton incidents report {closed[0]} --format pdf -o closure.pdf"
    )
    console.print("                  baton report monthly YYYY-MM --format pdf -o month.pdf")
    console.print(
        "                  baton contract appendix examples/contract --format pdf -o a.pdf"
    )
    console.print(
        f"  read API:       {reporting['url']}/v1/incidents  (OpenAPI: {reporting['url']}/docs)"
    )
    console.print(f"  intake API:     {intake['url']}/docs")
    if "mailpit" in st:
        console.print(f"  people's mail:  {st['mailpit']['web']}  (Mailpit: every e-mail sent)")
    where = credentials.credentials_path(stack_paths().root)
    console.print(f"  credentials:    {where}  (owner-only: a token per source, party, reader)")
    console.print(
        f'                  curl -H "Authorization: Bearer $(jq -r .readers.operator {where})" '
        f"{reporting['url']}/v1/incidents"
    )
    for name, svc in st["services"].items():
        console.print(f"  metrics {name + ':':<10}{svc['metrics']}")
    console.print(f"  PostgreSQL:     {st['postgres']['dsn']}  (schema reporting)")
    console.print(f"  Kafka:          {st['kafka']['bootstrap']}")
    console.print("  stop it all:    baton stack down")


@app.command()
def bench(  # noqa: PLR0917 - one parameter per CLI option
    scenario: Annotated[
        str | None,
        typer.Option(help="unique | storm | steady: the whole pipeline (see baton/scenarios.py)"),
    ] = None,
    n: Annotated[
        int | None, typer.Option("-n", help="alerts (unique 2,000; storm 50,000 by default)")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="concurrent HTTP clients")] = 32,
    rate: Annotated[float, typer.Option(help="steady: alerts per second")] = 100.0,
    seconds: Annotated[float, typer.Option(help="steady: how long")] = 60.0,
    smtp_outage: Annotated[
        float,
        typer.Option(
            help="storm: stop the stack's Mailpit for this many seconds when the storm begins,"
            " then start it; reports messages lost and the outbox's drain time"
        ),
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    service: Annotated[
        str | None,
        typer.Option(
            help="intake | sla-clock: that service's own bench (for sla-clock, -n is incidents)"
        ),
    ] = None,
    instances: Annotated[
        int,
        typer.Option(
            help="with --scenario: processes of each service; the bench starts the N-1 more"
            " beside the stack's own for the run and stops them after"
        ),
    ] = 1,
) -> None:
    """Throughput, latency and CPU per service beside raw aiokafka on the same broker."""
    import asyncio

    from baton.bench import run_bench
    from baton.scenarios import run_scenario
    from baton.stack import client_settings
    from shared.kafka import aiokafka_kwargs

    if instances < 1 or (instances > 1 and scenario is None):
        console.print(
            f"[red]--instances: {instances}; at least 1, and more only with --scenario[/red]"
        )
        raise typer.Exit(2)
    if service is not None:
        _service_bench(service, n)
        return
    st = status()
    if not st["services"]["intake"]["running"]:
        console.print("[red]the stack is not running: `baton stack up` first[/red]")
        raise typer.Exit(1)
    settings = client_settings()
    kafka = aiokafka_kwargs(settings)  # the stack's admin: the bench reads every topic
    if scenario is None:  # the original figure: intake → router only
        result = asyncio.run(
            run_bench(
                st["services"]["intake"]["url"],
                kafka,
                settings.topic_prefix,
                n or 2000,
                concurrency,
                auth=_required_auth(),
            )
        )
        for line in result.lines():
            console.print(line)
        return
    stack = _scenario_stack(scenario, smtp_outage, st, settings, kafka)
    default_n = {"unique": 2000, "storm": 50_000, "steady": 0}[scenario]
    with _more_instances(stack, instances):
        outcome = asyncio.run(
            run_scenario(
                stack,
                scenario,
                n or default_n,
                concurrency=concurrency,
                rate=rate,
                seconds=seconds,
                smtp_outage=smtp_outage,
            )
        )
    if as_json:
        typer.echo(json.dumps(outcome.as_json(), indent=2))
    else:
        for line in outcome.lines():
            console.print(line)


def _scenario_stack(
    scenario: str, smtp_outage: float, st: StackStatus, settings: Settings, kafka: KafkaClient
) -> Stack:
    """The running stack a scenario drives, once its options are checked: ``scenario`` one of
    ``SCENARIOS``, ``--smtp-outage`` only for a storm on a stack with Mailpit."""
    from baton import mailpit
    from baton.notify_bench import sender_kinds
    from baton.scenarios import SCENARIOS, Stack
    from baton.stack import service_pids
    from shared.contract import load_contract

    if scenario not in SCENARIOS:
        console.print(f"[red]--scenario: expected one of {', '.join(SCENARIOS)}[/red]")
        raise typer.Exit(2)
    relay = mailpit.relay(stack_paths())
    if smtp_outage and (scenario != "storm" or relay is None):
        console.print(
            "[red]--smtp-outage: only with --scenario storm on a stack with Mailpit[/red]"
        )
        raise typer.Exit(2)
    pids = service_pids()
    try:  # which kinds the router can send (the names only: the templates may hold secrets)
        senders: list[str] | None = sender_kinds(
            Path(f"/proc/{pids['router']}/environ").read_bytes()
        )
    except (KeyError, OSError):
        senders = None
    return Stack(
        intakes=(st["services"]["intake"]["url"],),
        reporting=st["services"]["reporting"]["url"],
        bootstrap=kafka,
        settings=settings,
        contract=load_contract(stack_contract()),
        pids=pids,
        auth=_required_auth(),
        relay=relay,
        senders=senders,
    )


@contextlib.contextmanager
def _more_instances(stack: Stack, count: int) -> Iterator[None]:
    """Instances 2 … ``count`` of every service for the run, in ``stack``: their intake URLs
    beside the stack's own, their processes in the CPU meter; stopped after it."""
    from baton.stack import extra_instances, instance_pids

    paths = stack_paths()
    with extra_instances(paths, count) as extra:
        stack.intakes += tuple(s.url for s in extra if s.module == "intake")
        stack.pids |= instance_pids(paths, extra)
        stack.instances = count
        yield


def _service_bench(service: str, n: int | None) -> None:
    """A service's own bench against the local stack, with the stack's admin connection (it
    makes and drops its own topics and database) and, for intake, the Alertmanager token."""
    import asyncio

    from baton.stack import client_settings

    settings = client_settings()
    if service == "sla-clock":
        from sla_clock import bench as sla_bench

        asyncio.run(sla_bench.main(settings, n or 50_000))
        return
    if service != "intake":
        console.print("[red]--service: expected intake or sla-clock[/red]")
        raise typer.Exit(2)
    from intake import bench as intake_bench

    from shared.kafka import aiokafka_kwargs

    intake = status()["services"]["intake"]
    if not intake["running"]:
        console.print("[red]intake is not running: `baton stack up` first[/red]")
        raise typer.Exit(1)
    token = _required_auth().creds.sources.get("alertmanager")
    result = asyncio.run(
        intake_bench.run(
            intake["url"],
            aiokafka_kwargs(settings),
            settings.topic_prefix,
            token=token,
            n=n or 5000,
            per_request=1,
            concurrency=32,
        )
    )
    for line in result.lines():
        console.print(line)


if __name__ == "__main__":
    app()
