"""Business days and business hours in SLA targets: ``3bd`` / ``4bh``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from shared.contract import Contract, ContractError, load_contract
from shared.contract.appendix import build_appendix, render
from shared.contract.view import ContractView
from shared.events import Category
from tests.factories import two_sites_doc

MINIMAL = Path(__file__).resolve().parents[2] / "examples" / "minimal" / "contract.yaml"


def _with_request_targets(tmp_path: Path, response: str, recovery: str) -> Contract:
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    for target in doc["sla"]["targets"]:
        if target["category"] == "request":
            target["response"], target["recovery"] = response, recovery
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_contract(path)


def test_business_units_count_office_time_even_on_a_round_the_clock_object(
    tmp_path: Path,
) -> None:
    contract = _with_request_targets(tmp_path, "4bh", "3bd")
    requests = [t for t in contract.sla.targets if t.category == Category.REQUEST]
    assert requests
    for target in requests:
        # the office calendar is open 09:00-18:00: a business day is 9 hours
        assert (target.response, target.recovery) == (timedelta(hours=4), timedelta(hours=27))
        assert target.calendar == "office"
    view = ContractView.of(contract)
    # pg-main is supported 24x7; a request at Friday 17:00 Almaty (12:00 UTC) has 1 office
    # hour that day, then 3 on Monday: due Monday 12:00 Almaty, not Friday 21:00
    friday_17 = datetime(2026, 3, 13, 12, 0, tzinfo=UTC)
    prio = requests[0].priority
    due = view.due("pg-main", Category.REQUEST, prio, opened_at=friday_17)
    assert due is not None
    assert due.response_due == datetime(2026, 3, 16, 7, 0, tzinfo=UTC)


def test_the_appendix_shows_them_as_written(tmp_path: Path) -> None:
    contract = _with_request_targets(tmp_path, "4bh", "3bd")
    text = render(build_appendix(contract), "md").decode()
    assert "response 4 business hours; recovery 3 business days" in text


def test_business_units_without_a_business_calendar_are_refused(tmp_path: Path) -> None:
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    doc["sla"]["period_calendar"] = None
    doc["sla"]["targets"][0]["response"] = "2bd"
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(ContractError, match="response"):
        load_contract(path)


def test_business_units_without_a_calendar_count_each_sites_business_hours(
    tmp_path: Path,
) -> None:
    """Issue 16: a target counted in the object's support hours — "4 business hours" without a
    calendar counts the business hours of the object's site (``calendar: site``): at a hub in
    Berlin the hub's 08:00-17:00, at the head office Almaty's 09:00-18:00."""
    doc = two_sites_doc()
    for target in doc["sla"]["targets"]:
        if target["category"] == "request":
            target.pop("calendar")
            target["response"], target["recovery"] = "4bh", "3bd"
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    contract = load_contract(path, lint=True)
    request = next(t for t in contract.sla.targets if t.category == Category.REQUEST)
    assert (request.calendar, request.recovery) == ("site", timedelta(hours=27))
    view = ContractView.of(contract)
    tuesday = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 07:00 Berlin, 11:00 Almaty
    hub = view.due("acc-app", Category.REQUEST, request.priority, opened_at=tuesday)
    hq = view.due("pg-main", Category.REQUEST, request.priority, opened_at=tuesday)
    assert hub is not None
    assert hq is not None
    assert (hub.calendar, hq.calendar) == ("hub-office", "office")
    assert hub.response_due == datetime(2026, 3, 10, 11, 0, tzinfo=UTC)  # 12:00 in Berlin
    assert hq.response_due == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # 15:00 in Almaty
    text = render(build_appendix(contract), "md").decode()
    assert "response 4 business hours; recovery 3 business days" in text
    assert "business hours of each object's site" in text


def test_the_drill_and_the_cli_print_them_as_written(tmp_path: Path) -> None:
    """``3bd`` is "3bd" in the drill, not the 27 hours it counts ("1d3h")."""
    from typer.testing import CliRunner

    from baton.drill_cli import drill_app
    from shared.contract.drill import drill

    contract = _with_request_targets(tmp_path, "4bh", "3bd")
    report = drill(
        ContractView.of(contract),
        "pg-main",
        datetime(2026, 3, 13, 12, 0, tzinfo=UTC),
        Category.REQUEST,
    )
    assert {d.clock.value: d.target for d in report.deadlines} == {
        "response": "4bh",
        "recovery": "3bd",
    }
    out = CliRunner().invoke(
        drill_app,
        [
            str(tmp_path / "contract.yaml"),
            "--object",
            "pg-main",
            "--at",
            "2026-03-13T17:00",
            "--category",
            "request",
        ],
    )
    assert "3bd on office" in out.output
    assert "1d3h" not in out.output


def test_round_the_clock_targets_print_as_before() -> None:
    from shared.contract.model_validators import format_target

    assert format_target(timedelta(hours=4), None) == "4h"
    assert format_target(timedelta(hours=27), timedelta(hours=9)) == "3bd"
    assert format_target(timedelta(hours=4, minutes=30), timedelta(hours=9)) == "4bh30m"
