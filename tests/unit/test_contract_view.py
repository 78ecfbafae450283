"""One contract view: the drill, the router's assignments and sla-clock give the same deadlines.

Each defect found where the three disagreed has its own test below; the property test asks all
three for random objects, instants, categories and first-alert offsets over the example contract.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from router.routing import RouteState, on_origin_moved, open_route
from sla_clock.decide import apply, timers
from sla_clock.timeline import BREACH, Rules, fold

import shared.contract.model
from shared.contract import Contract, load_contract
from shared.contract.drill import drill
from shared.contract.view import ContractView
from shared.events import (
    Category,
    ClockKind,
    Envelope,
    Layer,
    stable_id,
)
from tests import factories

EXAMPLE = factories.example()
MINIMAL = load_contract(factories.MINIMAL)
ALMATY = ZoneInfo("Asia/Almaty")
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def opened_event(
    contract: Contract,
    object_id: str,
    category: Category,
    *,
    opened_at: datetime,
    first_alert_at: datetime,
) -> Envelope:
    view = ContractView.of(contract)
    obj = view.object(object_id)
    assert obj is not None
    return factories.opened(
        "inc-1",
        opened_at,
        object_id=obj.id,
        layer=obj.layer,
        category=category,
        priority=view.priority(obj.id, category),
        first_alert_at=first_alert_at,
        event_id=stable_id("test-open", object_id, opened_at, first_alert_at, category),
    )


def as_intake_opens(
    contract: Contract, object_id: str, category: Category, at: datetime, first_alert_at: datetime
) -> Envelope:
    """The incident intake opens for an alert received at ``at``: held in an approved
    maintenance window, it opens when the window ends, dated then."""
    released = ContractView.of(contract).released_at(object_id, at)
    if released is not None:
        return opened_event(
            contract, object_id, category, opened_at=released, first_alert_at=released
        )
    return opened_event(contract, object_id, category, opened_at=at, first_alert_at=first_alert_at)


def router_deadlines(contract: Contract, opened: Envelope) -> dict[ClockKind, datetime] | None:
    _, events = open_route(opened, ContractView.of(contract), NOW)
    d = factories.primaries(events)[0].deadlines
    return (
        None
        if d is None
        else {ClockKind.RESPONSE: d.response_due, ClockKind.RECOVERY: d.recovery_due}
    )


def sla_deadlines(contract: Contract, opened: Envelope) -> dict[ClockKind, datetime] | None:
    rules = Rules(ContractView.of(contract))
    record, events = apply(None, opened, rules, NOW)
    started = factories.started_deadlines(events)
    assert record is not None
    breach = {
        t.clock: t.due for t in timers(record, fold(record, rules), rules) if t.threshold == BREACH
    }
    assert breach == started  # the breach timer falls at the announced deadline
    return started or None


def drill_deadlines(
    contract: Contract, object_id: str, category: Category, at: datetime, first_alert_at: datetime
) -> dict[ClockKind, datetime] | None:
    report = drill(
        ContractView.of(contract), object_id, at, category, first_alert_at=first_alert_at
    )
    return {d.clock: d.due for d in report.deadlines} or None


@settings(max_examples=150, deadline=None)
@given(
    object_id=st.sampled_from([o.id for o in EXAMPLE.objects]),
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(ALMATY)
    ),
    category=st.sampled_from(list(Category)),
    offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)),
)
def test_drill_router_and_sla_clock_give_the_same_deadlines(
    object_id: str, at: datetime, category: Category, offset: timedelta
) -> None:
    opened = as_intake_opens(EXAMPLE, object_id, category, at, at - offset)
    from_router = router_deadlines(EXAMPLE, opened)
    from_sla = sla_deadlines(EXAMPLE, opened)
    from_drill = drill_deadlines(EXAMPLE, object_id, category, at, at - offset)
    assert from_router == from_sla == from_drill


# --------------------------------------------------------------------------- the defects


def test_router_counts_from_the_first_alert_like_sla_clock() -> None:
    """``clock_start: first_alert``: an alert first seen 10 minutes before it reached Baton."""
    registered = datetime(2026, 11, 25, 6, 54, tzinfo=UTC)  # a Wednesday
    first = registered - timedelta(minutes=10)
    opened = opened_event(
        MINIMAL, "pg-main", Category.OUTAGE, opened_at=registered, first_alert_at=first
    )
    assert MINIMAL.sla.clock_start == "first_alert"
    due = router_deadlines(MINIMAL, opened)
    assert due is not None
    assert due[ClockKind.RESPONSE] == first + timedelta(minutes=15)
    assert due == sla_deadlines(MINIMAL, opened)
    assert due == drill_deadlines(MINIMAL, "pg-main", Category.OUTAGE, registered, first)


def test_router_and_drill_leave_out_an_sla_excluded_maintenance_window() -> None:
    """A P1 on a database 10 minutes before its approved 03:00-05:00 window (excludes_sla)."""
    at = datetime(2026, 11, 29, 2, 50, tzinfo=ALMATY)  # a Sunday
    opened = opened_event(EXAMPLE, "pg-acc", Category.OUTAGE, opened_at=at, first_alert_at=at)
    due = router_deadlines(EXAMPLE, opened)
    assert due is not None
    recovery = EXAMPLE.sla_target(Category.OUTAGE, "P1", ContractView.of(EXAMPLE).period(at))
    assert recovery is not None
    assert due[ClockKind.RECOVERY] == at + recovery.recovery + timedelta(hours=2)
    assert due == sla_deadlines(EXAMPLE, opened)
    assert due == drill_deadlines(EXAMPLE, "pg-acc", Category.OUTAGE, at, at)


def test_drill_of_an_alert_held_in_a_maintenance_window_counts_from_its_end() -> None:
    at = datetime(2026, 11, 29, 3, 30, tzinfo=ALMATY)  # inside the databases' window
    report = drill(ContractView.of(EXAMPLE), "pg-acc", at)
    window_end = datetime(2026, 11, 29, 5, 0, tzinfo=ALMATY)
    assert report.held_until == window_end
    response = next(d for d in report.deadlines if d.clock == ClockKind.RESPONSE)
    view = ContractView.of(EXAMPLE)
    target = EXAMPLE.sla_target(Category.OUTAGE, "P1", view.period(window_end))
    assert target is not None
    assert response.due == window_end + target.response


def test_after_a_handover_sla_clock_labels_breaches_with_the_new_owner() -> None:
    """The origin moves from the DBMS to the server: the router hands over to the hardware
    party, and sla-clock's timers (the labels of its warnings and breaches) follow."""
    at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    opened = opened_event(MINIMAL, "pg-main", Category.OUTAGE, opened_at=at, first_alert_at=at)
    moved = factories.origin_moved(
        "inc-1",
        at + timedelta(minutes=1),
        fingerprint="g",
        objects=("pg-main", "srv-db-01"),
        event_id=uuid.UUID(int=2),
    )
    state, _ = open_route(opened, ContractView.of(MINIMAL), NOW)
    routed, _ = on_origin_moved(state, moved, ContractView.of(MINIMAL), NOW)
    assert isinstance(routed, RouteState)
    assert routed.primary == "hw"

    rules = Rules(ContractView.of(MINIMAL))
    record, _ = apply(None, opened, rules, NOW)
    assert record is not None
    assert record.party == "osdb"
    record, _ = apply(record, moved, rules, NOW)
    assert record is not None
    assert record.party == routed.primary
    assert {t.party for t in timers(record, fold(record, rules), rules)} == {"hw"}


def test_one_view_per_contract_version() -> None:
    assert ContractView.of(EXAMPLE) is ContractView.of(EXAMPLE)
    again = load_contract(factories.ROOT / "examples" / "contract")
    assert ContractView.of(again) is ContractView.of(EXAMPLE)  # same content, same view
    assert ContractView.of(MINIMAL) is not ContractView.of(EXAMPLE)
    view = ContractView.of(MINIMAL)
    assert view.primary_for(Layer.DBMS) == "osdb"
    assert view.primary_for(None) == MINIMAL.coordinator


def test_a_second_object_of_one_version_is_found_without_hashing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hashing a contract costs a JSON dump of it (3-4 ms with the example): the router asks
    ``ContractView.of`` several times per incident, so a second object of a version already
    seen (the file loaded again, the contract read back from the feed) must not pay it each
    time. It did: the suite's property test of deadlines took 28 s instead of 0.4 s."""
    first, second = (load_contract(factories.ROOT / "examples" / "contract") for _ in range(2))
    assert ContractView.of(first) is ContractView.of(second)

    def no_more_hashing(contract: Contract) -> str:
        raise AssertionError(f"{contract.id} hashed again")

    monkeypatch.setattr(shared.contract.model, "contract_hash", no_more_hashing)
    assert ContractView.of(second) is ContractView.of(first)
