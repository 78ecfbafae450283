"""Where an alert becomes an incident: one pure decision over a batch of received alerts.

``decide(alerts, incidents, view, now)`` places each alert in turn (in partition order) against
the open incidents the batch can reach, as the batch has changed them so far: it deduplicates
(same fingerprint), attaches (same object), correlates (a related object within the window),
opens, records a recovery, or — through the ``Muter`` — holds a firing alert that an approved
maintenance window covers (after Alertmanager's ``Muter.Mutes``). It returns the incidents it
changed, the incident events to publish and the maintenance holds to write; the alert consumer
in ``intake.app`` only reads and locks the rows, calls it, writes and publishes (ADR 57).

Event ids derive from the alert event's id, so a redelivered batch yields the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from intake import pagerduty
from intake.correlation import Graph
from intake.incidents import SOURCE, IncidentState
from shared.contract.model import MaintenanceWindow
from shared.contract.view import ContractView
from shared.events import (
    Alert,
    AlertAttachedV1,
    AlertCorrelatedV1,
    AlertReceivedV1,
    AlertResolvedV2,
    Category,
    Envelope,
    EventType,
    IncidentOpenedV2,
    IncidentReclassifiedV1,
    IncidentStatus,
    Model,
    OriginMovedV1,
    SourceAcknowledgedV1,
    make_event,
    stable_id,
)

# ------------------------------------------------------------------ the muter seam


class Muter(Protocol):
    """Should this alert be held back at ``at``? The window that holds it, or None."""

    def mutes(self, alert: Alert, at: datetime) -> MaintenanceWindow | None: ...


@dataclass(frozen=True)
class MaintenanceMuter:
    """The contract's approved maintenance windows hold firing alerts on their objects (an
    unapproved window counts for nothing: a window needs the customer's approval)."""

    view: ContractView

    def mutes(self, alert: Alert, at: datetime) -> MaintenanceWindow | None:
        return self.view.holding_window(alert.object_id, at)


# ------------------------------------------------------------------ correlation


class Match(StrEnum):
    """How an alert found the incident it belongs to."""

    FINGERPRINT = "fingerprint"  # a repeat: deduplicated
    OBJECT = "object"  # another alert on an object already in the incident
    RELATED = "related"  # an object connected in the dependency graph, within the window
    NONE = "none"


ABSORBS_NOTHING = frozenset({IncidentStatus.CLOSED, IncidentStatus.RESTORED})


class OpenIncidents:
    """The open incidents a batch of alerts can reach, read (and locked) once per batch and
    updated in memory as the batch's alerts change them; ``find`` answers as the rows written
    so far would."""

    def __init__(self, states: dict[str, IncidentState], fingerprints: dict[str, str]) -> None:
        self.states = states
        self._fingerprints = fingerprints
        self.changed: dict[str, IncidentState] = {}
        self.loaded = dict(states)

    def find(
        self,
        fingerprint: str,
        object_id: str | None,
        related: frozenset[str],
        since: datetime | None,
    ) -> tuple[IncidentState | None, Match]:
        """Same fingerprint (deduplication); else the newest live incident with an alert on
        the same object; else, when ``since`` is given, the most recent live incident with an
        alert on a ``related`` object at or after ``since`` (correlation)."""
        owner = self._fingerprints.get(fingerprint)
        if owner is not None and owner in self.states:
            return self.states[owner], Match.FINGERPRINT
        if object_id is None:
            return None, Match.NONE
        # a restored incident awaiting the customer absorbs no new failure (ADR 36)
        live = [s for s in self.states.values() if s.status not in ABSORBS_NOTHING]
        same = [s for s in live if s.object_id == object_id or object_id in s.failing]
        if same:
            return max(same, key=lambda s: s.opened_at), Match.OBJECT
        if since is None or not related:
            return None, Match.NONE
        near = [
            s
            for s in live
            if (s.object_id in related or not related.isdisjoint(s.failing))
            and (s.last_alert_at or s.opened_at) >= since
        ]
        if near:
            return max(near, key=lambda s: s.last_alert_at or s.opened_at), Match.RELATED
        return None, Match.NONE

    def restored_on(self, object_id: str) -> str | None:
        """The newest restored incident (awaiting the customer's confirmation) whose objects
        include ``object_id``: what a new incident on it follows."""
        restored = [
            s
            for s in self.states.values()
            if s.status == IncidentStatus.RESTORED
            and (s.object_id == object_id or object_id in s.failing)
        ]
        return max(restored, key=lambda s: s.opened_at).id if restored else None

    def put(self, state: IncidentState) -> None:
        new = self._new_fingerprints(state)
        self.states[state.id] = state
        self.changed[state.id] = state
        if state.status == IncidentStatus.CLOSED:
            self._fingerprints = {
                fp: owner for fp, owner in self._fingerprints.items() if owner != state.id
            }
        else:  # a fingerprint stays with the incident that had it first (ON CONFLICT DO NOTHING)
            for fp in new:
                self._fingerprints.setdefault(fp, state.id)

    def _new_fingerprints(self, state: IncidentState) -> Iterable[str]:
        """The fingerprints ``state`` has that its previous state in this batch had not: a
        state's alerts only grow, so a repeat (the same count of fingerprints) adds none. Not
        every fingerprint again: a storm's incident holds thousands and nearly every alert is
        a repeat (issue 28: this loop was 16 % of intake's CPU in a storm)."""
        before = self.states.get(state.id)
        if before is None or before is state:
            return state.alerts
        if len(before.alerts) == len(state.alerts):
            return ()
        return state.alerts.keys() - before.alerts.keys()


def past_restored(
    incidents: OpenIncidents,
    alert: Alert | None,
    found: IncidentState | None,
    match: Match,
    *,
    related: frozenset[str],
    since: datetime | None,
) -> tuple[IncidentState | None, Match, str | None]:
    """A restored incident awaiting the customer absorbs no new failure (ADR 36): a firing
    alert its fingerprint matched is placed as if it had none, and a new incident on a restored
    one's object names it (``follows``). ``alert``: a firing one (None: nothing new failed)."""
    if alert is None or alert.status != "firing" or not alert.object_id:
        return found, match, None
    if found is not None and found.status == IncidentStatus.RESTORED:
        found, match = incidents.find("", alert.object_id, related, since)
    return found, match, incidents.restored_on(alert.object_id) if found is None else None


# ------------------------------------------------------------------ the batch decision


@dataclass(frozen=True)
class Received:
    """One alert event to decide: the envelope and its raw bytes (kept when it is held)."""

    event: Envelope
    body: bytes = b""

    @property
    def alert(self) -> Alert:
        return self.event.data_as(AlertReceivedV1).alert

    @property
    def at(self) -> datetime:
        return self.event.data_as(AlertReceivedV1).received_at


@dataclass(frozen=True)
class Hold:
    """Keep a firing alert an approved maintenance window covers (``window``: its id)."""

    alert: Alert
    window: str
    at: datetime
    body: bytes


@dataclass(frozen=True)
class Release:
    """Forget a held alert: it recovered inside its window."""

    fingerprint: str


OUTCOME = {
    Match.NONE: "opened",
    Match.FINGERPRINT: "deduplicated",
    Match.OBJECT: "same_object",
    Match.RELATED: "correlated",
}


@dataclass
class Decision:
    """What a batch of alerts did: the incidents changed, the incident events to publish (in
    order), the maintenance holds and releases (in order), and per alert its outcome (for the
    metrics) with the incident it touched and whether that incident is new."""

    states: list[IncidentState] = field(default_factory=list)
    events: list[Envelope] = field(default_factory=list)
    holds: list[Hold | Release] = field(default_factory=list)
    outcomes: list[tuple[str, IncidentState | None, bool]] = field(default_factory=list)


def firing(alert: Alert) -> bool:
    """A firing alert that reports a failure (a source's acknowledgement reports none)."""
    return alert.status == "firing" and not pagerduty.is_acknowledgement(alert)


def reach(alerts: list[Received], graph: Graph) -> tuple[list[str], list[str]]:
    """The fingerprints and objects whose open incidents a batch can reach (what to read and
    lock before ``decide``)."""
    objects: set[str] = set()
    for r in alerts:
        if r.alert.object_id and r.alert.status == "firing":
            objects.add(r.alert.object_id)
        if firing(r.alert) and r.alert.object_id:
            objects |= graph.related(r.alert.object_id)
    return sorted({r.alert.fingerprint for r in alerts}), sorted(objects)


def decide(
    alerts: list[Received],
    incidents: OpenIncidents,
    view: ContractView,
    now: datetime,
    *,
    held: set[str] | None = None,
    muter: Muter | None = None,
    window: timedelta | None = None,
) -> Decision:
    """Each alert in turn against the incidents as the batch has left them. ``held``: the
    fingerprints a maintenance window holds already (updated as the batch holds and releases);
    ``muter``: the maintenance windows of ``view`` unless given; ``window``: how far back a
    related object's alert correlates (None: no correlation on related objects)."""
    graph, held = view.graph, set(held or ())
    muter = muter or MaintenanceMuter(view)
    decision = Decision()
    for received in alerts:
        alert, at = received.alert, received.at
        live = firing(alert)
        related = graph.related(alert.object_id) if live and alert.object_id else frozenset()
        since = at - window if window else None
        found, match = incidents.find(
            alert.fingerprint, alert.object_id if live else None, related, since
        )
        if match != Match.FINGERPRINT and alert.object_id:
            if live and (muted := muter.mutes(alert, at)):
                decision.holds.append(Hold(alert, muted.id, at, received.body))
                held.add(alert.fingerprint)
                continue
            if not live and alert.fingerprint in held:
                decision.holds.append(Release(alert.fingerprint))
                held.discard(alert.fingerprint)
                decision.outcomes.append(("recovered_in_maintenance", None, False))
                continue
        found, match, follows = past_restored(
            incidents, alert if live else None, found, match, related=related, since=since
        )
        state, out = handle_alert(received.event, found, view, now)
        decision.events.extend(linked(out, follows))
        if state is not None:
            incidents.put(state)
        outcome = "ignored" if match == Match.NONE and state is None else OUTCOME[match]
        if pagerduty.is_acknowledgement(alert) and state is not None:
            outcome = "source_acknowledged"
        decision.outcomes.append((outcome, state, found is None))
    decision.states = list(incidents.changed.values())
    return decision


# ------------------------------------------------------------------ one alert


def incident_id_for(alert_event: Envelope) -> str:
    return f"inc-{stable_id('incident', alert_event.id).hex[:16]}"


def opened(event: Envelope, view: ContractView, now: datetime) -> tuple[IncidentState, Envelope]:
    """The incident a received alert opens, and its ``incident_opened`` event."""
    data = event.data_as(AlertReceivedV1)
    alert = data.alert
    obj = view.object(alert.object_id) if alert.object_id else None
    category = alert.category_hint or Category.OUTAGE
    # Outside the perimeter: no criticality to look up; the coordinator triages at the top.
    priority = view.priority(obj.id if obj else None, category)
    objects = [alert.object_id] if alert.object_id else []
    state = IncidentState(
        id=incident_id_for(event),
        object_id=obj.id if obj else None,
        layer=obj.layer if obj else None,
        category=category,
        priority=priority,
        status=IncidentStatus.OPEN,
        opened_at=data.received_at,
        alerts={alert.fingerprint: 1},
        origin=alert.object_id,
        objects=objects,
        scope=view.graph.scope(objects, alert.object_id),
        last_alert_at=data.received_at,
    )
    out = make_event(
        IncidentOpenedV2(
            object_id=state.object_id,
            layer=state.layer,
            category=category,
            priority=priority,
            summary=alert.summary,
            opened_at=data.received_at,
            first_alert_at=alert.starts_at,
            fingerprints=[alert.fingerprint],
            outside_perimeter=obj is None,
        ),
        source=SOURCE,
        time=now,
        subject=state.id,
        event_id=stable_id("open", event.id),
    )
    return state, out


def linked(out: list[Envelope], follows: str | None) -> list[Envelope]:
    """``out`` with the incident it opens naming the restored incident it follows (ADR 36)."""
    if follows is None or not out or out[0].type != EventType.INCIDENT_OPENED:
        return out
    first = out[0]
    data = first.data_as(IncidentOpenedV2).model_copy(update={"follows": follows})
    return [first.model_copy(update={"data": data}), *out[1:]]


Emit = Callable[[Model, str], Envelope]
"""An incident event derived from the alert event being handled (payload, id tag)."""


def handle_alert(
    event: Envelope, found: IncidentState | None, view: ContractView, now: datetime
) -> tuple[IncidentState | None, list[Envelope]]:
    """Open, deduplicate, record recovery or correlate: the new state (None = nothing to keep)
    and the events to publish, with ids derived from the alert event's id."""
    data = event.data_as(AlertReceivedV1)
    alert, at = data.alert, data.received_at
    if pagerduty.is_acknowledgement(alert):
        return source_acknowledged(event, found, now)
    if found is None:
        if alert.status == "resolved":
            return None, []  # recovery of something Baton never opened: the alert is the record
        state, first = opened(event, view, now)
        return state, [first]

    graph = view.graph
    count = found.alerts.get(alert.fingerprint, 0) + 1
    objects = found.failing
    resolved = [fp for fp in found.resolved if fp != alert.fingerprint]
    new_object = alert.status == "firing" and bool(alert.object_id)
    new_object = new_object and alert.object_id not in objects
    if new_object and alert.object_id:
        objects.append(alert.object_id)
    if alert.status == "resolved":
        resolved.append(alert.fingerprint)
    before = found.probable_origin
    origin = graph.origin(objects) or before
    state = found.model_copy(
        update={
            "alerts": {**found.alerts, alert.fingerprint: count},
            "objects": objects,
            "origin": origin,
            "scope": graph.scope(objects, origin),
            "resolved": resolved,
            "last_alert_at": max(found.last_alert_at or at, at),
        }
    )

    def emit(payload: Model, tag: str) -> Envelope:
        return make_event(
            payload, source=SOURCE, time=now, subject=found.id, event_id=stable_id(tag, event.id)
        )

    events = [alert_fact(data, state, count, graph, emit, new_object=new_object)]
    if origin is not None and origin != before:
        events.append(origin_moved(data, state, before, graph, emit))
        state, follows = follow_origin(state, view, before, origin, emit)
        events.extend(follows)
    if count == 1:  # a new alert joined (a repeat of one already counted changes nothing)
        state, worse = follow_worst(state, view, alert, emit)
        events.extend(worse)
    return state, events


def alert_fact(
    data: AlertReceivedV1,
    state: IncidentState,
    count: int,
    graph: Graph,
    emit: Emit,
    *,
    new_object: bool,
) -> Envelope:
    """What the alert did to the incident it joined: recovered, correlated a new object, or
    attached (a repeat, or another alert on an object already in it)."""
    alert, at = data.alert, data.received_at
    if alert.status == "resolved":
        return emit(
            AlertResolvedV2(
                fingerprint=alert.fingerprint,
                object_id=alert.object_id,
                count=count,
                resolved_at=alert.ends_at or at,
                all_recovered=set(state.alerts) <= set(state.resolved),
            ),
            "resolved",
        )
    if new_object and alert.object_id:
        return emit(
            AlertCorrelatedV1(
                fingerprint=alert.fingerprint,
                object_id=alert.object_id,
                layer=alert.layer,
                status=alert.status,
                summary=alert.summary,
                origin_object=state.origin,
                origin_layer=graph.layer(state.origin),
                objects=state.objects,
                scope=state.scope,
                received_at=at,
            ),
            "correlated",
        )
    return emit(
        AlertAttachedV1(
            fingerprint=alert.fingerprint, status=alert.status, count=count, last_seen=at
        ),
        "attach",
    )


def origin_moved(
    data: AlertReceivedV1, state: IncidentState, before: str | None, graph: Graph, emit: Emit
) -> Envelope:
    """The probable origin moved from ``before`` to the state's origin."""
    return emit(
        OriginMovedV1(
            from_object=before,
            from_layer=graph.layer(before),
            to_object=state.origin or "",
            to_layer=graph.layer(state.origin),
            fingerprint=data.alert.fingerprint,
            objects=state.objects,
            scope=state.scope,
            moved_at=data.received_at,
        ),
        "origin",
    )


def source_acknowledged(
    event: Envelope, found: IncidentState | None, now: datetime
) -> tuple[IncidentState | None, list[Envelope]]:
    """The monitoring source's acknowledgement (PagerDuty ``acknowledge``), on the incident that
    holds its alert: a timeline fact and nothing else — the contractor acknowledges, so its
    response clock runs on (ADR 41). Without such an incident there is nothing to record."""
    if found is None:
        return None, []
    data = event.data_as(AlertReceivedV1)
    fact = SourceAcknowledgedV1(
        fingerprint=data.alert.fingerprint,
        source=data.alert.source,
        client=data.alert.annotations.get("client"),
        acknowledged_at=data.received_at,
    )
    out = make_event(
        fact, source=SOURCE, time=now, subject=found.id, event_id=stable_id("src-ack", event.id)
    )
    return found, [out]


ORIGIN_MOVED = "origin_moved"
"""The reason recorded when the priority follows the probable origin."""


def follow_origin(
    state: IncidentState,
    view: ContractView,
    before: str | None,
    origin: str,
    emit: Emit,
) -> tuple[IncidentState, list[Envelope]]:
    """The origin moved: the incident is classified by its new origin — the priority from that
    object's criticality and the clocks on its calendar — recorded as a reclassification with
    reason ``origin_moved`` (sla-clock recomputes, keeping elapsed and paused time)."""
    priority = view.priority(origin, state.category)
    if not view.more_urgent(priority, state.priority):
        priority = state.priority  # never an automatic downgrade
    old, new = view.object(before), view.object(origin)
    calendar_moved = old is not None and new is not None and old.calendar != new.calendar
    if priority == state.priority and not calendar_moved:
        return state, []
    reclassified = emit(
        IncidentReclassifiedV1(
            priority=priority, category=state.category, reason=ORIGIN_MOVED, by="baton:correlation"
        ),
        "origin-reclassified",
    )
    return state.model_copy(update={"priority": priority}), [reclassified]


WORSE_ALERT = "worse_alert"
"""The reason recorded when a joining alert raises the priority."""


def follow_worst(
    state: IncidentState,
    view: ContractView,
    alert: Alert,
    emit: Emit,
) -> tuple[IncidentState, list[Envelope]]:
    """A new firing alert joined: when the matrix gives its category on its object a more
    urgent priority than the incident's (an outage joining a degradation), the incident takes
    that category and priority, recorded with the alert as the reason; never lower. The
    contract's ``sla.priority_follows_worst: false`` turns it off."""
    if alert.status != "firing" or not view.contract.sla.priority_follows_worst:
        return state, []
    category = alert.category_hint or Category.OUTAGE  # as an incident opens on it
    priority = view.priority(alert.object_id, category)
    if not view.more_urgent(priority, state.priority):
        return state, []
    where = alert.object_id or "outside the perimeter"
    reclassified = emit(
        IncidentReclassifiedV1(
            priority=priority,
            category=category,
            reason=f"{WORSE_ALERT}: {alert.fingerprint} ({category.value} on {where})",
            by="baton:correlation",
        ),
        "worse-reclassified",
    )
    return state.model_copy(update={"priority": priority, "category": category}), [reclassified]
