"""Priority follows the worst of what joined (issue 23): an outage alert (or a more critical
origin) joining an incident reclassifies it per the contract's matrix, recorded with its reason;
never an automatic downgrade; the contract may turn it off."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from intake.decide import handle_alert
from intake.incidents import IncidentState

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    Category,
    Envelope,
    IncidentReclassifiedV1,
)
from tests.factories import alert_received

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "intake" / "contract.yaml"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Almaty"))


def contract(medium: tuple[str, ...] = (), **sla: object) -> Contract:
    doc = yaml.safe_load(FIXTURE.read_text())
    doc["sla"].update(sla)
    for obj in doc["objects"]:
        if obj["id"] in medium:
            obj["criticality"] = "medium"
    return Contract.model_validate(doc)


def alert(
    c: Contract, state: IncidentState | None, object_id: str, category: Category, at: datetime
) -> tuple[IncidentState | None, list[Envelope]]:
    """Intake's state after an alert of ``category`` on ``object_id`` at ``at``, and what it
    published."""
    return handle_alert(alert_received(c, object_id, category, at), state, ContractView.of(c), at)


def reclassified(events: list[Envelope]) -> list[IncidentReclassifiedV1]:
    return [e.data for e in events if isinstance(e.data, IncidentReclassifiedV1)]


def test_an_outage_alert_joining_a_degradation_incident_reclassifies_it() -> None:
    c = contract()
    state, _ = alert(c, None, "pg-main", Category.DEGRADATION, T0)
    assert state is not None
    assert (state.category, state.priority) == (Category.DEGRADATION, "P2")  # critical x degr.
    later = T0 + timedelta(minutes=5)
    state, events = alert(c, state, "pg-main", Category.OUTAGE, later)
    assert state is not None
    assert (state.category, state.priority) == (Category.OUTAGE, "P1")  # critical x outage
    (change,) = reclassified(events)
    assert (change.category, change.priority) == (Category.OUTAGE, "P1")
    assert change.reason.startswith("worse_alert")
    assert "pg-main" in change.reason


def test_never_an_automatic_downgrade() -> None:
    c = contract()
    state, _ = alert(c, None, "pg-main", Category.OUTAGE, T0)
    assert state is not None
    assert state.priority == "P1"
    later = T0 + timedelta(minutes=5)
    # a degradation on a medium workstation group joins (related through the accounting app)
    state, events = alert(c, state, "ws-accounting", Category.DEGRADATION, later)
    assert state is not None
    assert (state.category, state.priority) == (Category.OUTAGE, "P1")
    assert all(r.priority == "P1" for r in reclassified(events))


def test_the_origin_moving_to_a_less_critical_object_does_not_downgrade() -> None:
    c = contract(medium=("os-db-01",))
    state, _ = alert(c, None, "pg-main", Category.DEGRADATION, T0)
    later = T0 + timedelta(minutes=5)
    state, events = alert(c, state, "os-db-01", Category.DEGRADATION, later)
    assert state is not None
    assert state.origin == "os-db-01"
    assert state.priority == "P2"  # not the medium OS's P3
    assert all(r.priority == "P2" for r in reclassified(events))


def test_the_contract_may_turn_it_off() -> None:
    c = contract(priority_follows_worst=False)
    state, _ = alert(c, None, "pg-main", Category.DEGRADATION, T0)
    later = T0 + timedelta(minutes=5)
    state, events = alert(c, state, "pg-main", Category.OUTAGE, later)
    assert state is not None
    assert (state.category, state.priority) == (Category.DEGRADATION, "P2")
    assert reclassified(events) == []
