"""Deduplication, recovery and correlation over the dependency graph: the pure core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from intake.correlation import Graph, alert_key
from intake.decide import Hold, OpenIncidents, Received, Release, decide, handle_alert
from intake.incidents import IncidentState

from shared.contract import Contract, load_contract
from shared.contract.model import MaintenanceWindow
from shared.contract.view import ContractView
from shared.events import (
    Alert,
    AlertCorrelatedV1,
    AlertReceivedV1,
    AlertResolvedV2,
    Envelope,
    EventType,
    IncidentOpenedV1,
    IncidentStatus,
    Layer,
    OriginMovedV1,
    SourceAcknowledgedV1,
    make_event,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
NOW = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(FIXTURES / "contract.yaml")


@pytest.fixture(scope="module")
def graph(contract: Contract) -> Graph:
    return Graph(contract)


def received(
    contract: Contract,
    object_id: str | None,
    fingerprint: str,
    status: Literal["firing", "resolved"] = "firing",
    at: datetime = NOW,
) -> Envelope:
    obj = contract.object(object_id) if object_id else None
    alert = Alert(
        source="test",
        fingerprint=fingerprint,
        status=status,
        object_id=object_id,
        layer=obj.layer if obj else None,
        summary=f"{object_id} {status}",
        starts_at=at - timedelta(minutes=1),
    )
    return make_event(
        AlertReceivedV1(alert=alert, received_at=at),
        source="intake",
        time=at,
    )


def test_origin_is_the_deepest_failing_dependency(graph: Graph) -> None:
    assert graph.origin(["ws-accounting", "acc-app", "pg-main", "stor-01"]) == "stor-01"
    assert graph.origin(["acc-app", "pg-main"]) == "pg-main"
    # siblings without a failing common dependency: the one more failing objects depend on
    assert graph.origin(["bank-exchange", "ws-accounting"]) in {"bank-exchange", "ws-accounting"}
    assert graph.origin(["printer"]) is None


def test_scope_comes_from_the_units_that_depend_on_the_origin(graph: Graph) -> None:
    assert graph.scope(["ws-accounting"], "ws-accounting") == ["Accounting department"]
    assert graph.scope(["pg-main"], "pg-main") == [
        "Accounting",
        "Accounting department",
        "Treasury",
    ]
    assert graph.scope(["stor-01"], "stor-01") == [
        "Accounting",
        "Accounting department",
        "IT",
        "Treasury",
    ]


def test_related_and_partition_keys(graph: Graph) -> None:
    assert "stor-01" in graph.related("ws-accounting")
    assert "mail-01" not in graph.related("pg-main")
    assert "bank-exchange" not in graph.related("ws-accounting")  # siblings
    chain = {alert_key(graph, o, "fp") for o in ("stor-01", "pg-main", "bank-exchange")}
    assert chain == {"component:acc-app"}  # named by its smallest object id
    assert alert_key(graph, "mail-01", "fp") == "component:mail-01"
    assert alert_key(graph, None, "fp") == "fingerprint:fp"


def test_storm_up_a_dependency_chain_is_one_incident_whose_origin_moves_down(
    contract: Contract, graph: Graph
) -> None:
    """Workstation login failures, then application errors, DBMS down, storage failure: the
    first opens the incident, each later one joins it and moves the origin one layer down."""
    state: IncidentState | None = None
    emitted: list[Envelope] = []
    storm = ["ws-accounting", "acc-app", "pg-main", "stor-01"]
    for i, object_id in enumerate(storm):
        event = received(contract, object_id, f"fp-{i}", at=NOW + timedelta(seconds=i))
        state, out = handle_alert(event, state, ContractView.of(contract), NOW)
        emitted.extend(out)
    assert state is not None
    types = [e.type for e in emitted]
    assert types.count(EventType.INCIDENT_OPENED) == 1
    assert types.count(EventType.ALERT_CORRELATED) == 3
    moves = [e.data for e in emitted if isinstance(e.data, OriginMovedV1)]
    assert [(m.from_object, m.to_object) for m in moves] == [
        ("ws-accounting", "acc-app"),
        ("acc-app", "pg-main"),
        ("pg-main", "stor-01"),
    ]
    assert moves[-1].to_layer == Layer.HARDWARE
    assert {e.subject for e in emitted} == {state.id}
    assert state.origin == "stor-01"
    assert state.objects == storm
    assert state.scope == ["Accounting", "Accounting department", "IT", "Treasury"]
    last = next(e.data for e in reversed(emitted) if isinstance(e.data, AlertCorrelatedV1))
    assert last.origin_object == "stor-01"


def test_storm_from_the_bottom_never_moves_the_origin(contract: Contract, graph: Graph) -> None:
    state: IncidentState | None = None
    emitted: list[Envelope] = []
    for i, object_id in enumerate(["stor-01", "os-db-01", "pg-main", "acc-app"]):
        state, out = handle_alert(
            received(contract, object_id, f"fp-{i}"), state, ContractView.of(contract), NOW
        )
        emitted.extend(out)
    assert not any(e.type == EventType.ORIGIN_MOVED for e in emitted)
    assert state is not None
    assert state.origin == "stor-01"
    opened = emitted[0].data
    assert isinstance(opened, IncidentOpenedV1)
    assert opened.layer == Layer.HARDWARE


def test_repeat_is_deduplicated(contract: Contract, graph: Graph) -> None:
    first = received(contract, "pg-main", "fp")
    state, _ = handle_alert(first, None, ContractView.of(contract), NOW)
    state, out = handle_alert(
        received(contract, "pg-main", "fp"), state, ContractView.of(contract), NOW
    )
    assert state is not None
    assert [e.type for e in out] == [EventType.ALERT_ATTACHED]
    assert state.alerts == {"fp": 2}


def test_recovery_is_recorded_and_does_not_close_and_flapping_opens_nothing(
    contract: Contract, graph: Graph
) -> None:
    state, _ = handle_alert(
        received(contract, "pg-main", "fp"), None, ContractView.of(contract), NOW
    )
    assert state is not None
    state, out = handle_alert(
        received(contract, "pg-main", "fp", "resolved"), state, ContractView.of(contract), NOW
    )
    assert state is not None
    assert [e.type for e in out] == [EventType.ALERT_RESOLVED]
    assert isinstance(out[0].data, AlertResolvedV2)
    assert state.status == IncidentStatus.OPEN  # only the customer's confirmation closes
    assert state.resolved == ["fp"]
    state, out = handle_alert(
        received(contract, "pg-main", "fp"), state, ContractView.of(contract), NOW
    )
    assert state is not None
    assert [e.type for e in out] == [EventType.ALERT_ATTACHED]
    assert state.resolved == []
    assert state.alerts == {"fp": 3}


def test_recovery_of_an_unknown_alert_opens_nothing(contract: Contract, graph: Graph) -> None:
    event = received(contract, "pg-main", "fp", "resolved")
    assert handle_alert(event, None, ContractView.of(contract), NOW) == (None, [])


def _acknowledged(fingerprint: str, at: datetime = NOW) -> Envelope:
    """A PagerDuty ``acknowledge`` as the adapter normalises it (no payload, so no object)."""
    alert = Alert(
        source="pagerduty",
        fingerprint=fingerprint,
        status="firing",
        object_id=None,
        summary=f"acknowledge {fingerprint}",
        annotations={"dedup_key": fingerprint, "event_action": "acknowledge", "client": "ops"},
        starts_at=at,
    )
    return make_event(AlertReceivedV1(alert=alert, received_at=at), source="intake", time=at)


def test_a_source_acknowledgement_is_recorded_on_the_incident_and_changes_nothing_else(
    contract: Contract, graph: Graph
) -> None:
    """The monitoring source's acknowledgement is a fact on the incident's timeline: not a
    repeat of the alert, not the contractor's acknowledgement (its response clock runs on)."""
    state, _ = handle_alert(
        received(contract, "pg-main", "fp"), None, ContractView.of(contract), NOW
    )
    assert state is not None
    later = NOW + timedelta(minutes=3)
    ack = _acknowledged("fp", later)
    after, out = handle_alert(ack, state, ContractView.of(contract), later)
    assert after == state  # no count, no object, no status: the contractor acknowledges
    assert [e.type for e in out] == [EventType.SOURCE_ACKNOWLEDGED]
    fact = out[0].data
    assert isinstance(fact, SourceAcknowledgedV1)
    assert fact.fingerprint == "fp"
    assert fact.source == "pagerduty"
    assert fact.acknowledged_at == later
    assert fact.client == "ops"
    assert out[0].subject == state.id
    _, repeat = handle_alert(ack, state, ContractView.of(contract), later)
    assert repeat[0].id == out[0].id  # redelivery: the same event id


def test_a_source_acknowledgement_of_an_unknown_alert_opens_nothing(
    contract: Contract, graph: Graph
) -> None:
    assert handle_alert(_acknowledged("fp"), None, ContractView.of(contract), NOW) == (None, [])


def test_redelivery_yields_the_same_event_ids(contract: Contract, graph: Graph) -> None:
    state, _ = handle_alert(
        received(contract, "acc-app", "a"), None, ContractView.of(contract), NOW
    )
    event = received(contract, "pg-main", "b")
    _, once = handle_alert(event, state, ContractView.of(contract), NOW)
    _, twice = handle_alert(event, state, ContractView.of(contract), NOW)
    assert [e.id for e in once] == [e.id for e in twice]
    # correlated + origin moved + reclassified (the high application's P2 follows the critical
    # database's P1)
    assert len(once) == 3


def test_rows_written_before_correlation_still_load(contract: Contract, graph: Graph) -> None:
    old = IncidentState.model_validate(
        {
            "id": "inc-old",
            "object_id": "acc-app",
            "layer": "application",
            "category": "outage",
            "priority": "P2",
            "status": "open",
            "opened_at": NOW.isoformat(),
            "alerts": {"a": 1},
        }
    )
    state, out = handle_alert(
        received(contract, "pg-main", "b"), old, ContractView.of(contract), NOW
    )
    assert state is not None
    assert state.objects == ["acc-app", "pg-main"]
    assert [e.type for e in out] == [
        EventType.ALERT_CORRELATED,
        EventType.ORIGIN_MOVED,
        EventType.INCIDENT_RECLASSIFIED,  # the critical database's priority
    ]


def test_only_approved_maintenance_windows_hold_alerts(contract: Contract) -> None:

    sunday_night = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)
    window = ContractView.of(contract).holding_window("mail-01", sunday_night)
    assert window is not None
    assert window.id == "mail-patching"
    assert (
        ContractView.of(contract).maintenance_at("bank-exchange", sunday_night) is not None
    )  # declared …
    assert (
        ContractView.of(contract).holding_window("bank-exchange", sunday_night) is None
    )  # … not approved
    assert (
        ContractView.of(contract).holding_window("mail-01", sunday_night + timedelta(hours=2))
        is None
    )


CHAIN = ["stor-01", "srv-db-01", "os-db-01", "pg-main", "acc-app", "ws-accounting"]


@st.composite
def storms(draw: st.DrawFn) -> list[tuple[str, str, Literal["firing", "resolved"]]]:
    """Alerts on every object of one dependency chain in any order, with repeats, recoveries
    and flapping (fire, resolve, fire again) mixed in."""
    order = draw(st.permutations(CHAIN))
    steps: list[tuple[str, str, Literal["firing", "resolved"]]] = []
    for object_id in order:
        steps.append((object_id, f"fp-{object_id}", "firing"))
        extra = draw(st.lists(st.sampled_from(["repeat", "resolve"]), max_size=3))
        steps.extend(
            (object_id, f"fp-{object_id}", "firing" if e == "repeat" else "resolved") for e in extra
        )
    return steps


@settings(max_examples=300, deadline=None)
@given(steps=storms())
def test_any_storm_on_one_chain_is_one_incident_whose_origin_is_the_bottom(
    contract: Contract, graph: Graph, steps: list[tuple[str, str, Literal["firing", "resolved"]]]
) -> None:
    state: IncidentState | None = None
    emitted: list[Envelope] = []
    for i, (object_id, fingerprint, status) in enumerate(steps):
        event = received(contract, object_id, fingerprint, status, NOW + timedelta(seconds=i))
        state, out = handle_alert(event, state, ContractView.of(contract), NOW)
        emitted.extend(out)
    assert state is not None
    assert [e.type for e in emitted].count(EventType.INCIDENT_OPENED) == 1
    assert state.origin == "stor-01"
    assert set(state.objects) == set(CHAIN)
    assert state.status == IncidentStatus.OPEN  # recoveries never close it
    moves = [e.data for e in emitted if isinstance(e.data, OriginMovedV1)]
    for earlier, later in pairwise(moves):
        assert earlier.to_object == later.from_object  # one origin at a time, moving down
    if moves:
        assert moves[-1].to_object == "stor-01"


def test_the_incident_is_recovered_only_when_its_last_alert_resolves(
    contract: Contract, graph: Graph
) -> None:
    """Issue 25: ``monitoring_recovered_at`` was set when any one alert resolved while others
    still fired. Intake says which resolution was the last."""
    state, _ = handle_alert(
        received(contract, "pg-main", "a"), None, ContractView.of(contract), NOW
    )
    state, _ = handle_alert(
        received(contract, "pg-main", "b"), state, ContractView.of(contract), NOW
    )
    state, (first,) = handle_alert(
        received(contract, "pg-main", "a", "resolved"), state, ContractView.of(contract), NOW
    )
    assert first.data_as(AlertResolvedV2).all_recovered is False
    state, (last,) = handle_alert(
        received(contract, "pg-main", "b", "resolved"), state, ContractView.of(contract), NOW
    )
    assert last.data_as(AlertResolvedV2).all_recovered is True


class _MuteObject:
    """A muter holding every alert on one object (the seam the maintenance windows fill)."""

    def __init__(self, object_id: str) -> None:
        self.object_id = object_id
        self.asked: list[tuple[str, datetime]] = []

    def mutes(self, alert: Alert, at: datetime) -> MaintenanceWindow | None:
        self.asked.append((alert.fingerprint, at))
        if alert.object_id != self.object_id:
            return None
        return MaintenanceWindow.model_construct(id="patching")


def test_decide_places_a_batch_in_turn_opening_deduplicating_and_correlating(
    contract: Contract,
) -> None:
    """The alert consumer's decision, called directly: each alert against the incidents as
    the batch has left them so far."""
    batch = [
        Received(received(contract, "pg-main", "a")),
        Received(received(contract, "pg-main", "a")),
        Received(received(contract, "acc-app", "b")),
        Received(received(contract, None, "c", "resolved")),
    ]
    incidents = OpenIncidents({}, {})
    decision = decide(
        batch, incidents, ContractView.of(contract), NOW, window=timedelta(minutes=30)
    )
    assert [o for o, _, _ in decision.outcomes] == [
        "opened",
        "deduplicated",
        "correlated",
        "ignored",
    ]
    (state,) = decision.states
    assert state.alerts == {"a": 2, "b": 1}
    assert set(state.objects) == {"pg-main", "acc-app"}
    assert [e.type for e in decision.events][:3] == [
        EventType.INCIDENT_OPENED,
        EventType.ALERT_ATTACHED,
        EventType.ALERT_CORRELATED,
    ]
    assert decision.holds == []


def test_decide_holds_what_the_muter_mutes_and_releases_its_recovery(
    contract: Contract,
) -> None:
    """The muter seam: a firing alert it mutes is held (no incident, no event); its recovery
    releases it; an alert it does not mute opens an incident. A fingerprint already in an
    incident is not asked about (a repeat is deduplicated, never held)."""
    muter = _MuteObject("pg-main")
    later = NOW + timedelta(minutes=5)
    batch = [
        Received(received(contract, "pg-main", "held"), b"raw"),
        Received(received(contract, "pg-main", "held", "resolved", at=later)),
        Received(received(contract, "acc-app", "open")),
        Received(received(contract, "acc-app", "open")),
    ]
    decision = decide(batch, OpenIncidents({}, {}), ContractView.of(contract), NOW, muter=muter)
    hold, release = decision.holds
    assert isinstance(hold, Hold)
    assert isinstance(release, Release)
    assert (hold.alert.fingerprint, hold.window, hold.at, hold.body) == (
        "held",
        "patching",
        NOW,
        b"raw",
    )
    assert release.fingerprint == "held"
    assert [o for o, _, _ in decision.outcomes] == [
        "recovered_in_maintenance",
        "opened",
        "deduplicated",
    ]
    assert [e.type for e in decision.events] == [
        EventType.INCIDENT_OPENED,
        EventType.ALERT_ATTACHED,
    ]
    assert [fp for fp, _ in muter.asked] == ["held", "open"]
    # the default muter is the contract's approved maintenance windows
    assert decide(batch[:1], OpenIncidents({}, {}), ContractView.of(contract), NOW).holds == []
