"""Each receiver's documented payload normalises to the right Baton alert."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from intake import pagerduty
from intake.formats import FORMATS
from pydantic import ValidationError

from shared.contract import Contract, load_contract
from shared.events import Category, Layer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
NOW = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(FIXTURES / "contract.yaml")


def doc(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.mark.parametrize(
    ("receiver", "example", "said"),
    [
        ("alertmanager", "alertmanager.json", ("alertmanager", "am:4e3c7a1b2d9f0e11", "pg-main")),
        (
            "generic",
            "generic.json",
            ("generic:nagios", "nagios:bank-exchange/sftp", "bank-exchange"),
        ),
        ("user", "user-report.json", ("user", "user:u", "acc-app")),
    ],
)
def test_a_documented_example_says_its_source_fingerprint_and_object(
    contract: Contract, receiver: str, example: str, said: tuple[str, str, str]
) -> None:
    (alert,) = FORMATS[receiver].decode(doc(example), contract, NOW, "u")
    assert (alert.source, alert.fingerprint, alert.object_id) == said


def test_alertmanager_webhook(contract: Contract) -> None:
    (alert,) = FORMATS["alertmanager"].decode(doc("alertmanager.json"), contract, NOW, "u")
    assert alert.layer == Layer.DBMS
    assert alert.category_hint == Category.OUTAGE
    assert alert.ends_at is None
    assert alert.links == ["http://prometheus:9090/graph?g0.expr=pg_up"]


def test_grafana_documented_example(contract: Contract) -> None:
    first, second = FORMATS["grafana"].decode(doc("grafana.json"), contract, NOW, "u")
    assert first.source == "grafana"
    assert first.fingerprint == "grafana:1:c6eadffa33fcdf37"
    assert first.object_id == "srv-db-01"
    assert first.summary == "This alert was triggered for zone us-1"
    assert first.annotations["values"] == "B=44.23943737541908, C=1.0"
    assert first.starts_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    assert first.links[0] == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert any("silence" in link for link in first.links)
    assert "" not in first.links
    assert second.object_id is None  # no contract rule matches: outside the perimeter


def test_pagerduty_trigger_and_resolve_share_the_dedup_key(contract: Contract) -> None:
    (trigger,) = FORMATS["pagerduty"].decode(doc("pagerduty-trigger.json"), contract, NOW, "x")
    (resolve,) = FORMATS["pagerduty"].decode(doc("pagerduty-resolve.json"), contract, NOW, "y")
    assert trigger.fingerprint == resolve.fingerprint
    assert trigger.fingerprint.endswith(":samplekeyhere")
    assert "samplekeyhere:" not in trigger.fingerprint  # the routing key itself is not kept
    assert trigger.status == "firing"
    assert resolve.status == "resolved"
    assert trigger.object_id == "stor-01"  # payload.source is the host
    assert trigger.labels["component"] == "mysql"
    assert trigger.labels["class"] == "disk"
    assert trigger.labels["free space"] == "1%"
    assert trigger.category_hint == Category.OUTAGE
    assert trigger.starts_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert trigger.links == ["https://monitoring.service.com", "https://example.com/"]
    assert resolve.ends_at == NOW


@pytest.mark.parametrize(
    "extra",
    [
        {},  # PagerDuty's documented example, pdpyras/pagerduty EventsApiV2Client.acknowledge
        {"payload": {"summary": "ack", "source": "other-host", "severity": "info"}},  # Go client
    ],
    ids=["documented", "with-payload"],
)
def test_pagerduty_acknowledge_is_the_source_acknowledging_not_a_firing(
    contract: Contract, extra: dict[str, Any]
) -> None:
    """PagerDuty Events v2: ``acknowledge`` says someone acknowledged the alert at the source;
    it is neither a new firing nor a recovery, and it is found by its dedup key only."""
    (trigger,) = FORMATS["pagerduty"].decode(doc("pagerduty-trigger.json"), contract, NOW, "x")
    body = doc("pagerduty-acknowledge.json") | extra
    (ack,) = FORMATS["pagerduty"].decode(body, contract, NOW, "y")
    assert ack.fingerprint == trigger.fingerprint
    assert pagerduty.is_acknowledgement(ack)
    assert not pagerduty.is_acknowledgement(trigger)
    assert ack.object_id is None  # never matched to an object: the dedup key names the alert


def test_pagerduty_trigger_without_dedup_key_gets_one(contract: Contract) -> None:
    body = doc("pagerduty-trigger.json")
    del body["dedup_key"]
    (alert,) = FORMATS["pagerduty"].decode(body, contract, NOW, "generated-1")
    assert alert.annotations["dedup_key"] == "generated-1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_action": "acknowledge", "dedup_key": None}, "dedup_key: required"),
        ({"payload": None}, "payload: required"),
        ({"event_action": "page"}, "event_action"),
        ({"payload": {"summary": "x", "source": "h", "severity": "fatal"}}, "payload.severity"),
        ({"routing_key": ""}, "routing_key"),
    ],
)
def test_pagerduty_errors_name_the_field(
    contract: Contract, change: dict[str, Any], field: str
) -> None:
    body = {**doc("pagerduty-trigger.json"), **change}
    with pytest.raises(ValidationError) as caught:
        FORMATS["pagerduty"].decode(body, contract, NOW, "u")
    assert field in str(caught.value)


def test_zabbix_problem_and_recovery(contract: Contract) -> None:
    (problem,) = FORMATS["zabbix"].decode(doc("zabbix-problem.json"), contract, NOW, "u")
    (recovery,) = FORMATS["zabbix"].decode(doc("zabbix-recovery.json"), contract, NOW, "u")
    assert problem.fingerprint == recovery.fingerprint == "zabbix:31512"
    assert problem.status == "firing"
    assert recovery.status == "resolved"
    assert problem.object_id == "os-db-01"  # host srv-db-01 + tag job=node: the OS rule
    assert problem.severity == "disaster"
    assert problem.category_hint == Category.OUTAGE
    assert problem.starts_at == datetime(2026, 11, 26, 21, 28, tzinfo=UTC)  # Almaty is UTC+5
    assert problem.ends_at is None
    assert recovery.ends_at == datetime(2026, 11, 26, 21, 41, 10, tzinfo=UTC)
    assert problem.links == ["https://zabbix.example/tr_events.php?triggerid=23671&eventid=31512"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_value": "2"}, "event_value"),
        ({"event_id": "abc"}, "event_id"),
        ({"event_date": "27.11.2026"}, "event_date"),
        ({"event_time": "25:61:00"}, "event_date, event_time"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"host": ""}, "host"),
    ],
)
def test_zabbix_errors_name_the_field(
    contract: Contract, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        FORMATS["zabbix"].decode({**doc("zabbix-problem.json"), **change}, contract, NOW, "u")
    assert field in str(caught.value)


def test_generic_alert_takes_its_category(contract: Contract) -> None:
    (alert,) = FORMATS["generic"].decode(doc("generic.json"), contract, NOW, "u")
    assert alert.category_hint == Category.INTEGRATION_ISSUE


def test_generic_alert_is_strict_about_our_own_fields(contract: Contract) -> None:
    body = doc("generic.json")
    body["alerts"][0]["sumary"] = "typo"
    with pytest.raises(ValidationError) as caught:
        FORMATS["generic"].decode(body, contract, NOW, "u")
    assert "alerts.0.sumary" in str(caught.value).replace("\n  ", " ").replace("\n", ".")


def test_generic_alert_with_unknown_object_id_is_outside_not_dropped(contract: Contract) -> None:
    body = doc("generic.json")
    body["alerts"][0] |= {"object_id": "no-such", "labels": {}}
    (alert,) = FORMATS["generic"].decode(body, contract, NOW, "u")
    assert alert.object_id is None


def test_user_report(contract: Contract) -> None:
    (alert,) = FORMATS["user"].decode(doc("user-report.json"), contract, NOW, "r1")
    assert alert.fingerprint == "user:r1"  # the report's receipt id
    assert alert.category_hint == Category.OUTAGE
    assert alert.annotations["affected_users"] == "12"
    assert "12 people" in alert.summary
    assert alert.labels["business_unit"] == "Accounting department"
