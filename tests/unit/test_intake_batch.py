"""The alert consumer's per-batch view of open incidents answers as the SQL lookup does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intake.decide import Match, OpenIncidents
from intake.incidents import IncidentState

from shared.events import IncidentStatus
from tests import factories

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def incident(
    iid: str,
    obj: str,
    fps: list[str],
    *,
    opened: int = 0,
    status: IncidentStatus = IncidentStatus.OPEN,
) -> IncidentState:
    at = T0 + timedelta(minutes=opened)
    state = factories.open_incident(obj, None, at, incident=iid, status=status)
    return state.model_copy(
        update={"alerts": dict.fromkeys(fps, 1), "objects": [obj], "last_alert_at": at}
    )


def view(*states: IncidentState) -> OpenIncidents:
    owners = {fp: s.id for s in states if s.status != IncidentStatus.CLOSED for fp in s.alerts}
    return OpenIncidents({s.id: s for s in states}, owners)


def test_fingerprint_first_then_newest_on_the_object_then_related_in_window() -> None:
    a = incident("a", "db", ["fp-a"], opened=0)
    b = incident("b", "db", ["fp-b"], opened=5)
    c = incident("c", "app", ["fp-c"], opened=10)
    v = view(a, b, c)
    assert v.find("fp-a", "app", frozenset(), None) == (a, Match.FINGERPRINT)
    assert v.find("new", "db", frozenset(), None) == (b, Match.OBJECT)
    since = T0 + timedelta(minutes=8)
    assert v.find("new", "os", frozenset({"app", "db"}), since) == (c, Match.RELATED)
    assert v.find("new", "os", frozenset({"db"}), since) == (None, Match.NONE)  # too old
    assert v.find("new", None, frozenset({"app"}), since) == (None, Match.NONE)


def test_closed_incidents_are_not_found_and_a_put_state_is() -> None:
    closed = incident("x", "db", ["fp-x"], status=IncidentStatus.CLOSED)
    v = view(closed)
    assert v.find("fp-x", "db", frozenset(), None) == (None, Match.NONE)
    opened = incident("y", "db", ["fp-y"], opened=1)
    v.put(opened)
    assert v.find("fp-y", None, frozenset(), None) == (opened, Match.FINGERPRINT)
    assert v.find("other", "db", frozenset(), None) == (opened, Match.OBJECT)
    assert v.changed == {"y": opened}


def test_a_fingerprint_stays_with_the_incident_that_had_it_first() -> None:
    a = incident("a", "db", ["shared"])
    v = view(a)
    v.put(incident("b", "app", ["shared"], opened=3))
    assert v.find("shared", None, frozenset(), None) == (a, Match.FINGERPRINT)
    v.put(a.model_copy(update={"status": IncidentStatus.CLOSED}))
    assert v.find("shared", None, frozenset(), None)[1] == Match.NONE


def test_a_restored_incident_awaiting_the_customer_absorbs_no_new_failure() -> None:
    """Issue 25: a restored, unconfirmed incident kept absorbing new alerts on its objects (no
    new incident, no clock). A firing alert there opens a new incident that follows it."""
    from intake.decide import past_restored

    from shared.events import Alert

    restored = incident("r", "db", ["fp-r"], status=IncidentStatus.RESTORED)
    v = view(restored)

    def firing(fingerprint: str, status: str = "firing") -> Alert:
        return Alert.model_validate(
            {
                "source": "t",
                "fingerprint": fingerprint,
                "status": status,
                "object_id": "db",
                "starts_at": T0,
            }
        )

    for fingerprint in ("new", "fp-r"):  # another alert, or its own firing again
        found, match = v.find(fingerprint, "db", frozenset(), None)
        placed = past_restored(
            v, firing(fingerprint), found, match, related=frozenset(), since=None
        )
        assert placed == (None, Match.NONE, "r"), fingerprint
    # monitoring's recovery of its own alert still reaches it
    found, match = v.find("fp-r", None, frozenset(), None)
    resolved = past_restored(
        v, firing("fp-r", "resolved"), found, match, related=frozenset(), since=None
    )
    assert resolved == (restored, Match.FINGERPRINT, None)


def test_a_fingerprint_joining_a_state_put_before_is_found_and_repeats_change_nothing() -> None:
    """put() indexes only what a state gained since its last put (issue 28: it walked every
    fingerprint of the incident for every alert of a storm)."""
    a = incident("a", "db", ["fp-1"])
    v = view(a)
    grown = a.model_copy(update={"alerts": {**a.alerts, "fp-2": 1}})
    v.put(grown)
    assert v.find("fp-2", None, frozenset(), None) == (grown, Match.FINGERPRINT)
    again = grown.model_copy(update={"alerts": {**grown.alerts, "fp-2": 2}})
    v.put(again)
    assert v.find("fp-1", None, frozenset(), None) == (again, Match.FINGERPRINT)
    assert v.find("fp-2", None, frozenset(), None) == (again, Match.FINGERPRINT)
    b = incident("b", "app", ["fp-3", "fp-4"], opened=2)
    v.put(b)
    v.put(b.model_copy(update={"alerts": {**b.alerts, "fp-5": 1, "fp-2": 1}}))
    assert v.find("fp-5", None, frozenset(), None)[0].id == "b"  # type: ignore[union-attr]
    assert v.find("fp-2", None, frozenset(), None)[0].id == "a"  # type: ignore[union-attr]
