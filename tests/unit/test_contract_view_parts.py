"""The contract view's parts answer alone, without the facade or its process-wide cache.

Each part is built from the contract (and the parts it asks) and gives the facade's answers:
the facade adds nothing but delegation (ADR 8, ADR 59).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.contract import Period, load_contract
from shared.contract.duty import Duty
from shared.contract.escalation import Escalation
from shared.contract.graph import Relations
from shared.contract.timing import Timing
from shared.contract.view import ContractView
from shared.contract.windows import Windows
from shared.events import Category, ClockKind, Layer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = load_contract(ROOT / "examples" / "contract")
ALMATY = ZoneInfo("Asia/Almaty")
NIGHT = datetime(2026, 3, 11, 3, 0, tzinfo=ALMATY)
SUNDAY_NIGHT = datetime(2026, 3, 15, 2, 30, tzinfo=ALMATY)


def test_windows_alone() -> None:
    windows = Windows(EXAMPLE)
    found = windows.maintenance_at("dc-01", SUNDAY_NIGHT)
    assert found is not None
    assert found.id == "windows-patching"
    assert windows.maintenance_at("app-wms", SUNDAY_NIGHT) is None
    later = SUNDAY_NIGHT + timedelta(days=7)
    assert windows.released_at("dc-01", later) == ContractView(EXAMPLE).released_at("dc-01", later)


def test_timing_alone_gives_the_deadlines() -> None:
    timing = Timing(EXAMPLE, Windows(EXAMPLE))
    assert timing.period(NIGHT) is Period.NIGHT
    priority = timing.priority("pg-acc", Category.OUTAGE)
    due = timing.due("pg-acc", Category.OUTAGE, priority, opened_at=NIGHT)
    assert due is not None
    assert (priority, due.calendar) == ("P1", "24x7")
    assert due.response_due == NIGHT + timedelta(minutes=30)
    assert due == ContractView(EXAMPLE).due("pg-acc", Category.OUTAGE, "P1", opened_at=NIGHT)


def test_duty_alone_answers_owners_and_duty() -> None:
    duty = Duty(EXAMPLE, Timing(EXAMPLE, Windows(EXAMPLE)))
    assert duty.primary_for(None) == EXAMPLE.coordinator
    assert duty.primary_for(Layer.DBMS) == EXAMPLE.primary_party(Layer.DBMS)
    day = duty.on_duty("sysops", datetime(2026, 3, 11, 10, 0, tzinfo=ALMATY))
    night = duty.on_duty("sysops", datetime(2026, 3, 11, 23, 0, tzinfo=ALMATY))
    assert day is not None
    assert night is not None
    assert (day[0].contact, night[0].contact) == ("desk", "night")


def test_relations_alone_plan_the_checks() -> None:
    timing = Timing(EXAMPLE, Windows(EXAMPLE))
    relations = Relations(EXAMPLE, Duty(EXAMPLE, timing), timing)
    plans = relations.checks("pg-acc")
    assert plans
    assert plans == ContractView(EXAMPLE).checks("pg-acc")
    assert all(plan.layer != Layer.DBMS for plan in plans)


def test_escalation_alone() -> None:
    escalation = Escalation(EXAMPLE)
    assert [lv.level for lv in escalation.levels] == sorted(lv.level for lv in EXAMPLE.escalation)
    assert escalation.thresholds[ClockKind.RESPONSE]
    assert 100 not in escalation.thresholds[ClockKind.RESPONSE]
    assert 0 < escalation.ack_fraction <= 1
