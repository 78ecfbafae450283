"""The shared event schemas: round trip, versioning, refusal of unknown or malformed events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared import events
from shared.events import (
    CURRENT_VERSION,
    PAYLOADS,
    Alert,
    AlertReceivedV1,
    EventType,
    UnknownEventType,
    make_event,
    parse_event,
    stable_id,
)
from tests.demo_month import demo_month
from tests.factories import clock_started, on_the_wire

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def _alert_event() -> events.Envelope:
    alert = Alert(
        source="alertmanager",
        fingerprint="am:1",
        status="firing",
        object_id="pg-main",
        starts_at=NOW,
        labels={"service": "postgres"},
    )
    return make_event(
        AlertReceivedV1(alert=alert, received_at=NOW),
        source="intake",
        time=NOW,
    )


def test_round_trip_keeps_every_field() -> None:
    event = _alert_event()
    again = parse_event(event.to_json())
    assert again == event
    assert isinstance(again.data, AlertReceivedV1)
    assert again.data.alert.labels == {"service": "postgres"}


def test_timedelta_survives_the_wire() -> None:
    event = clock_started("inc-1", NOW, target=timedelta(minutes=15))
    assert parse_event(event.to_json()).data == event.data
    assert event.key() == b"inc-1"


def test_envelope_carries_cloudevents_attributes_and_version() -> None:
    doc = orjson.loads(_alert_event().to_json())
    assert {"specversion", "id", "type", "source", "time", "subject", "dataversion", "data"} <= set(
        doc
    )
    assert doc["specversion"] == "1.0"
    assert doc["dataversion"] == 1


def test_every_event_type_has_a_payload_and_a_version() -> None:
    assert set(PAYLOADS) == set(EventType)
    assert set(CURRENT_VERSION) == set(EventType)


def test_unknown_type_is_refused_by_name() -> None:
    doc = orjson.loads(_alert_event().to_json())
    doc["type"] = "baton.alert.exploded"
    with pytest.raises(UnknownEventType, match=r"baton\.alert\.exploded"):
        parse_event(orjson.dumps(doc))


def test_newer_version_than_the_reader_is_refused() -> None:
    doc = orjson.loads(_alert_event().to_json())
    doc["dataversion"] = 2
    with pytest.raises(ValueError, match="dataversion"):
        parse_event(doc)


def test_malformed_payload_names_the_field() -> None:
    doc = orjson.loads(_alert_event().to_json())
    doc["data"]["alert"]["status"] = "on fire"
    with pytest.raises(ValidationError) as info:
        parse_event(doc)
    assert info.value.errors()[0]["loc"] == ("alert", "status")


def test_extra_fields_on_our_own_events_are_refused() -> None:
    doc = orjson.loads(_alert_event().to_json())
    doc["data"]["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        parse_event(doc)


def test_old_versions_are_upcast_step_by_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A v1 payload reaches a v3 reader through upcast_v1_v2 then upcast_v2_v3."""
    seen: list[int] = []

    def v1_v2(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(1)
        upgraded = dict(data)
        upgraded["reason"] = upgraded.pop("why")
        return upgraded

    def v2_v3(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(2)
        return data

    monkeypatch.setitem(events.CURRENT_VERSION, EventType.DEAD_LETTER, 3)
    monkeypatch.setitem(events.UPCASTERS, (EventType.DEAD_LETTER, 1), v1_v2)
    monkeypatch.setitem(events.UPCASTERS, (EventType.DEAD_LETTER, 2), v2_v3)
    data = {"why": "bad json", "origin": "/v1/alerts", "payload": "{"}
    doc = on_the_wire(
        "baton.deadletter", 1, data, NOW, source="old-intake", subject=None, event_id=stable_id("x")
    )
    event = parse_event(doc)
    assert seen == [1, 2]
    assert event.dataversion == 3
    assert event.data.reason == "bad json"  # type: ignore[attr-defined]


V1_INSTANTS: dict[str, dict[str, Any]] = {
    "baton.assignment.handover": {
        "from_party": "osdb",
        "to_party": "hw",
        "from_layer": "dbms",
        "to_layer": "hardware",
        "object_id": "srv-db-01",
        "reason": "diagnosis",
        "coordinator": "apps",
        "at": "2026-11-26T21:40:00Z",
    },
    "baton.assignment.escalated": {
        "reason": "sla_warning",
        "level": 2,
        "name": "manager",
        "coordinator": "apps",
        "detected_at": "2026-11-26T21:42:00Z",
    },
    "baton.assignment.vendor_case_opened": {
        "party": "appint",
        "vendor": "onec",
        "vendor_name": "1C",
        "vendor_contact": "support@1c.example",
        "object_id": "app-1c-acc",
        "collects_logs": "appint",
        "correspondence": "appint",
        "decides_fixes": "customer",
        "reason": "diagnosis",
        "coordinator": "apps",
        "at": "2026-03-11T03:00:00Z",
    },
}


@pytest.mark.parametrize("kind", sorted(V1_INSTANTS))
def test_a_v1_handover_escalation_or_vendor_case_is_read_with_its_local_time_unknown(
    kind: str,
) -> None:
    """v2 adds ``local`` (the instant on the object's wall clock); what a v1 router wrote is
    upcast with it unknown, never dead-lettered."""
    doc = on_the_wire(kind, 1, V1_INSTANTS[kind], NOW, event_id=stable_id(kind))
    event = parse_event(orjson.dumps(doc))
    assert event.dataversion == events.CURRENT_VERSION[EventType(kind)]
    assert event.data.local is None  # type: ignore[attr-defined]
    assert type(event.data) is events.PAYLOADS[EventType(kind)]


def test_a_v2_escalation_reads_as_v3_with_no_update_due() -> None:
    """v3 adds the reason ``update_overdue`` and ``update_due`` (ADR 54): a v2 escalation was
    never about a late update; it reads unchanged, and a v2 payload with the new reason is not
    valid v2."""
    data = {
        "reason": "sla_warning",
        "level": 2,
        "name": "manager",
        "coordinator": "apps",
        "detected_at": "2026-11-26T21:42:00Z",
        "local": None,
    }
    doc = on_the_wire(
        "baton.assignment.escalated", 2, data, NOW, event_id=stable_id("v2-escalation")
    )
    event = parse_event(orjson.dumps(doc))
    escalated = event.data_as(events.AssignmentEscalatedV3)
    assert (event.dataversion, escalated.reason, escalated.update_due) == (
        3,
        events.EscalationReason.SLA_WARNING,
        None,
    )
    with pytest.raises(ValueError, match="reason"):
        events.AssignmentEscalatedV2.model_validate({**data, "reason": "update_overdue"})


def test_stable_ids_are_deterministic() -> None:
    assert stable_id("open", "a") == stable_id("open", "a")
    assert stable_id("open", "a") != stable_id("open", "b")


def test_an_event_is_typed_by_its_payload() -> None:
    """The payload's class names the event type and version: a caller cannot pair them wrong."""
    event = make_event(events.DeadLetterV1(reason="", origin="", payload=""), source="x", time=NOW)
    assert (event.type, event.dataversion) == (EventType.DEAD_LETTER, 1)
    assert set(events.EVENT_TYPE.values()) == set(EventType)


def test_make_event_refuses_a_payload_of_an_earlier_version() -> None:
    old = events.AssignmentIssuedV1(
        party="osdb",
        role=events.Role.PRIMARY,
        layer=None,
        object_id=None,
        priority="P1",
        category=events.Category.OUTAGE,
        contact="duty",
        summary="down",
    )
    with pytest.raises(TypeError, match="data: AssignmentIssuedV1 is not a current event payload"):
        make_event(old, source="x", time=NOW)


@pytest.mark.parametrize(
    "actor", ["", "x" * 121, "eng\x1b[31m", "[bold]boss[/bold]", "a\nb", "=HYPERLINK(1)"]
)
def test_an_actor_is_a_name_not_markup_or_control_characters(actor: str) -> None:
    with pytest.raises(ValidationError) as err:
        events.PartyActionV2(action="note", party="osdb", actor=actor)
    assert err.value.errors()[0]["loc"] == ("actor",)


@pytest.mark.parametrize("actor", ["night.engineer", "Иван Петров", "ops@customer.example"])
def test_real_names_and_addresses_are_actors(actor: str) -> None:
    action = events.PartyActionV2(action="note", party="osdb", actor=actor)
    assert action.actor == actor


def test_a_current_event_from_its_bytes_is_the_one_the_step_by_step_path_reads() -> None:
    """The one-pass validator of current events (issue 28) gives the same envelope, of the
    class ``Envelope``, as validating the decoded document step by step."""
    for event in (_alert_event(), *_wire_events()):
        fast = parse_event(event.to_json())
        slow = parse_event(orjson.loads(event.to_json()))  # a document takes the step-by-step path
        assert type(fast) is events.Envelope
        assert fast == slow == event
        assert fast.to_json() == event.to_json()


def _wire_events() -> list[events.Envelope]:
    started = clock_started(
        "inc-1", NOW, clock=events.ClockKind.RECOVERY, target=timedelta(hours=4), calendar="office"
    )
    published = events.ContractPublishedV1(
        contract_id="c", version="v1", content_hash="sha256:0", document={"a": [1, 2.5, None]}
    )
    return [started, make_event(published, source="test", time=NOW, subject="inc-1")]


def test_a_bare_nan_is_refused_as_json_refuses_it() -> None:
    """pydantic's JSON parser takes ``NaN``; JSON and orjson do not, and a record carrying one
    was refused before the one-pass validator: it still is."""
    published = _wire_events()[1]
    raw = published.to_json().replace(b"2.5", b"NaN")
    with pytest.raises(ValueError, match="unexpected character"):
        parse_event(raw)


@settings(max_examples=2, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_to_json_writes_the_bytes_orjson_wrote_of_every_event_type(data: st.DataObject) -> None:
    """``Envelope.to_json`` moved from ``orjson.dumps(model_dump(mode="json"))`` to pydantic's
    serializer (issue 28): the same bytes for every event of the demo month and every current
    payload type hypothesis can build."""
    compared: set[events.EventType] = set()
    for event in demo_month():
        assert event.to_json() == orjson.dumps(event.model_dump(mode="json")), event.type
        compared.add(event.type)
    built = 0
    for kind, payload in sorted(PAYLOADS.items()):
        try:
            value = data.draw(st.builds(payload), label=kind.value)
        except (ValidationError, ValueError, TypeError):
            continue
        built += 1
        event = make_event(value, source="test", time=NOW, subject="inc-1")
        assert event.to_json() == orjson.dumps(event.model_dump(mode="json")), kind
        compared.add(kind)
    # hypothesis builds 4 to 7 of the 44 from their types alone (patterns and validators refuse
    # the rest; how many depends on what ran before it in the process), the demo month has 9
    # types; the other types' bytes are compared by every test that reads an event back
    assert built >= 1, f"none of the {len(PAYLOADS)} payload types built"
    assert len(compared) >= 10, f"only {len(compared)} event types compared"
    alert = _alert_event()
    assert alert.to_json() == orjson.dumps(alert.model_dump(mode="json"))
