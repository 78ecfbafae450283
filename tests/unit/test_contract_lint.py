"""Lint: every rule has a failing fixture; findings carry code, severity, file, line and hint."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from baton.contract_cli import contract_app
from shared.contract.findings import RULES, Finding, Severity
from shared.contract.lint import lint_path
from shared.contract.load import load_checked
from shared.contract.model import ContractError

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "examples" / "minimal" / "contract.yaml"
EXAMPLE = ROOT / "examples" / "contract"
FIXTURES = ROOT / "tests" / "fixtures" / "contracts"
BASE: dict[str, Any] = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))

Doc = dict[str, Any]


def _obj(doc: Doc, object_id: str) -> Doc:
    found: Doc = next(o for o in doc["objects"] if o["id"] == object_id)
    return found


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation that sets ``a.b.0.c`` (or deletes it when value is ``...``)."""

    def apply(doc: Doc) -> None:
        *parents, last = path.split(".")
        here: Any = doc
        for part in parents:
            here = here[int(part)] if part.isdigit() else here[part]
        key: Any = int(last) if last.isdigit() else last
        if value is ...:
            del here[key]
        else:
            here[key] = copy.deepcopy(value)

    return apply


def _append(section: str, item: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc.setdefault(section, []).append(copy.deepcopy(item))

    return apply


def _dup_object(doc: Doc) -> None:
    doc["objects"].append(copy.deepcopy(doc["objects"][0]))


def _drop_layer(layer: str) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc["layers"] = [a for a in doc["layers"] if a["layer"] != layer]

    return apply


def _party_named_like_a_service(doc: Doc) -> None:
    """Issue 25: a party ``intake`` passed lint and got that service's Kafka rights."""
    doc["parties"]["intake"] = copy.deepcopy(doc["parties"]["hw"])


def _vendor_without_handling(doc: Doc) -> None:
    doc["parties"]["vendor"] = {"name": "Vendor", "kind": "vendor", "contact": "v@example"}


def _drop_target(category: str, priority: str) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc["sla"]["targets"] = [
            t
            for t in doc["sla"]["targets"]
            if (t["category"], t["priority"]) != (category, priority)
        ]

    return apply


WINDOW = {
    "id": "w1",
    "objects": ["pg-main"],
    "weekly": {"days": ["sun"], "start": "02:00", "duration": "2h"},
    "approved_by": "customer/it-head",
}


# code -> a mutation of the minimal contract that must produce that code (and file + line)
def _site_on_another_zones_hours(doc: Doc) -> None:
    """A hub in Berlin with its own period calendar, whose object is supported on the Almaty
    office's hours."""
    doc["calendars"].append({**doc["calendars"][1], "id": "hub", "timezone": "Europe/Berlin"})
    doc["locations"] = {
        "hub": {"name": "Hub", "timezone": "Europe/Berlin", "period_calendar": "hub"}
    }
    doc["objects"][0].update(location="hub", calendar="office")


def _desk_without_hours(doc: Doc) -> None:
    doc["parties"]["customer"]["contacts"]["desk"] = {"name": "Service desk"}
    doc["first_line"] = "customer/desk"


MUTATIONS: dict[str, Callable[[Doc], None]] = {
    "BTN002": _set("objects.0.criticality", "urgent"),
    "BTN004": _dup_object,
    "BTN005": _set("coordinator", "ghost"),
    "BTN101": _drop_layer("os"),
    "BTN102": _append("layers", {"layer": "dbms", "primary": "apps"}),
    "BTN103": _set("parties.hw.backup_contacts", []),
    "BTN104": _set("parties.hw.not_responsible_for", []),
    "BTN105": _vendor_without_handling,
    "BTN106": _set("parties.hw.duty.0.contact", "ghost"),
    "BTN107": _set("parties.customer.kind", "other"),
    "BTN109": _party_named_like_a_service,
    "BTN201": _set("objects.0.layer", ...),
    "BTN202": _set("objects.0.executor", ...),
    "BTN203": _set("objects.0.owner", ...),
    "BTN204": _set("objects.1.depends_on", ["ghost"]),
    "BTN205": _set("objects.0.depends_on", ["bank-exchange"]),
    "BTN206": _set("objects.2.version", ...),
    "BTN207": _set("objects.2.access", ...),
    "BTN208": _set("objects.2.backup.test_restore_by", ...),
    "BTN209": _set("objects.4.schedule", ...),
    "BTN210": _set("access_rules.remote-vpn.after_hours_approval", True),
    "BTN211": _set("objects.2.backup.checked_by", ...),
    "BTN301": _set("objects.0.calendar", "office"),
    "BTN302": _set("sla.targets.0.periods", ["day"]),
    "BTN303": _set("priority_matrix.low.request", ...),
    "BTN304": _drop_target("request", "P4"),
    "BTN305": _set("sla.targets.0.response", "5h"),
    "BTN306": lambda d: d["sla"]["targets"].append(copy.deepcopy(d["sla"]["targets"][0])),
    "BTN307": _set("sla.period_calendar", ...),
    # P3 on a critical object's degradation: neither the contract nor Baton's defaults say
    # how often the customer hears of it
    "BTN320": _set("priority_matrix.critical.degradation", "P3"),
    "BTN108": _desk_without_hours,
    "BTN308": _set("locations", {"hub": {"name": "Hub", "timezone": "Europe/Berlin"}}),
    "BTN309": _site_on_another_zones_hours,
    "BTN401": _set("pause_reasons.0.clocks", []),
    "BTN402": _set("pause_reasons.0.evidence", []),
    "BTN403": _append("maintenance_windows", {**WINDOW, "objects": ["ghost"]}),
    "BTN404": _append("alert_rules", {"object": "ghost", "hosts": ["ghost.local"]}),
    "BTN405": _append("maintenance_windows", {**WINDOW, "approved_by": None}),
    "BTN406": lambda d: d.update(escalation=d["escalation"][:1]),
    "BTN407": _set("escalation.1.emergency_approvers", []),
    "BTN408": _set("escalation.1.contacts", []),
    "BTN409": _set("pause_reasons", []),
    "BTN410": _set("escalation.1.triggers", ["update_late"]),
    "BTN501": _set("objects.0.environment", "test"),
    "BTN502": _set("exclusions", []),
    "BTN503": _set("objects.0.match", ...),
    "BTN601": _append("open_points", {"field": "exclusions", "note": "customer's list"}),
}
# codes covered by files in tests/fixtures/contracts (see the tests below)
FILE_FIXTURES = {"BTN001", "BTN003"}
# codes that need the deployment's settings (tests/unit/test_notify.py)
DEPLOYMENT_RULES = {"BTN701"}


def _lint_doc(tmp_path: Path, doc: Doc) -> tuple[Path, list[Finding]]:
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path, lint_path(path)


def test_every_rule_has_a_failing_fixture() -> None:
    assert set(MUTATIONS) | FILE_FIXTURES | DEPLOYMENT_RULES == set(RULES)


@pytest.mark.parametrize("clean", [MINIMAL, EXAMPLE], ids=["minimal", "example"])
def test_shipped_contracts_lint_clean(clean: Path) -> None:
    assert [str(f) for f in lint_path(clean)] == []


def test_the_unmutated_base_is_clean(tmp_path: Path) -> None:
    assert _lint_doc(tmp_path, copy.deepcopy(BASE))[1] == []


@pytest.mark.parametrize("code", sorted(MUTATIONS))
def test_rule_fires_with_file_and_line(tmp_path: Path, code: str) -> None:
    doc = copy.deepcopy(BASE)
    MUTATIONS[code](doc)
    path, findings = _lint_doc(tmp_path, doc)
    hits = [f for f in findings if f.code == code]
    assert hits, f"{code} not reported; got {[str(f) for f in findings]}"
    for finding in hits:
        assert finding.file == path
        assert finding.line is not None
        assert finding.line >= 1
        assert finding.hint
        assert finding.severity is RULES[code].severity


def test_finding_points_at_the_offending_line(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    _obj(doc, "os-db-01")["depends_on"] = ["ghost"]
    path, findings = _lint_doc(tmp_path, doc)
    (finding,) = [f for f in findings if f.code == "BTN204"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[finding.line - 1 if finding.line else 0].strip() == "- ghost"
    assert "objects[1].depends_on[0]" in str(finding)


def test_an_unknown_id_is_named_with_whoever_names_it_and_where(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["parties"]["hw"]["backup_contacts"] = ["ghost-contact"]
    _obj(doc, "os-db-01").update(location="ghost-site", access="ghost-rule")
    doc["groups"] = {"tills": {"name": "Tills", "objects": ["pg-main", "ghost-till"]}}
    doc["maintenance_windows"] = [{**WINDOW, "objects": ["ghost-host"], "groups": ["ghost-group"]}]
    findings = _lint_doc(tmp_path, doc)[1]
    said = {(f.code, f.message, str(f).split(": ")[2]) for f in findings if "ghost" in f.message}
    assert said == {
        ("BTN106", "hw: unknown backup contact 'ghost-contact'", "parties.hw.backup_contacts[0]"),
        ("BTN005", "os-db-01: unknown location 'ghost-site'", "objects[1].location"),
        ("BTN005", "os-db-01: unknown access rule 'ghost-rule'", "objects[1].access"),
        ("BTN005", "group tills: unknown object 'ghost-till'", "groups.tills.objects[1]"),
        (
            "BTN403",
            f"window {WINDOW['id']}: unknown object 'ghost-host'",
            "maintenance_windows[0].objects[0]",
        ),
        (
            "BTN403",
            f"window {WINDOW['id']}: unknown group 'ghost-group'",
            "maintenance_windows[0].groups[0]",
        ),
    }


def test_invalid_yaml_is_btn001_with_line() -> None:
    findings = lint_path(FIXTURES / "bad-yaml.yaml")
    assert [f.code for f in findings] == ["BTN001"]
    assert findings[0].line == 5


def test_duplicate_key_is_btn003() -> None:
    findings = lint_path(FIXTURES / "duplicate-key.yaml")
    dup = [f for f in findings if f.code == "BTN003"]
    assert len(dup) == 1
    assert dup[0].line == 4
    assert "coordinator" in dup[0].message


def test_folder_merge_conflicts_are_btn003_in_the_second_file() -> None:
    folder = FIXTURES / "split-conflict"
    findings = lint_path(folder)
    conflicts = {f.message.split(" ")[0]: f for f in findings if f.code == "BTN003"}
    assert set(conflicts) == {"version", "parties.apps"}
    assert all(f.file == folder / "b-more.yaml" for f in conflicts.values())
    assert conflicts["parties.apps"].line == 3
    # objects from both files are concatenated; line numbers stay those of each file
    (dangling,) = [f for f in findings if f.code == "BTN204"]
    assert (dangling.file, dangling.line) == (folder / "b-more.yaml", 6)
    assert "objects[1]" in str(dangling)


def test_lint_goes_on_past_schema_errors() -> None:
    """A contract that fails strict validation still gets its rule findings, with codes."""
    path = FIXTURES / "two-primaries-and-schema-error.yaml"
    findings = lint_path(path)
    by_code: dict[str, list[Finding]] = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    assert by_code["BTN102"][0].line == 15
    assert "dbms" in by_code["BTN102"][0].message
    assert any("'integration'" in f.message for f in by_code["BTN101"])
    schema = {(f.line, str(f).split(": ")[2]) for f in by_code["BTN002"]}
    assert (18, "objects[0].criticality") in schema
    assert (21, "objects[2].colour") in schema
    # the dropped objects do not confuse the rest: the app still reports its unknown dependency
    # but not the dropped 'db' as unknown
    assert [f.message for f in by_code["BTN204"]] == ["app depends on unknown object 'ghost'"]
    assert all(f.severity is Severity.ERROR for f in by_code["BTN102"])


def test_cli_lint_exit_status_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    clean = runner.invoke(contract_app, ["lint", str(EXAMPLE)])
    assert clean.exit_code == 0, clean.output
    assert "0 error(s), 0 warning(s)" in clean.output
    doc = copy.deepcopy(BASE)
    MUTATIONS["BTN102"](doc)
    MUTATIONS["BTN502"](doc)
    path, _ = _lint_doc(tmp_path, doc)
    broken = runner.invoke(contract_app, ["lint", str(path), "--json"])
    assert broken.exit_code == 1
    report = json.loads(broken.output)
    assert report["ok"] is False
    assert (report["errors"], report["warnings"]) == (1, 1)
    codes = {f["code"]: f for f in report["findings"]}
    assert codes["BTN102"]["file"] == str(path)
    assert codes["BTN102"]["severity"] == "error"
    assert codes["BTN502"]["severity"] == "warning"
    assert codes["BTN102"]["hint"]
    only_warning = copy.deepcopy(BASE)
    MUTATIONS["BTN502"](only_warning)
    warned, _ = _lint_doc(tmp_path, only_warning)
    assert runner.invoke(contract_app, ["lint", str(warned)]).exit_code == 0


def test_cli_rules_lists_every_code() -> None:
    result = CliRunner().invoke(contract_app, ["rules", "--json"])
    assert result.exit_code == 0
    assert {r["code"] for r in json.loads(result.output)} == set(RULES)


def _broken_example(tmp_path: Path) -> Path:
    """The example with the three defects of the issue's 'done when'."""
    copy_dir = tmp_path / "broken"
    shutil.copytree(EXAMPLE, copy_dir)
    layers = copy_dir / "layers.yaml"
    doc = yaml.safe_load(layers.read_text(encoding="utf-8"))
    doc["layers"] = [a for a in doc["layers"] if a["layer"] != "os"]  # the os layer loses it
    layers.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    hardware = copy_dir / "objects-1-hardware.yaml"
    hardware.write_text(
        hardware.read_text(encoding="utf-8").replace(
            "    depends_on: [stor-01, net-core-hq]\n",
            "    depends_on: [stor-01, net-core-hq, vm-app-01]\n",
            1,
        ),
        encoding="utf-8",
    )
    sla = copy_dir / "sla.yaml"
    text = sla.read_text(encoding="utf-8")
    night = "{category: outage, priority: P1, periods: [night, weekend, holiday]"
    assert night in text
    sla.write_text(text.replace(night, night.replace("night, ", "")), encoding="utf-8")
    return copy_dir


def test_broken_example_fails_lint_with_the_right_codes(tmp_path: Path) -> None:
    broken = _broken_example(tmp_path)
    findings = lint_path(broken)
    codes = {f.code for f in findings}
    assert {"BTN101", "BTN205", "BTN302"} <= codes
    (cycle,) = [f for f in findings if f.code == "BTN205"]
    assert cycle.file == broken / "objects-1-hardware.yaml"
    assert "srv-esx-01 -> vm-app-01 -> srv-esx-01" in cycle.message
    assert any("'os'" in f.message for f in findings if f.code == "BTN101")
    result = CliRunner().invoke(contract_app, ["lint", str(broken)])
    assert result.exit_code == 1


def test_open_points_turn_what_lint_would_demand_into_one_warning_each(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    del doc["priority_matrix"]["low"]["request"]
    doc["objects"][2]["access"] = None
    _, before = _lint_doc(tmp_path, doc)
    assert {"BTN303", "BTN207"} <= {f.code for f in before if f.severity is Severity.ERROR}
    doc["open_points"] = [
        {"field": "priority_matrix", "note": "customer decides the low row"},
        {"field": f"objects.{doc['objects'][2]['id']}", "owner": "customer/it-head"},
        {"field": "objects.ghost.owner"},  # an integrity rule cannot be left open
    ]
    doc["objects"][1]["depends_on"] = ["ghost"]
    _, after = _lint_doc(tmp_path, doc)
    errors = {f.code for f in after if f.severity is Severity.ERROR}
    assert "BTN303" not in errors
    assert "BTN207" not in errors
    assert "BTN204" in errors  # references must resolve, open point or not
    points = [f for f in after if f.code == "BTN601"]
    assert len(points) == 3
    assert all(p.severity is Severity.WARNING for p in points)
    assert "BTN303" in points[0].message
    assert "customer decides the low row" in points[0].message
    assert "BTN207" in points[1].message


def test_the_appendix_lists_the_open_points_of_the_negotiation(tmp_path: Path) -> None:
    from shared.contract import load_contract
    from shared.contract.appendix import build_appendix, render

    doc = copy.deepcopy(BASE)
    del doc["priority_matrix"]["low"]["request"]
    doc["open_points"] = [
        {"field": "priority_matrix", "note": "low row", "owner": "customer/it-head"}
    ]
    path, _ = _lint_doc(tmp_path, doc)
    text = render(build_appendix(load_contract(path)), "md").decode()
    assert "priority_matrix: low row" in text
    assert "to settle: priority_matrix.low lacks request" in text


def test_update_cadence_is_the_contracts_else_batons_default(tmp_path: Path) -> None:
    """ADR 47: a contract that names a cadence for P3 satisfies BTN320; P1 and P2 fall back to
    Baton's defaults (30 min, 2 h); the example names its own."""
    doc = copy.deepcopy(BASE)
    doc["priority_matrix"]["critical"]["degradation"] = "P3"
    doc["sla"]["update_every"] = {"P3": "4h"}
    _, findings = _lint_doc(tmp_path, doc)
    assert [f for f in findings if f.code == "BTN320"] == []
    from shared.contract import load_contract

    example = load_contract(EXAMPLE)
    assert example.sla.update_every["P1"].total_seconds() == 30 * 60
    assert example.sla.update_cadence("P2") is not None
    assert load_contract(MINIMAL).sla.update_cadence("P1").total_seconds() == 30 * 60  # type: ignore[union-attr]


def test_every_identity_of_batons_own_is_reserved() -> None:
    from baton.credentials import KAFKA_ADMIN, OPERATOR, SERVICE_NAMES, kafka_username
    from shared.contract.lint import reserved_party_id

    for name in (*SERVICE_NAMES, KAFKA_ADMIN, OPERATOR):
        assert reserved_party_id(name), name
        assert reserved_party_id(kafka_username(name)), name
    assert not reserved_party_id("osdb")


def test_a_level_naming_an_unknown_trigger_is_refused_by_name(tmp_path: Path) -> None:
    """An escalation level may name events beyond the clocks (``triggers``); one Baton does not
    know is an error that says which ones it knows, and no service loads the contract (the
    level would otherwise be dropped silently)."""
    doc = copy.deepcopy(BASE)
    doc["escalation"][1]["triggers"] = ["update_late"]
    path, findings = _lint_doc(tmp_path, doc)
    (finding,) = [f for f in findings if f.code == "BTN410"]
    assert "escalation[1].triggers[0]" in str(finding)
    assert "update_overdue" in finding.message
    assert "update_late" in finding.message
    with pytest.raises(ContractError, match="BTN410"):
        load_checked(path)


def test_a_level_with_a_trigger_and_no_threshold_is_complete(tmp_path: Path) -> None:
    """A level that hears only of late customer updates needs no clock threshold (BTN408)."""
    doc = copy.deepcopy(BASE)
    doc["escalation"].append(
        {
            "level": 3,
            "name": "Coordinator's service manager",
            "triggers": ["update_overdue"],
            "contacts": ["apps/manager"],
        }
    )
    assert _lint_doc(tmp_path, doc)[1] == []
