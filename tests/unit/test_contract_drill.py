"""The drill answers the seed's night test from the example contract, and names the gaps of a
broken one with the lint codes."""

from __future__ import annotations

import http.server
import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from reporting.changes import scope
from typer.testing import CliRunner

from baton.drill_cli import drill_app, drill_command
from shared.contract import Contract, Period, load_contract
from shared.contract.drill import DrillReport, drill, drill_all, sample_times
from shared.contract.load import parse_path
from shared.contract.view import ContractView
from shared.events import Category, ClockKind
from tests.local_http import serving

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contract"
ALMATY = ZoneInfo("Asia/Almaty")
NIGHT = datetime(2026, 3, 11, 3, 0, tzinfo=ALMATY)  # Wednesday
WEEKEND = datetime(2026, 3, 15, 14, 0, tzinfo=ALMATY)  # Sunday
HOLIDAY = datetime(2026, 12, 16, 11, 0, tzinfo=ALMATY)  # Independence Day, a Wednesday
DAY = datetime(2026, 3, 11, 10, 0, tzinfo=ALMATY)

SYSOPS_NIGHT = "Nomad SysOps duty engineer (phone +7 701 300 0202, messenger @nomad_duty)"
INTEGRA_NIGHT = "Integra duty coordinator (phone +7 701 300 0302, messenger @integra_duty)"


_EXAMPLE = load_contract(EXAMPLE, lint=True)


@pytest.fixture(scope="module")
def example() -> Contract:
    return _EXAMPLE


def _due(report: DrillReport) -> dict[ClockKind, datetime]:
    return {d.clock: d.due for d in report.deadlines}


def _checker(report: DrillReport, object_id: str) -> str | None:
    check = next(c for c in report.checks if c.object == object_id)
    return check.checked_by.party if check.checked_by else None


@pytest.mark.parametrize(
    ("at", "period"),
    [(NIGHT, Period.NIGHT), (WEEKEND, Period.WEEKEND), (HOLIDAY, Period.HOLIDAY)],
    ids=["night", "weekend", "holiday"],
)
def test_database_down_off_hours(example: Contract, at: datetime, period: Period) -> None:
    """'The database is unavailable at night and the cause is unknown' — every answer."""
    report = drill(ContractView.of(example), "pg-acc", at)
    assert report.ok, report.gaps
    assert (report.period, report.priority) == (period, "P1")
    # who accepts the ticket and who coordinates: the single desk's night coordinator
    assert report.accepts is not None
    assert report.coordinator is not None
    assert (report.accepts.party, report.accepts.on_duty) == ("appint", INTEGRA_NIGHT)
    assert report.coordinator.party == "appint"
    # the DBMS owner and who is on duty for it
    assert report.primary is not None
    assert (report.primary.party, report.primary.on_duty) == ("sysops", SYSOPS_NIGHT)
    # who checks the server, the OS, the DBMS, the exchange
    assert _checker(report, "srv-pg-01") == "hw"
    assert _checker(report, "os-pg-01") == "sysops"
    assert _checker(report, "pg-acc") == "sysops"
    assert _checker(report, "int-bank-exchange") == "appint"
    relations = {c.object: c.relation for c in report.checks}
    assert (relations["srv-pg-01"], relations["int-bank-exchange"]) == ("depends_on", "dependent")
    # off-hours P1 targets on the 24x7 calendar
    assert _due(report) == {
        ClockKind.RESPONSE: at + timedelta(minutes=30),
        ClockKind.RECOVERY: at + timedelta(hours=6),
    }
    # escalation: level 2 at half the response target, level 4 at 90% of recovery
    steps = {s.level: s for s in report.escalation}
    assert steps[2].fires[ClockKind.RESPONSE] == report.deadlines[0].due_local.replace(
        f"{(at + timedelta(minutes=30)):%H:%M}", f"{(at + timedelta(minutes=15)):%H:%M}"
    )
    assert any("Yerlan Abenov" in c for c in steps[2].contacts)
    assert any("IT duty manager" in c for c in steps[3].emergency_approvers)
    # who may pause, and for which clock
    pauses = {p.id: p for p in report.pauses}
    assert pauses["no-access"].clocks == [ClockKind.RECOVERY]
    assert "sysops" in pauses["no-access"].invoked_by
    # access at this hour: privileged DB access, after-hours approval by the IT duty manager
    assert report.access is not None
    assert report.access.rule == "db-privileged"
    assert report.access.approval.startswith("after-hours work approved by IT duty manager")
    assert "break-glass" in report.access.emergency
    # the approval path named as the access request will need it (issue 26)
    assert "approval by customer/it-duty needed now" in report.access.approval
    assert "request_access" in report.access.approval


def test_database_down_in_the_day(example: Contract) -> None:
    report = drill(ContractView.of(example), "pg-acc", DAY)
    assert report.ok, report.gaps
    assert report.period is Period.DAY
    assert report.primary is not None
    assert report.primary.on_duty is not None
    assert report.primary.on_duty.startswith("Nomad SysOps desk")
    assert _due(report) == {
        ClockKind.RESPONSE: DAY + timedelta(minutes=15),
        ClockKind.RECOVERY: DAY + timedelta(hours=4),
    }
    assert report.access is not None
    assert report.access.approval == "business hours: no separate approval"


def test_vendor_handling_along_the_chain(example: Contract) -> None:
    report = drill(ContractView.of(example), "app-wms", NIGHT)
    vendors = {v.vendor: v for v in report.vendors}
    assert set(vendors) == {"msft"}  # via the SQL Server database and its Windows VM
    assert vendors["msft"].opens_cases == "Nomad SysOps LLP"
    assert vendors["msft"].decides_fixes == "Steppe Trade JSC — IT department"
    accounting = drill(ContractView.of(example), "app-1c-acc", NIGHT)
    assert {v.vendor for v in accounting.vendors} == {"onec", "msft"}


def test_business_hours_object_counts_office_time(example: Contract) -> None:
    friday_night = datetime(2026, 3, 13, 20, 0, tzinfo=ALMATY)
    report = drill(ContractView.of(example), "pg-acc-test", friday_night, Category.REQUEST)
    assert report.ok, report.gaps
    assert report.priority == "P4"
    # office hours only: 4h response = Monday 09:00-13:00; 40h recovery = 4 × 9h + 4h
    assert _due(report)[ClockKind.RESPONSE] == datetime(2026, 3, 16, 13, 0, tzinfo=ALMATY)
    assert _due(report)[ClockKind.RECOVERY] == datetime(2026, 3, 20, 13, 0, tzinfo=ALMATY)


def test_maintenance_window_is_reported(example: Contract) -> None:
    report = drill(ContractView.of(example), "dc-01", datetime(2026, 3, 15, 2, 30, tzinfo=ALMATY))
    assert report.maintenance is not None
    assert report.maintenance.startswith("windows-patching")


def test_sample_times_pick_a_night_a_weekend_and_a_weekday_holiday(example: Contract) -> None:
    times = sample_times(example, datetime(2026, 3, 1, 0, 0, tzinfo=ALMATY))
    assert times == {
        Period.NIGHT: datetime(2026, 3, 2, 3, 0, tzinfo=ALMATY),
        Period.WEEKEND: datetime(2026, 3, 1, 14, 0, tzinfo=ALMATY),
        Period.HOLIDAY: datetime(2026, 3, 9, 11, 0, tzinfo=ALMATY),  # 8 March is a Sunday
    }


def test_drill_all_passes_on_the_example(example: Contract) -> None:
    reports, general = drill_all(ContractView.of(example), datetime(2026, 3, 1, tzinfo=ALMATY))
    critical = [o.id for o in example.objects if o.criticality == "critical"]
    assert general == []
    sampled = [r for r in reports if r.maintenance is None and r.object in critical]
    assert {r.period for r in sampled} >= {Period.NIGHT, Period.WEEKEND, Period.HOLIDAY}
    assert [r.object for r in reports if not r.ok] == []
    # every scheduled exchange or job is drilled when its missed run would be noticed, and
    # every maintenance window on each object it covers
    # the hub in Novosibirsk is drilled at its own night, weekend and holiday, in its zone
    hub = {r.period: r.at_local for r in sampled if r.object == "app-wms"}
    assert hub[Period.NIGHT].endswith("03:00 Asia/Novosibirsk")
    assert hub[Period.HOLIDAY].endswith("11:00 Asia/Novosibirsk")
    assert all(r.at_local.endswith("Asia/Almaty") for r in sampled if r.object == "pg-acc")
    scheduled = {o.id for o in example.objects if o.schedule is not None}
    assert scheduled
    assert scheduled <= {r.object for r in reports}
    windowed = {r.object for r in reports if r.maintenance is not None}
    for window in example.maintenance_windows:
        members = set(window.objects)
        for group in window.groups:
            members.update(example.group_members(group))
        assert members <= windowed, window.id


def _broken(tmp_path: Path) -> Path:
    """The example without a primary for the OS layer, with a dependency cycle and without the
    night SLA of critical outages."""
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLE, broken)
    layers = broken / "layers.yaml"
    doc = yaml.safe_load(layers.read_text(encoding="utf-8"))
    doc["layers"] = [a for a in doc["layers"] if a["layer"] != "os"]
    layers.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    system = broken / "objects-2-system.yaml"
    system.write_text(
        system.read_text(encoding="utf-8").replace(
            "    depends_on: [os-pg-01]\n", "    depends_on: [os-pg-01, app-1c-acc]\n"
        ),
        encoding="utf-8",
    )
    sla = broken / "sla.yaml"
    night = "{category: outage, priority: P1, periods: [night, weekend, holiday]"
    sla.write_text(
        sla.read_text(encoding="utf-8").replace(night, night.replace("night, ", "")),
        encoding="utf-8",
    )
    return broken


def test_broken_copy_fails_the_drill_with_the_right_codes(tmp_path: Path) -> None:
    parsed = parse_path(_broken(tmp_path))
    assert parsed.contract is not None
    report = drill(ContractView.of(parsed.contract), "pg-acc", NIGHT)
    codes = {g.code for g in report.gaps}
    assert codes == {"BTN101", "BTN205", "BTN302"}
    assert any("pg-acc -> app-1c-acc" in g.message for g in report.gaps if g.code == "BTN205")
    # in the daytime the night SLA is not needed, but the missing OS primary still is
    day = drill(ContractView.of(parsed.contract), "pg-acc", DAY)
    assert {g.code for g in day.gaps} == {"BTN101", "BTN205"}


def test_cli_drill_all_fails_naming_the_gaps(tmp_path: Path) -> None:
    broken = _broken(tmp_path)
    runner = CliRunner()
    result = runner.invoke(drill_app, [str(broken), "--all", "--at", "2026-03-01T00:00"])
    assert result.exit_code == 1
    for code in ("BTN101", "BTN205", "BTN302"):
        assert code in result.output
    clean = runner.invoke(drill_app, [str(EXAMPLE), "--all", "--at", "2026-03-01T00:00"])
    assert clean.exit_code == 0, clean.output
    assert ", 0 with gaps" in clean.output


def test_cli_drill_one_object_json_and_text() -> None:
    runner = CliRunner()
    args = [str(EXAMPLE), "--object", "pg-acc", "--at", "2026-03-11T03:00"]
    text = runner.invoke(drill_app, args)
    assert text.exit_code == 0, text.output
    assert "accepts the ticket:  Integra Apps LLP [appint]" in text.output
    assert "recovery      6h on 24x7 -> Wed 2026-03-11 09:00 Asia/Almaty" in text.output
    as_json = runner.invoke(drill_app, [*args, "--json", "--category", "integration_issue"])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    assert doc["ok"] is True
    (report,) = doc["reports"]
    assert (report["category"], report["priority"], report["period"]) == (
        "integration_issue",
        "P1",
        "night",
    )


def test_cli_drill_rejects_unknown_object_and_missing_arguments() -> None:
    runner = CliRunner()
    unknown = runner.invoke(drill_app, [str(EXAMPLE), "--object", "nope", "--at", "2026-03-11"])
    assert unknown.exit_code == 2
    assert "nope" in unknown.output
    assert runner.invoke(drill_app, [str(EXAMPLE)]).exit_code == 2
    assert callable(drill_command)


INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2026, 12, 31),
    timezones=st.just(ALMATY),
)


@settings(max_examples=60, deadline=None)
@given(at=INSTANTS)
def test_any_instant_drills_clean_and_deadlines_follow_the_period(at: datetime) -> None:
    contract = _EXAMPLE
    report = drill(ContractView.of(contract), "pg-acc", at)
    assert report.ok, report.gaps
    assert report.period is ContractView.of(contract).period(at)
    # an alert in the databases' approved window is held until it ends; the window's time
    # does not count either (excludes_sla)
    start = report.held_until or at
    view = ContractView.of(contract)
    expected = timedelta(minutes=15 if view.period(start) is Period.DAY else 30)
    counted = view.clock_calendar("24x7", "pg-acc")
    assert counted.elapsed(start, _due(report)[ClockKind.RESPONSE]) == expected
    if report.held_until is None:
        window = view.sla_exclusions("pg-acc", at, at + expected)
        assert (_due(report)[ClockKind.RESPONSE] - at == expected) == (not window)
    office = contract.business_calendar("office-almaty")
    assert (report.period is Period.DAY) == office.is_open(at)
    slow = drill(ContractView.of(contract), "pg-acc-test", at, Category.REQUEST)
    due = _due(slow)[ClockKind.RESPONSE]
    assert office.elapsed(at, due) == timedelta(hours=4)
    assert office.is_open(due - timedelta(seconds=1))


def test_drill_all_answers_a_missed_run_with_the_watchdogs_category(example: Contract) -> None:
    """The watchdog's alert for a missed run carries its expectation's category, which intake
    takes for the incident: the drill answers with the same category and priority."""
    from shared.checkins import Duty, expectations

    anchor = datetime(2026, 3, 1, tzinfo=ALMATY)
    reports, _ = drill_all(ContractView.of(example), anchor)
    runs = {e.object_id: e for e in expectations(example) if e.duty is Duty.RUN}
    assert runs
    missed = [r for r in reports if r.trigger and "missed" in r.trigger]
    assert {r.object for r in missed} == set(runs)
    for report in missed:
        category = runs[report.object].category
        assert category is Category.INTEGRATION_ISSUE
        assert report.category is category, report.object
        obj = example.object(report.object)
        assert obj is not None
        assert report.priority == example.priority(obj.criticality, category)


def test_drill_all_samples_every_sites_calendar_even_without_a_critical_object(
    tmp_path: Path,
) -> None:
    """A site whose period calendar has no critical object is still drilled at its own night,
    weekend and holiday, on its most critical object."""
    from shared.checkins import Duty, expectations

    folder = tmp_path / "contract"
    shutil.copytree(EXAMPLE, folder)
    apps = folder / "objects-3-applications.yaml"
    doc = yaml.safe_load(apps.read_text(encoding="utf-8"))
    at_hub = [o for o in doc["objects"] if o.get("location") == "hub-novosibirsk"]
    assert at_hub
    for obj in at_hub:
        obj["criticality"] = "high"
    apps.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    contract = load_contract(folder)
    reports, general = drill_all(ContractView.of(contract), datetime(2026, 3, 1, tzinfo=ALMATY))
    assert general == []
    runs = {e.object_id for e in expectations(contract) if e.duty is Duty.RUN}
    hub = {
        r.period
        for r in reports
        if r.object in {o["id"] for o in at_hub}
        and r.object not in runs
        and r.maintenance is None
        and r.at_local.endswith("Asia/Novosibirsk")
    }
    assert hub >= {Period.NIGHT, Period.WEEKEND, Period.HOLIDAY}


def test_the_drill_and_the_watchdog_give_a_missed_run_the_same_category_and_priority(
    example: Contract,
) -> None:
    """The watchdog's alert for a missed run, taken in by intake's generic receiver, opens an
    incident of the category and priority the drill answers for that run."""
    from intake.decide import opened
    from intake.formats import FORMATS
    from sla_clock.watchdog import on_timer, plan

    from shared.checkins import Duty, expectations
    from shared.contract.view import ContractView
    from shared.events import AlertReceivedV1, make_event

    anchor = datetime(2026, 3, 1, tzinfo=ALMATY)
    reports, _ = drill_all(ContractView.of(example), anchor)
    drilled = {r.object: r for r in reports if r.trigger and "missed" in r.trigger}
    for exp in (e for e in expectations(example) if e.duty is Duty.RUN):
        first = plan(example, exp, None, anchor)
        (timer,) = first.timers
        (alert,) = on_timer(example, exp, first.state, timer).alerts
        (normalised,) = FORMATS["generic"].decode({"alerts": [alert]}, example, timer.due, "u")
        received = make_event(
            AlertReceivedV1(alert=normalised, received_at=timer.due),
            source="intake",
            time=timer.due,
        )
        incident, _ = opened(received, ContractView.of(example), timer.due)
        report = drilled[exp.object_id]
        assert (incident.category, incident.priority) == (report.category, report.priority)
        assert report.at == timer.due


class _Reporting(http.server.BaseHTTPRequestHandler):
    """reporting's ``GET /v1/changes`` as the drill reads it: records per ``object`` (and the
    one on every object), each request noted with its query and Authorization."""

    seen: ClassVar[list[tuple[dict[str, list[str]], str | None]]] = []
    records: ClassVar[dict[str, list[dict[str, object]]]] = {
        "srv-pg-01": [
            {
                "id": 7,
                "at": "2026-03-10T21:35:00+00:00",  # 02:35 in Almaty: 25 min before
                "object_id": "srv-pg-01",
                "summary": "BIOS update",
                "link": "https://pd.example/c/7",
                "source": "pagerduty",
                "by_whom": "hw",
            }
        ],
    }
    everywhere: ClassVar[dict[str, object]] = {
        "id": 8,
        "at": "2026-03-10T21:57:00+00:00",  # 3 min before
        "object_id": None,
        "summary": "contract 2026.03 published",
        "link": None,
        "source": "contract",
        "by_whom": None,
    }

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        type(self).seen.append((query, self.headers.get("Authorization")))
        rows = [*self.records.get(query["object"][0], []), self.everywhere]
        body = json.dumps(rows).encode() if url.path == "/v1/changes" else b"[]"
        self.send_response(200 if url.path == "/v1/changes" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def reporting() -> Iterator[str]:
    _Reporting.seen = []
    with serving(_Reporting) as url:
        yield url


def test_cli_drill_shows_the_changes_before_its_instant(
    reporting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 27.2: with a stack the drill lists the changes recorded on the object and what it
    depends on in the 24 h before the drilled instant, nearest first, read from reporting with
    the reader's token, one request per object of the chain."""
    monkeypatch.setenv("BATON_READER_TOKEN", "reader-secret")
    args = [str(EXAMPLE), "--object", "pg-acc", "--at", "2026-03-11T03:00"]
    text = CliRunner().invoke(drill_app, [*args, "--reporting", reporting])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    start = lines.index("  changes in the 24 h before (nearest first):")
    assert lines[start + 1 : start + 4] == [
        "    3 minutes before  every object  contract: contract 2026.03 published",
        "    25 minutes before  srv-pg-01  pagerduty, hw: BIOS update  https://pd.example/c/7",
        "  expected events (a missed run opens an incident):",
    ]
    asked = {q["object"][0] for q, _ in _Reporting.seen}
    assert asked == set(scope(_EXAMPLE, "pg-acc"))
    assert {auth for _, auth in _Reporting.seen} == {"Bearer reader-secret"}
    assert {(q["since"][0], q["until"][0]) for q, _ in _Reporting.seen} == {
        ("2026-03-09T22:00:00+00:00", "2026-03-10T22:00:00+00:00")  # 03:00 in Almaty
    }
    as_json = CliRunner().invoke(drill_app, [*args, "--reporting", reporting, "--json"])
    doc = json.loads(as_json.output)
    assert [c["summary"] for c in doc["changes"]["rows"]] == [
        "contract 2026.03 published",
        "BIOS update",
    ]


def test_cli_drill_without_a_stack_says_it_has_no_changes_to_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline (no stack, no --reporting) the drill says it has no recorded changes to show,
    rather than showing silently nothing."""
    monkeypatch.setenv("BATON_STACK_DIR", str(tmp_path / "no-stack"))
    args = [str(EXAMPLE), "--object", "pg-acc", "--at", "2026-03-11T03:00"]
    text = CliRunner().invoke(drill_app, args)
    assert text.exit_code == 0, text.output
    assert (
        "  changes in the 24 h before: none to show, no stack running"
        " (give --reporting URL to read the recorded ones)"
    ) in text.output.splitlines()
    doc = json.loads(CliRunner().invoke(drill_app, [*args, "--json"]).output)
    assert doc["changes"] == {
        "rows": [],
        "read": False,
        "note": "none to show, no stack running (give --reporting URL to read the recorded ones)",
    }
