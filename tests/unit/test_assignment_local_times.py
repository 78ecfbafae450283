"""Assignments carry every instant twice: in UTC, and on the object's wall clock with the zone's
name (issue 16: "every time shown in the object's own zone"). On the two-site example the
warehouse system runs in Novosibirsk (UTC+7), the accounting database in Almaty (UTC+5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from router.routing import open_route

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    AssignmentIssuedV3,
    AssignmentRole,
    Category,
    EventType,
    IncidentOpenedV1,
    make_event,
    parse_event,
    stable_id,
)
from tests import factories

EXAMPLE = factories.example()
AT = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # Tuesday: 03:00 Wed in Novosibirsk, 01:00 Almaty


def assignments(contract: Contract, object_id: str, at: datetime) -> list[AssignmentIssuedV3]:
    obj = contract.object(object_id)
    assert obj is not None
    opened = make_event(
        IncidentOpenedV1(
            object_id=object_id,
            layer=obj.layer,
            category=Category.OUTAGE,
            priority=contract.priority(obj.criticality, Category.OUTAGE),
            summary="down",
            opened_at=at,
            first_alert_at=at,
            fingerprints=["am:f1"],
        ),
        source="intake",
        time=at,
        subject="inc-1",
        event_id=stable_id("open", "inc-1"),
    )
    _, events = open_route(opened, ContractView.of(contract), at)
    # what a reader gets: through the wire format
    return [
        parse_event(e.to_json()).data_as(AssignmentIssuedV3)
        for e in events
        if e.type == EventType.ASSIGNMENT_ISSUED
    ]


@pytest.mark.parametrize(
    ("object_id", "zone", "offset"),
    [("app-wms", "Asia/Novosibirsk", 7), ("pg-acc", "Asia/Almaty", 5)],
)
def test_each_instant_in_utc_and_in_the_objects_zone(
    object_id: str, zone: str, offset: int
) -> None:
    found = assignments(EXAMPLE, object_id, AT)
    assert {a.role for a in found} >= {AssignmentRole.PRIMARY, AssignmentRole.COORDINATOR}
    for a in found:
        assert a.opened_at == AT
        assert a.opened_at is not None
        assert a.opened_at.utcoffset() == timedelta(0)
        assert a.deadlines is not None
        utc = (a.deadlines.response_due, a.deadlines.recovery_due)
        assert all(t.utcoffset() == timedelta(0) for t in utc)
        local = a.local
        assert local is not None
        assert local.timezone == zone
        pairs = [
            (local.opened_at, a.opened_at),
            (local.response_due, a.deadlines.response_due),
            (local.recovery_due, a.deadlines.recovery_due),
        ]
        if a.access is not None:
            pairs.append((local.access_ready_by, a.access.ready_by))
        for shown, instant in pairs:
            assert shown == instant  # the same instant …
            assert shown is not None
            assert shown.utcoffset() == timedelta(hours=offset)  # … on the site's wall clock
    wms = assignments(EXAMPLE, "app-wms", AT)[0].local
    assert wms is not None
    assert f"{wms.opened_at:%a %H:%M}" == "Wed 03:00"  # not Almaty's 01:00
