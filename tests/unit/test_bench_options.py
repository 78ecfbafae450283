"""`baton bench`'s option checks: a scenario it does not know, an SMTP outage outside a storm
or on a stack without Mailpit, and fewer than one instance (or more without a scenario) are
refused with exit status 2 before anything is sent."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from baton import cli, mailpit
from baton import stack as stack_module
from shared import kafka


@pytest.fixture
def running_stack(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stack that says it runs; nothing in these tests may get further than the checks."""
    relay: dict[str, Any] = {"value": object()}
    monkeypatch.setattr(
        cli, "status", lambda: {"services": {"intake": {"running": True, "url": "http://x"}}}
    )
    monkeypatch.setattr(stack_module, "client_settings", lambda: SimpleNamespace(topic_prefix="t"))
    monkeypatch.setattr(kafka, "aiokafka_kwargs", lambda settings: {})
    monkeypatch.setattr(mailpit, "relay", lambda paths: relay["value"])
    monkeypatch.setattr(
        stack_module, "service_pids", lambda: pytest.fail("got past the option checks")
    )
    return relay


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--scenario", "hurricane"], "--scenario: expected one of unique, storm, steady"),
        (["--scenario", "unique", "--smtp-outage", "5"], "--smtp-outage: only with"),
        (["--scenario", "storm", "--instances", "0"], "--instances: 0; at least 1"),
        (["--scenario", "storm", "--instances", "-2"], "--instances: -2; at least 1"),
        (["--instances", "2"], "more only with --scenario"),
    ],
)
def test_bench_refuses_options_that_do_not_fit(
    running_stack: dict[str, Any], args: list[str], words: str
) -> None:
    result = CliRunner().invoke(cli.app, ["bench", *args])
    assert result.exit_code == 2, result.output
    assert words in result.output


def test_an_smtp_outage_needs_the_stacks_mailpit(running_stack: dict[str, Any]) -> None:
    running_stack["value"] = None
    result = CliRunner().invoke(cli.app, ["bench", "--scenario", "storm", "--smtp-outage", "5"])
    assert result.exit_code == 2, result.output
    assert "on a stack with Mailpit" in result.output
