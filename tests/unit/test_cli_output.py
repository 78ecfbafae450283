"""What the operator's terminal shows of outside text: escape sequences and Rich markup in an
alert summary are shown as typed, never executed or rendered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from baton import cli

HOSTILE = "\x1b[2J\x1b]0;owned\x07[bold red]pwned[/bold red] \x9b31m \u202egpj.exe\u2066"


@pytest.fixture
def reporting(monkeypatch: pytest.MonkeyPatch) -> None:
    incident = {
        "id": "inc-1",
        "status": "open",
        "priority": "P1",
        "layer": "dbms",
        "object_id": "db-1",
        "origin_object": None,
        "primary_party": "osdb",
        "opened_at": "2026-11-30T01:00:00+00:00",
        "summary": HOSTILE,
    }

    def fake_get(url: str) -> Any:
        if url.endswith("/v1/incidents"):
            return [incident]
        return {
            "incident": incident,
            "timeline": [
                {"time": "t", "type": "x", "source": HOSTILE, "data": {"summary": HOSTILE}}
            ],
            "closure_report": None,
        }

    monkeypatch.setattr(cli, "_get", fake_get)


@pytest.mark.usefixtures("reporting")
@pytest.mark.parametrize("argv", [["incidents", "list"], ["incidents", "show", "inc-1"]])
def test_outside_text_cannot_drive_the_terminal(argv: list[str]) -> None:
    result = CliRunner().invoke(cli.app, [*argv, "--url", "http://reporting"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "\x9b" not in result.output
    assert "\x07" not in result.output
    assert "\u202e" not in result.output  # bidi override: the line would read reversed
    assert "\u2066" not in result.output
    assert "[bold red]pwned" in result.output  # markup shown as typed


@pytest.mark.usefixtures("reporting")
@pytest.mark.parametrize("argv", [["incidents", "list"], ["incidents", "show", "inc-1"]])
def test_json_is_the_answer_as_reporting_gave_it_and_nothing_else(argv: list[str]) -> None:
    result = CliRunner().invoke(cli.app, [*argv, "--url", "http://reporting", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)  # no table after it
    incident = doc[0] if isinstance(doc, list) else doc["incident"]
    assert incident["summary"] == HOSTILE  # as it came: JSON escapes it, nothing is dropped
