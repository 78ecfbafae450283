"""Event evolution as ADR 1 says: a payload never changes at the same dataversion.

Each payload's schema is checked in (``docs/schemas``). A change to a payload model fails here
until it is a new dataversion with an upcaster from the previous one, the previous model kept in
``EARLIER`` and its snapshot beside the new one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from shared import event_schemas
from shared.events import (
    CURRENT_VERSION,
    EARLIER,
    PAYLOADS,
    UPCASTERS,
    AssignmentIssuedV3,
    AssignmentRole,
    CheckOpenedV2,
    EventType,
    parse_event,
)
from tests import factories


def written_by_router(event_type: EventType, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """A router event as an earlier writer put it on the wire, ``data`` at ``version``."""
    return factories.on_the_wire(event_type.value, version, data, datetime(2026, 11, 1, tzinfo=UTC))


@pytest.mark.parametrize("event_type", list(PAYLOADS), ids=lambda t: t.value)
def test_the_current_payload_is_its_checked_in_snapshot(event_type: EventType) -> None:
    version = CURRENT_VERSION[event_type]
    file = event_schemas.path(event_type, version)
    assert file.exists(), f"{file.name} missing: run python -m shared.event_schemas"
    snapshot = orjson.loads(file.read_bytes())
    assert snapshot == event_schemas.schema(PAYLOADS[event_type]), (
        f"{event_type.value} changed at dataversion {version}: add version {version + 1}, an"
        f" upcaster {version}->{version + 1}, keep the old model in EARLIER, and write its snapshot"
    )


@pytest.mark.parametrize("event_type", list(PAYLOADS), ids=lambda t: t.value)
def test_every_earlier_version_has_its_model_snapshot_and_upcaster(event_type: EventType) -> None:
    for version in range(1, CURRENT_VERSION[event_type]):
        assert (event_type, version) in UPCASTERS, f"no upcaster {event_type.value} v{version}"
        model = EARLIER.get((event_type, version))
        assert model is not None, f"the v{version} model of {event_type.value} is not kept"
        snapshot = orjson.loads(event_schemas.path(event_type, version).read_bytes())
        assert snapshot == event_schemas.schema(model)


def test_no_snapshot_without_a_payload() -> None:
    expected = set(event_schemas.expected())
    assert set(event_schemas.FOLDER.glob("*.json")) == expected


def test_a_v1_assignment_is_read_as_v3() -> None:
    """What a v1 writer wrote (the first, eight-field shape) is upcast, never dead-lettered."""
    old = written_by_router(
        EventType.ASSIGNMENT_ISSUED,
        1,
        {
            "party": "osdb",
            "role": "primary",
            "layer": "dbms",
            "object_id": "pg-main",
            "priority": "P1",
            "category": "outage",
            "contact": "duty@sysdb.example",
            "summary": "PostgreSQL down",
        },
    )
    event = parse_event(orjson.dumps(old))
    assert event.dataversion == 3
    data = event.data_as(AssignmentIssuedV3)
    assert data.role == AssignmentRole.PRIMARY
    assert data.deadlines is None
    assert data.related_alerts == []
    assert (data.opened_at, data.local) == (None, None)


def test_a_v2_assignment_is_read_as_v3_with_its_roles() -> None:
    """A v2 writer's assignment keeps its role; v3's local times are unknown, not invented."""
    old = written_by_router(
        EventType.ASSIGNMENT_ISSUED,
        2,
        {
            "party": "appint",
            "role": "coordinator",
            "layer": None,
            "object_id": None,
            "priority": "P1",
            "category": "outage",
            "contact": "duty@integra.example",
            "summary": "s",
            "coordinator": "appint",
            "contract_version": "2026.11.1",
        },
    )
    data = parse_event(orjson.dumps(old)).data_as(AssignmentIssuedV3)
    assert data.role == AssignmentRole.COORDINATOR
    assert (data.coordinator, data.opened_at, data.local) == ("appint", None, None)


def test_a_v2_assignment_with_v2_fields_is_refused_as_v1() -> None:
    """Why the version was needed: a v1 reader (strict) cannot take v2's fields."""
    v1 = EARLIER[(EventType.ASSIGNMENT_ISSUED, 1)]
    with pytest.raises(ValueError, match="related_alerts"):
        v1.model_validate(
            {
                "party": "osdb",
                "role": "primary",
                "layer": None,
                "object_id": None,
                "priority": "P1",
                "category": "outage",
                "contact": "x",
                "summary": "s",
                "related_alerts": ["f"],
            }
        )


def test_the_writer_refuses_to_overwrite_a_changed_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_schemas, "FOLDER", tmp_path)
    assert event_schemas.write() == []
    target = event_schemas.path(EventType.SLA_BREACHED, 1)
    target.write_bytes(b"{}\n")
    problems = event_schemas.write()
    assert problems
    assert "baton.sla.breached.v1.json" in problems[0]


def test_a_v1_check_is_read_as_v2_with_its_times_unknown() -> None:
    old = written_by_router(
        EventType.CHECK_OPENED,
        1,
        {
            "party": "osdb",
            "layer": "os",
            "object_id": "os-db-01",
            "relation": "dependent",
            "origin_object_id": "srv-db-01",
            "origin_layer": "hardware",
            "priority": "P1",
            "contact": "duty@sysdb.example",
            "summary": "s",
            "coordinator": "apps",
        },
    )
    event = parse_event(orjson.dumps(old))
    assert event.dataversion == 2
    data = event.data_as(CheckOpenedV2)
    assert (data.party, data.role) == ("osdb", "check")
    assert (data.opened_at, data.engage_at, data.engage_at_local, data.local) == (
        None,
        None,
        None,
        None,
    )
