"""Alert → object matching as monitoring people write it: Alertmanager matchers, hosts as hosts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from baton.cli import app
from shared.contract import Contract, ContractError, load_contract
from shared.contract.matching import Matcher, host_key, parse_matcher, parse_matchers, same_host
from shared.contract.view import ContractView

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "examples" / "minimal" / "contract.yaml"
EXAMPLE = ROOT / "examples" / "contract"


@pytest.fixture(scope="module")
def example() -> Contract:
    return load_contract(EXAMPLE, lint=True)


def _landing(contract: Contract, labels: dict[str, str]) -> str | None:
    found = contract.match_alert(labels)
    return found.id if found else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('alertname="PostgresqlDown"', Matcher("alertname", "=", "PostgresqlDown")),
        ("job!=node", Matcher("job", "!=", "node")),
        ('alertname=~"Pg.*|Postgres.*"', Matcher("alertname", "=~", "Pg.*|Postgres.*")),
        (' severity !~ "info|none" ', Matcher("severity", "!~", "info|none")),
        ('msg="say \\"hi\\""', Matcher("msg", "=", 'say "hi"')),
    ],
)
def test_parses_alertmanager_matchers(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected


def test_parses_a_selector_and_refuses_nonsense() -> None:
    assert parse_matchers(['{job="node", instance=~"srv-.*"}']) == [
        Matcher("job", "=", "node"),
        Matcher("instance", "=~", "srv-.*"),
    ]
    for bad in ("job", "=node", 'job=~"("', "a b=c", 'job="node'):
        with pytest.raises(ValueError, match=r"matcher|regular expression|quote"):
            parse_matchers([bad])


def test_regexes_are_anchored_and_missing_labels_read_empty() -> None:
    labels = {"alertname": "PostgresqlDown"}
    assert Matcher("alertname", "=~", "Postgres.*").holds(labels)
    assert not Matcher("alertname", "=~", "Down").holds(labels)  # anchored: not a search
    assert Matcher("job", "!=", "node").holds(labels)  # missing = ""
    assert Matcher("job", "=", "").holds(labels)
    assert not Matcher("alertname", "!~", ".*Down").holds(labels)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("srv-pg-01:9100", "srv-pg-01", True),
        ("SRV-PG-01.steppe.local.", "srv-pg-01", True),
        ("srv-pg-01.steppe.local:9187", "srv-pg-01.steppe.local", True),
        ("srv-pg-01.other.local", "srv-pg-01.steppe.local", False),
        ("10.0.0.5:9100", "10.0.0.5", True),
        ("10.0.0.5", "10", False),
        ("[2001:db8::1]:9100", "2001:db8::1", True),
        ("http://srv-pg-01:8080/health", "srv-pg-01", True),
        ("srv-pg-011", "srv-pg-01", False),
    ],
)
def test_host_values_compare_as_hosts(a: str, b: str, same: bool) -> None:
    assert same_host(a, b) is same
    assert same_host(b, a) is same


def test_host_key_keeps_an_ipv6_address_whole() -> None:
    assert host_key("2001:db8::1") == "2001:db8::1"


def test_node_exporter_instance_with_port_lands_on_the_object_matched_without_it() -> None:
    # The minimal contract matches its server as {instance: srv-db-01}; node_exporter sends the
    # instance with its port, and FQDNs turn up from other exporters.
    minimal = load_contract(MINIMAL, lint=True)
    assert _landing(minimal, {"instance": "srv-db-01:9100"}) == "srv-db-01"
    assert _landing(minimal, {"instance": "SRV-DB-01.corp.example:9100"}) == "srv-db-01"
    assert _landing(minimal, {"instance": "srv-db-01:9100", "job": "node"}) == "os-db-01"


def test_example_maps_database_and_application_alerts_to_their_objects(example: Contract) -> None:
    pg = {"alertname": "PostgresqlDown", "instance": "srv-pg-01:9187", "job": "postgres"}
    assert _landing(example, pg) == "pg-acc"
    assert _landing(example, {"alertname": "PgReplicationLag", "instance": "srv-pg-01"}) == (
        "pg-acc"
    )
    assert _landing(example, {"alertname": "NodeDiskFull", "instance": "srv-pg-01:9100"}) == (
        "srv-pg-01"
    )
    assert _landing(example, {"instance": "srv-pg-01:9100", "job": "node"}) == "os-pg-01"
    assert _landing(example, {"alertname": "MssqlDown", "instance": "vm-sql-01:4000"}) == (
        "mssql-wms"
    )
    assert _landing(example, {"alertname": "OneCSessionsStuck", "instance": "vm-app-01"}) == (
        "app-1c-acc"
    )
    assert _landing(example, {"alertname": "PostgresqlDown", "instance": "srv-other"}) is None


def test_the_view_explains_the_winner_and_the_rules_that_lost(example: Contract) -> None:
    found = ContractView.of(example).match(
        {"alertname": "PostgresqlDown", "instance": "srv-pg-01:9187"}
    )
    assert found is not None
    assert found.object_id == "pg-acc"
    assert "alert_rules[" in found.rule.where
    assert {r.object_id for r in found.also} == {"srv-pg-01"}
    assert "lands on pg-acc" in found.explain()


def test_a_bad_matcher_is_refused_naming_the_field(tmp_path: Path) -> None:
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    doc["objects"][0]["matchers"] = ['alertname=~"("']
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ContractError, match=r"matchers"):
        load_contract(path)


def test_cli_says_where_an_alert_lands_and_why() -> None:
    runner = CliRunner()
    labels = json.dumps({"alertname": "PostgresqlDown", "instance": "srv-pg-01:9187"})
    result = runner.invoke(app, ["contract", "match", str(EXAMPLE), "--labels", labels])
    assert result.exit_code == 0, result.output
    assert "lands on pg-acc" in result.output
    assert "srv-pg-01" in result.output  # the hardware rule that also held, and lost
    as_json = runner.invoke(app, ["contract", "match", str(EXAMPLE), "--labels", labels, "--json"])
    assert json.loads(as_json.output)["object"] == "pg-acc"
    outside = runner.invoke(
        app, ["contract", "match", str(EXAMPLE), "--labels", '{"instance": "nowhere"}']
    )
    assert outside.exit_code == 1
    assert "outside the perimeter" in outside.output
    bad = runner.invoke(app, ["contract", "match", str(EXAMPLE), "--labels", "[1]"])
    assert bad.exit_code == 2


def test_a_cached_answer_depends_on_every_label_a_rule_reads_and_on_no_other() -> None:
    """Issue 28: answers are cached by the values of the labels the rules read. Labels no
    rule reads share an answer; a missing label and an empty one read alike; a changed host
    or matcher label changes the answer."""
    from shared.contract.matching import Matching, Rule

    rules = [
        Rule("db", "r0", (Matcher("job", "=", "pg"),), frozenset({"srv-pg-01"})),
        Rule("app", "r1", (Matcher("job", "=~", "app.*"),)),
        Rule("none", "r2", (Matcher("team", "!=", ""),)),
    ]
    matching = Matching(rules)
    pg = {"job": "pg", "instance": "SRV-PG-01.steppe.local:9100"}
    first = matching.match({**pg, "alertname": "A"})
    assert first is not None
    assert first.object_id == "db"
    again = matching.match({**pg, "alertname": "B", "unread": "x"})
    assert again is first
    assert matching.match({**pg, "instance": "srv-pg-02"}) is None
    assert matching.match({"job": "app-1", "team": ""}).object_id == "app"  # type: ignore[union-attr]
    assert matching.match({"job": "app-1"}).object_id == "app"  # type: ignore[union-attr]
    assert matching.match({"job": "x", "team": "ops"}).object_id == "none"  # type: ignore[union-attr]
