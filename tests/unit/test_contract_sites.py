"""Sites in other time zones: each location's period calendar and wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from shared.contract import Contract, ContractError, Period, load_contract
from shared.contract.drill import drill_all
from shared.contract.view import ContractView
from tests import factories
from tests.factories import two_sites_doc

# --------------------------------------------------------------------------- sites in other zones


def _two_sites(tmp_path: Path) -> Contract:
    """The minimal contract with a warehouse hub in Europe/Berlin on its own office hours; the
    accounting system runs there."""
    doc = two_sites_doc()
    for obj in doc["objects"]:
        if obj["id"] == "acc-app":
            obj["criticality"] = "critical"
    return load_contract(factories.written(doc, tmp_path))


def test_each_site_reads_day_and_night_on_its_own_calendar(tmp_path: Path) -> None:
    contract = _two_sites(tmp_path)
    view = ContractView.of(contract)
    # Tuesday 10:00 in Berlin = 14:00 in Almaty (UTC+5): day at both sites
    tuesday_10_berlin = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert view.period(tuesday_10_berlin, "acc-app") is Period.DAY
    # Tuesday 07:00 in Berlin = 11:00 in Almaty: day at the head office, night at the hub
    tuesday_07_berlin = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert view.period(tuesday_07_berlin, "pg-main") is Period.DAY
    assert view.period(tuesday_07_berlin, "acc-app") is Period.NIGHT
    assert view.local(tuesday_07_berlin, "acc-app") == "Tue 2026-03-10 07:00 Europe/Berlin"
    assert view.local(tuesday_07_berlin, "pg-main") == "Tue 2026-03-10 11:00 Asia/Almaty"


def test_an_unknown_site_calendar_is_refused(tmp_path: Path) -> None:
    doc = factories.minimal_doc()
    doc["locations"] = {"hub": {"name": "Hub", "period_calendar": "nowhere"}}
    path = factories.written(doc, tmp_path)
    with pytest.raises(ContractError, match="nowhere"):
        load_contract(path)


def test_drill_all_drills_each_site_at_its_own_night_weekend_and_holiday(tmp_path: Path) -> None:
    contract = _two_sites(tmp_path)
    reports, _ = drill_all(ContractView.of(contract), datetime(2026, 3, 1, tzinfo=UTC))
    hub = {r.period: r for r in reports if r.object == "acc-app"}
    hq = {r.period: r for r in reports if r.object == "pg-main"}
    assert hub[Period.NIGHT].at_local.endswith("03:00 Europe/Berlin")
    assert hub[Period.WEEKEND].at_local.endswith("14:00 Europe/Berlin")
    assert hq[Period.NIGHT].at_local.endswith("03:00 Asia/Almaty")
    assert hub[Period.NIGHT].at != hq[Period.NIGHT].at


def test_a_business_hours_dependent_is_checked_when_its_own_hours_open(tmp_path: Path) -> None:
    from shared.contract.drill import drill

    contract = _two_sites(tmp_path)
    doc_path = tmp_path / "contract.yaml"
    doc = yaml.safe_load(doc_path.read_text(encoding="utf-8"))
    for obj in doc["objects"]:
        if obj["id"] == "acc-app":
            obj["calendar"] = "hub-office"
    doc_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    contract = load_contract(doc_path)
    # pg-main fails at Tuesday 07:00 Berlin (11:00 Almaty): the accounting system above it, on
    # the hub's 08:00-17:00 hours, is checked at 08:00 hub time, not at once
    report = drill(ContractView.of(contract), "pg-main", datetime(2026, 3, 10, 6, 0, tzinfo=UTC))
    acc = next(c for c in report.checks if c.object == "acc-app")
    assert acc.relation == "dependent"
    assert acc.engaged_at == "Tue 2026-03-10 08:00 Europe/Berlin"
    in_hours = drill(ContractView.of(contract), "pg-main", datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    assert next(c for c in in_hours.checks if c.object == "acc-app").engaged_at is None


# --------------------------------------------------------------------------- a site's written zone


def _hub_written_as_zone(tmp_path: Path, **hub: str) -> Path:
    """The minimal contract (head office hours in Asia/Almaty) with a hub that names only its
    zone (and holidays country): what a customer writes, without a ``period_calendar``."""
    doc = factories.minimal_doc()
    doc["locations"] = {
        "hq": {"name": "Head office", "kind": "head_office", "timezone": "Asia/Almaty"},
        "hub": {"name": "Hub", "kind": "warehouse", **hub},
    }
    for obj in doc["objects"]:
        obj["location"] = "hub" if obj["id"] == "acc-app" else "hq"
    return factories.written(doc, tmp_path)


def test_a_site_zone_that_its_period_calendar_does_not_keep_fails_lint_naming_both(
    tmp_path: Path,
) -> None:
    from shared.contract.lint import lint_path

    path = _hub_written_as_zone(tmp_path, timezone="Europe/Berlin")
    findings = [f for f in lint_path(path) if f.code == "BTN308"]
    assert len(findings) == 1, findings
    message = findings[0].message
    assert "hub" in message
    assert "Europe/Berlin" in message
    assert "office" in message
    assert "Asia/Almaty" in message
    assert findings[0].line is not None  # points at the location as written


def test_a_site_holidays_country_its_period_calendar_does_not_keep_fails_lint(
    tmp_path: Path,
) -> None:
    from shared.contract.lint import lint_path

    path = _hub_written_as_zone(tmp_path, timezone="Asia/Almaty", holidays_country="RU")
    findings = [f for f in lint_path(path) if f.code == "BTN308"]
    assert len(findings) == 1, findings
    assert "RU" in findings[0].message
    assert "KZ" in findings[0].message


def test_a_site_in_the_period_calendars_zone_lints_clean(tmp_path: Path) -> None:
    from shared.contract.lint import lint_path

    path = _hub_written_as_zone(tmp_path, timezone="Asia/Almaty", holidays_country="KZ")
    assert [f for f in lint_path(path) if f.code in {"BTN308", "BTN309"}] == []


def test_an_unknown_site_zone_is_refused(tmp_path: Path) -> None:
    path = _hub_written_as_zone(tmp_path, timezone="Asia/Nowhere")
    with pytest.raises(ContractError, match="Asia/Nowhere"):
        load_contract(path)


def test_a_site_holidays_country_leaves_the_hash_of_a_contract_without_one(
    tmp_path: Path,
) -> None:
    """Adding the field must not change the content hash of contracts that do not use it."""
    plain = load_contract(_hub_written_as_zone(tmp_path, timezone="Asia/Almaty"))
    dumped = plain.model_dump(mode="json")
    assert "holidays_country" not in dumped["locations"]["hub"]
    with_country = load_contract(
        _hub_written_as_zone(tmp_path, timezone="Asia/Almaty", holidays_country="KZ")
    )
    assert with_country.content_hash != plain.content_hash


def test_objects_supported_on_hours_of_another_zone_than_their_site_are_warned(
    tmp_path: Path,
) -> None:
    from shared.contract.lint import lint_path

    doc_path = _hub_written_as_zone(tmp_path, timezone="Europe/Berlin")
    doc = yaml.safe_load(doc_path.read_text(encoding="utf-8"))
    for obj in doc["objects"]:
        if obj["id"] == "acc-app":
            obj["calendar"] = "office"
    doc_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    findings = [f for f in lint_path(doc_path) if f.code == "BTN309"]
    assert len(findings) == 1, findings
    assert "acc-app" in findings[0].message
    assert "Europe/Berlin" in findings[0].message


def test_the_example_contracts_sites_keep_their_calendars() -> None:
    from shared.contract.lint import lint_path

    example = Path(__file__).resolve().parents[2] / "examples" / "contract"
    assert [f for f in lint_path(example) if f.code in {"BTN308", "BTN309"}] == []


def test_the_appendix_does_not_print_a_site_in_another_zone_silently(tmp_path: Path) -> None:
    from shared.contract.appendix import build_appendix, render

    contract = load_contract(_hub_written_as_zone(tmp_path, timezone="Europe/Berlin"))
    text = render(build_appendix(contract), "md").decode()
    assert "Asia/Almaty (the site is written in Europe/Berlin: lint BTN308)" in text
