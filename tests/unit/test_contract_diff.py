"""``baton contract diff OLD NEW`` (issue 27 item 4): every change a person signs, and which
open incidents would change owner, coordinator, priority or deadline under ``apply-open``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from baton.contract_cli import contract_app
from baton.contract_diff import diff, impact
from shared.contract import Contract, load_contract

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contract"


def moved_copy(tmp_path: Path) -> Path:
    """The example with the API gateway moved from the integration contractor (appint) to the
    network layer, whose primary is the hardware contractor (hw)."""
    folder = tmp_path / "contract"
    shutil.copytree(EXAMPLE, folder)
    path = folder / "objects-4-integrations.yaml"
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    gw = next(o for o in doc["objects"] if o["id"] == "int-api-gw")
    gw["layer"], gw["executor"] = "network", "hw"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return folder


def load(path: Path) -> Contract:
    return load_contract(path)


def row(incident: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": incident,
        "status": "acknowledged",
        "object_id": "int-api-gw",
        "origin_object": "int-api-gw",
        "layer": "integration",
        "origin_layer": "integration",
        "category": "outage",
        "priority": "P1",
        "primary_party": "appint",
        "coordinator": "appint",
        "first_alert_at": "2026-12-04T01:00:00+00:00",
        **extra,
    }


def test_the_moved_object_is_named_with_its_layer_executor_and_owner(tmp_path: Path) -> None:
    changes = diff(load(EXAMPLE), load(moved_copy(tmp_path)))
    assert [str(c) for c in changes] == [
        "objects.int-api-gw: executor appint → hw",
        "objects.int-api-gw: layer integration → network",
        "objects.int-api-gw: owner of its incidents appint → hw (primary of network)",
    ]


def test_an_unchanged_contract_has_no_change() -> None:
    assert diff(load(EXAMPLE), load(EXAMPLE)) == []


def test_sections_a_person_signs_are_each_named(tmp_path: Path) -> None:
    old = load(EXAMPLE)
    doc = old.model_dump(mode="json")
    doc["version"] = "next"
    doc["layers"][0]["primary"] = "sysops"  # hardware
    doc["sla"]["targets"][0]["recovery"] = "PT5H"
    doc["pause_reasons"] = doc["pause_reasons"][1:]
    doc["escalation"][0]["contacts"] = doc["escalation"][0]["contacts"][:1]
    first_rule = sorted(doc["access_rules"])[0]
    del doc["access_rules"][first_rule]
    doc["calendars"][0]["weekly"] = {"mon": [["09:00", "13:00"]]}
    doc["objects"] = doc["objects"][1:]
    new = Contract.model_validate(doc)
    sections = {c.section for c in diff(old, new)}
    assert sections >= {
        "version",
        "layers",
        "sla.targets",
        "pause_reasons",
        "escalation",
        "access_rules",
        "calendars",
        "objects",
    }
    texts = [str(c) for c in diff(old, new)]
    assert f"objects.{old.objects[0].id}: removed" in texts
    assert "layers.hardware: primary hw → sysops" in texts
    # every object of the hardware layer would get another owner: each is named
    assert "objects.srv-pg-01: owner of its incidents hw → sysops (primary of hardware)" in texts


def test_two_open_incidents_on_the_moved_object_change_owner(tmp_path: Path) -> None:
    rows = [
        row("inc-a"),
        row("inc-b"),
        row(
            "inc-c",
            object_id="pg-acc",
            origin_object="pg-acc",
            layer="dbms",
            origin_layer="dbms",
            primary_party="sysops",
        ),
    ]
    moves = impact(load(EXAMPLE), load(moved_copy(tmp_path)), rows)
    assert [(m.incident_id, m.what, m.old, m.new) for m in moves] == [
        ("inc-a", "owner", "appint", "hw"),
        ("inc-b", "owner", "appint", "hw"),
    ]


def test_the_cli_names_the_change_and_with_incidents_their_new_owner(tmp_path: Path) -> None:
    moved = moved_copy(tmp_path)
    result = CliRunner().invoke(contract_app, ["diff", str(EXAMPLE), str(moved)])
    assert result.exit_code == 0, result.output
    assert "objects.int-api-gw: layer integration → network" in result.output
