"""``baton stack up | down | status``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from baton import credentials
from baton.stack.layout import BASE_PORT_ENV, StackError, log, stack_paths, wished_ports
from baton.stack.lifecycle import down, status, up_infra, up_services
from shared.topic_admin import TopicAdminError

# --------------------------------------------------------------------------- the CLI

stack_app = typer.Typer(
    help="Run Kafka, PostgreSQL and the four services locally, without Docker.",
    no_args_is_help=True,
)
_console = Console(stderr=True)


def _setup_logging() -> None:
    handler = RichHandler(console=_console, show_path=False, show_level=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler])
    log.setLevel(logging.INFO)


def _run_step(step: Callable[[], None], label: str) -> None:
    started = time.monotonic()
    try:
        step()
    except (StackError, TopicAdminError) as exc:
        # A Text, not markup: log lines are full of [brackets].
        _console.print(Text.assemble((f"{label} failed: ", "red"), str(exc)), soft_wrap=True)
        raise typer.Exit(1) from exc
    _console.print(f"[green]{label}[/green] in {time.monotonic() - started:.1f} s")


@stack_app.command()
def up(
    infra_only: Annotated[
        bool, typer.Option("--infra-only", help="Kafka, PostgreSQL and topics; no services.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each readiness.")] = 90.0,
    base_port: Annotated[
        int | None,
        typer.Option(
            "--base-port",
            envvar=BASE_PORT_ENV,
            help="A new stack's ports: Kafka, controller, PostgreSQL, then the four services, "
            "counting up from this one.",
        ),
    ] = None,
    free_ports: Annotated[
        bool, typer.Option("--free-ports", help="A new stack on ports that are free now.")
    ] = False,
    brokers: Annotated[
        int | None,
        typer.Option(
            "--brokers",
            help="Kafka nodes of a new stack: 1 (the default) or 3 (replication factor 3, "
            "min.insync.replicas 2).",
        ),
    ] = None,
) -> None:
    """Start the stack; what already runs is left as it is.

    A stack's ports are chosen at its first start and kept in its folder (``ports.json``):
    defaults 9092/9093 (Kafka), 5433 (PostgreSQL), 8080–8083 (services), and 9094–9097 for
    Kafka nodes 2 and 3 of a ``--brokers 3`` stack (with a base port: after the services).
    """
    _setup_logging()

    def start_infra() -> None:  # inside the step: a bad --brokers is reported as its failure
        paths = stack_paths()
        wish = wished_ports(paths, free_ports=free_ports, base_port=base_port, brokers=brokers)
        up_infra(paths, timeout=timeout, ports=wish, brokers=brokers)

    _run_step(start_infra, "Kafka, PostgreSQL and topics up")
    if not infra_only:
        _run_step(lambda: up_services(timeout=timeout), "services up")


@stack_app.command("down")
def down_command(
    purge: Annotated[bool, typer.Option("--purge", help="Also delete all stack data.")] = False,
) -> None:
    """Stop everything the stack started."""
    _setup_logging()
    _run_step(lambda: down(purge=purge), "stack down")


@stack_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what runs and where to reach it."""
    current = status()
    if as_json:
        typer.echo(json.dumps(current, indent=2))
        return
    table = Table("component", "state", "address", caption="each service serves /metrics")

    def row(name: str, running: bool, address: str) -> None:
        state = "[green]running[/green]" if running else "[dim]stopped[/dim]"
        table.add_row(name, state, address)

    kafka = current["kafka"]
    if len(kafka["brokers"]) == 1:
        row("kafka", kafka["running"], kafka["bootstrap"])
    for node in kafka["brokers"] if len(kafka["brokers"]) > 1 else ():
        name = "kafka" if node["node"] == 1 else f"kafka-{node['node']}"
        row(name, node["running"], f"{node['address']} (controller {node['controller']})")
    row("postgres", current["postgres"]["running"], current["postgres"]["dsn"])
    for name, service in current["services"].items():
        row(name, service["running"], service["url"])
    if "mailpit" in current:
        relay = current["mailpit"]
        row("mailpit", relay["running"], f"{relay['web']} (SMTP {relay['smtp']}: people's e-mail)")
    Console().print(table)
    where = credentials.credentials_path(stack_paths().root)
    if where.exists():  # the path only: the secrets stay in the owner-only file
        Console().print(f"credentials: {where} (owner-only; `baton stack up` makes them)")
