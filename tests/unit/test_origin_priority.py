"""Priority follows the origin: when correlation moves the probable origin to a more critical
object, the incident is reclassified (reason ``origin_moved``) and its clocks recomputed under
the new object's priority and calendar, keeping the elapsed and paused time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from intake.decide import ORIGIN_MOVED, handle_alert
from sla_clock.decide import apply
from sla_clock.timeline import Rules, fold

from shared.contract import Contract, load_contract
from shared.contract.view import ContractView
from shared.events import (
    ActionKind,
    Category,
    ClockKind,
    Envelope,
    EventType,
    IncidentReclassifiedV1,
    SlaClockRecomputedV1,
)
from tests import factories
from tests.factories import accepted

CONTRACT: Contract = load_contract(
    Path(__file__).resolve().parents[1] / "fixtures" / "intake" / "contract.yaml"
)
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Almaty"))  # a Wednesday, office open


def received(object_id: str, fingerprint: str, at: datetime) -> Envelope:
    """A degradation alert on ``object_id``; the same ``fingerprint``, the same event."""
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, fingerprint)
    return factories.alert_received(
        CONTRACT, object_id, Category.DEGRADATION, at, fingerprint=fingerprint, event_id=event_id
    )


def test_the_origin_moving_to_a_critical_database_reclassifies_and_recomputes() -> None:
    state, opened = handle_alert(
        received("ws-accounting", "ws", T0), None, ContractView.of(CONTRACT), T0
    )
    assert state is not None
    assert state.priority == "P3"  # medium workstations, business hours
    moved_at = T0 + timedelta(minutes=20)
    pg = received("pg-main", "pg", moved_at)
    state, events = handle_alert(pg, state, ContractView.of(CONTRACT), moved_at)
    assert state is not None
    assert state.priority == "P2"  # the critical database's degradation
    types = [e.type for e in events]
    assert EventType.ORIGIN_MOVED in types
    reclassified = next(e for e in events if e.type == EventType.INCIDENT_RECLASSIFIED)
    data = reclassified.data_as(IncidentReclassifiedV1)
    assert (data.priority, data.reason) == ("P2", ORIGIN_MOVED)
    assert types.index(EventType.ORIGIN_MOVED) < types.index(EventType.INCIDENT_RECLASSIFIED)

    # sla-clock: the clocks ran under the office calendar at P3, with a five-minute pause
    rules = Rules(ContractView.of(CONTRACT))
    (opened_event,) = opened
    record, _ = apply(None, opened_event, rules, T0)
    for minute, action in ((10, ActionKind.PAUSE), (15, ActionKind.RESUME)):
        record, _ = apply(record, action_event(action, T0 + timedelta(minutes=minute)), rules, T0)
    assert record is not None
    before = fold(record, rules)
    assert before[ClockKind.RECOVERY].policy.calendar == "office"
    out: list[Envelope] = []
    for event in events:
        record, emitted = apply(record, event, rules, T0)
        out.extend(emitted)
    assert record is not None
    after = fold(record, rules)
    assert after[ClockKind.RECOVERY].policy.priority == "P2"
    assert after[ClockKind.RECOVERY].policy.calendar == "24x7"  # the database's calendar
    recomputed = {e.data.clock: e.data for e in out if isinstance(e.data, SlaClockRecomputedV1)}
    assert recomputed[ClockKind.RECOVERY].reason == ORIGIN_MOVED
    assert recomputed[ClockKind.RECOVERY].elapsed == timedelta(minutes=15)  # 20 minutes, 5 paused
    assert recomputed[ClockKind.RECOVERY].paused == timedelta(minutes=5)
    assert recomputed[ClockKind.RESPONSE].elapsed == timedelta(minutes=20)


def action_event(action: ActionKind, at: datetime) -> Envelope:
    return accepted("x", action, at, party="hw", actor="duty", pause_reason="no-access")
