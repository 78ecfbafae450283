"""The contract model and loader: the questions services ask, hashing, periods, windows."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from shared.contract import Contract, ContractError, Period, contract_hash, load_contract
from shared.contract.graph import dependencies, dependents
from shared.contract.model_validators import format_duration
from shared.contract.view import ContractView
from shared.events import Category, Layer

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "examples" / "minimal" / "contract.yaml"
EXAMPLE = ROOT / "examples" / "contract"
ALMATY = ZoneInfo("Asia/Almaty")


@pytest.fixture(scope="module")
def minimal() -> Contract:
    return load_contract(MINIMAL, lint=True)


@pytest.fixture(scope="module")
def example() -> Contract:
    return load_contract(EXAMPLE, lint=True)


def _write(tmp_path: Path, doc: object, name: str = "contract.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_service_questions_on_the_minimal_contract(minimal: Contract) -> None:
    assert minimal.id == "minimal"
    assert minimal.version == "2026.11.1"
    assert minimal.coordinator == "apps"
    assert minimal.parties["apps"].contact == "oncall@appworks.example"
    assert minimal.parties["osdb"].name == "SysDB Team"
    assert minimal.primary_party(Layer.DBMS) == "osdb"
    pg = minimal.object("pg-main")
    assert pg is not None
    assert (pg.layer, pg.criticality, pg.calendar, pg.depends_on) == (
        Layer.DBMS,
        "critical",
        "24x7",
        ["os-db-01"],
    )
    assert minimal.object("nope") is None
    assert minimal.priority("critical", Category.OUTAGE) == "P1"
    target = minimal.sla_target(Category.OUTAGE, "P1")
    assert target is not None
    assert (target.response, target.recovery) == (timedelta(minutes=15), timedelta(hours=4))
    assert minimal.sla_target(Category.OUTAGE, "P9") is None


def test_match_alert_prefers_the_most_specific_rule(minimal: Contract) -> None:
    server = minimal.match_alert({"instance": "srv-db-01", "severity": "critical"})
    os_ = minimal.match_alert({"instance": "srv-db-01", "job": "node"})
    assert (server and server.id, os_ and os_.id) == ("srv-db-01", "os-db-01")
    assert minimal.match_alert({"instance": "elsewhere"}) is None


def test_alert_rules_match_hosts_without_port(example: Contract) -> None:
    found = example.match_alert({"host": "app01.steppe.local:10050"})
    assert found is not None
    assert found.id == "vm-app-01"
    queue = example.match_alert({"alertname": "RabbitmqQueueGrowing", "queue": "acc-wms"})
    assert queue is not None
    assert queue.id == "int-mq-acc-wms"


def test_primary_party_of_a_layer_without_one_is_a_key_error(minimal: Contract) -> None:
    with pytest.raises(KeyError, match="network"):
        minimal.primary_party(Layer.NETWORK)


def test_the_skeleton_shapes_still_validate() -> None:
    """The walking skeleton wrote layers as {layer: party} and sla as a bare list."""
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    doc["layers"] = {a["layer"]: a["primary"] for a in doc["layers"]}
    doc["sla"] = doc["sla"]["targets"]
    contract = Contract.model_validate(doc)
    assert contract.primary_party(Layer.INTEGRATION) == "apps"
    assert len(contract.sla.targets) == 7


def test_example_is_big_enough_and_mixed(example: Contract) -> None:
    kinds = {o.kind.value for o in example.objects}
    assert len(example.objects) >= 30
    assert {"domain_controller", "storage", "terminal_server", "mail", "queue", "gateway"} <= kinds
    assert {"file_exchange", "backup", "checkout_terminal", "network_node", "directory"} <= kinds
    assert {o.environment.value for o in example.objects} == {"production", "test", "staging", "dr"}
    kinds_of_parties = sorted(p.kind for p in example.parties.values())
    assert kinds_of_parties == [
        "apps_integrations",
        "customer",
        "hardware",
        "os_dbms",
        "vendor",
        "vendor",
    ]
    dbms_products = {o.product for o in example.objects if o.kind.value == "dbms"}
    assert any("PostgreSQL" in p for p in dbms_products)
    assert any("SQL Server" in p for p in dbms_products)


def test_schema_error_names_file_line_and_field(tmp_path: Path) -> None:
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    doc["objects"][2]["criticality"] = "urgent"
    path = _write(tmp_path, doc)
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    message = str(caught.value)
    line = next(
        i
        for i, text in enumerate(path.read_text().splitlines(), 1)
        if "criticality: urgent" in text
    )
    assert f"{path}:{line}:" in message
    assert "objects[2].criticality" in message
    assert "BTN002" in message


def test_integrity_errors_refuse_but_completeness_only_with_lint(tmp_path: Path) -> None:
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    del doc["objects"][2]["version"]  # completeness (BTN206), not integrity
    incomplete = _write(tmp_path, doc, "incomplete.yaml")
    assert load_contract(incomplete).object("pg-main") is not None
    with pytest.raises(ContractError, match="BTN206"):
        load_contract(incomplete, lint=True)
    doc["objects"][2]["depends_on"] = ["ghost"]
    with pytest.raises(ContractError, match="BTN204"):
        load_contract(_write(tmp_path, doc, "dangling.yaml"))


def test_missing_path_is_a_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="does not exist"):
        load_contract(tmp_path / "nope.yaml")


def test_hash_ignores_layout_and_changes_with_meaning(tmp_path: Path, minimal: Contract) -> None:
    digest = contract_hash(minimal)
    assert digest.startswith("sha256:")
    assert len(digest) == len("sha256:") + 64
    assert minimal.content_hash == digest
    # the same content, re-serialised and split over two files: same hash
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    folder = tmp_path / "split"
    folder.mkdir()
    objects = doc.pop("objects")
    _write(folder, doc, "a.yaml")
    _write(folder, {"objects": objects}, "b.yaml")
    assert contract_hash(load_contract(folder, lint=True)) == digest
    objects[0]["name"] = "DB server 01 (renamed)"
    _write(folder, {"objects": objects}, "b.yaml")
    assert contract_hash(load_contract(folder, lint=True)) != digest


def test_hash_changes_with_the_holidays_data_only_when_holidays_are_used(
    minimal: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shared.contract.model

    assert any(c.holidays_country == "KZ" for c in minimal.calendars)
    no_holidays = minimal.model_copy(
        update={
            "calendars": [
                c.model_copy(update={"holidays_country": None}) for c in minimal.calendars
            ]
        }
    )
    before, before_plain = contract_hash(minimal), contract_hash(no_holidays)

    monkeypatch.setattr(
        shared.contract.model, "holidays_data_version", lambda: "0.0-another-release"
    )

    assert contract_hash(minimal) != before
    assert contract_hash(no_holidays) == before_plain


def test_example_copy_hashes_the_same(tmp_path: Path, example: Contract) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "copy")
    assert load_contract(tmp_path / "copy").content_hash == example.content_hash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("1d 12h", timedelta(days=1, hours=12)),
        ("PT4H30M", timedelta(hours=4, minutes=30)),
    ],
)
def test_durations_are_human_or_iso(tmp_path: Path, text: str, expected: timedelta) -> None:
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    doc["sla"]["targets"][0]["recovery"] = text
    contract = load_contract(_write(tmp_path, doc))
    assert contract.sla.targets[0].recovery == expected
    assert format_duration(expected) == text.replace(" ", "").replace("PT4H30M", "4h30m")


def test_unquoted_time_of_day_gets_a_clear_message(tmp_path: Path) -> None:
    text = MINIMAL.read_text(encoding="utf-8") + (
        "maintenance_windows:\n"
        "  - id: w\n"
        "    objects: [pg-main]\n"
        "    weekly: {days: [sun], start: 22:00, duration: 1h}\n"
        "    approved_by: customer/it-head\n"
    )
    path = tmp_path / "contract.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError, match="in quotes"):
        load_contract(path)


@pytest.mark.parametrize(
    ("local", "period"),
    [
        (datetime(2026, 3, 11, 10, 0), Period.DAY),  # Wednesday
        (datetime(2026, 3, 11, 3, 0), Period.NIGHT),
        (datetime(2026, 3, 11, 18, 0), Period.NIGHT),  # closing time is already night
        (datetime(2026, 3, 14, 10, 0), Period.WEEKEND),  # Saturday
        (datetime(2026, 12, 16, 11, 0), Period.HOLIDAY),  # Independence Day (Wednesday)
        (datetime(2026, 3, 8, 11, 0), Period.HOLIDAY),  # holiday on a Sunday: holiday wins
        (datetime(2026, 12, 31, 11, 0), Period.HOLIDAY),  # the contract's own day off
        (datetime(2026, 12, 26, 11, 0), Period.DAY),  # worked Saturday (moved working day)
    ],
)
def test_periods_follow_the_head_office_calendar(
    example: Contract, local: datetime, period: Period
) -> None:
    assert ContractView.of(example).period(local.replace(tzinfo=ALMATY)) is period


def test_due_picks_the_period_target_and_calendar(example: Contract) -> None:
    view = ContractView.of(example)
    night = datetime(2026, 3, 11, 3, 0, tzinfo=ALMATY)
    priority = view.priority("pg-acc", Category.OUTAGE)
    resolved = view.due("pg-acc", Category.OUTAGE, priority, opened_at=night)
    assert resolved is not None
    assert (priority, resolved.period, resolved.calendar) == ("P1", Period.NIGHT, "24x7")
    assert resolved.response_due == night + timedelta(minutes=30)
    assert resolved.recovery_due == night + timedelta(hours=6)
    friday_evening = datetime(2026, 3, 13, 17, 0, tzinfo=ALMATY)
    slow = view.due(
        "pg-acc-test",
        Category.REQUEST,
        view.priority("pg-acc-test", Category.REQUEST),
        opened_at=friday_evening,
    )
    assert slow is not None
    # 4h of office time: 17:00-18:00 on Friday, then 09:00-12:00 on Monday
    assert slow.response_due == datetime(2026, 3, 16, 12, 0, tzinfo=ALMATY)


def test_on_duty_switches_from_desk_to_night_engineer(example: Contract) -> None:
    view = ContractView.of(example)
    day = view.on_duty("sysops", datetime(2026, 3, 11, 10, 0, tzinfo=ALMATY))
    night = view.on_duty("sysops", datetime(2026, 3, 11, 23, 0, tzinfo=ALMATY))
    assert day is not None
    assert night is not None
    assert (day[0].contact, night[0].contact) == ("desk", "night")
    assert view.on_duty("ghost", datetime(2026, 3, 11, 23, 0, tzinfo=ALMATY)) is None


def test_maintenance_windows_weekly_and_one_off(example: Contract) -> None:
    view = ContractView.of(example)
    sunday_night = datetime(2026, 3, 15, 2, 30, tzinfo=ALMATY)
    window = view.maintenance_at("dc-01", sunday_night)
    assert window is not None
    assert window.id == "windows-patching"
    assert view.maintenance_at("dc-01", sunday_night + timedelta(hours=3)) is None
    assert view.maintenance_at("dc-01", sunday_night + timedelta(days=1)) is None
    assert view.maintenance_at("app-wms", sunday_night) is None
    firmware = datetime(2026, 12, 6, 4, 59, tzinfo=ALMATY)
    found = view.maintenance_at("net-core-hq", firmware)
    assert found is not None
    assert found.id == "core-network-firmware-2026-12"
    assert view.maintenance_at("net-core-hq", firmware + timedelta(minutes=1)) is None


def test_dependency_closures(example: Contract) -> None:
    below = dependencies(example, "pg-acc")
    assert below[:2] == ["os-pg-01", "srv-pg-01"]
    assert "net-core-hq" in below
    above = dependents(example, "pg-acc")
    assert {"app-1c-acc", "int-bank-exchange", "int-mq-acc-wms"} <= set(above)
    assert "pg-acc" not in above
