"""Routing rules: pure functions of (view, incident history, now).

``RouteState`` is what the router remembers of one incident: who owns it (the primary party of
the layer where the fault is believed to be, and the coordinator, who never changes), the checks
opened along the dependency chain, who acknowledged, which escalation levels fired. Each
function takes the state and one input event and returns the new state and the events to
publish; every output id derives from the input (``stable_id``), so a redelivery or a replay
produces the same ids and consumers recognise them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field

from router import details
from shared.contract import Contract, SupportObject
from shared.contract.policy import IncidentPolicy, incident_policy
from shared.contract.view import ContractView, handover_layer
from shared.events import (
    ActionKind,
    AssignmentIssuedV3,
    AssignmentRole,
    Category,
    CheckClosedV1,
    CheckOpenedV2,
    ClockKind,
    Deadlines,
    Envelope,
    HandoverV2,
    IncidentActionAcceptedV3,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    Layer,
    OriginMovedV1,
    SlaClockRecomputedV1,
    VendorCaseOpenedV2,
    make_event,
    stable_id,
)
from shared.model import Model

SOURCE = "router"
TAKES_INTO_WORK = frozenset({ActionKind.ACKNOWLEDGE, ActionKind.DIAGNOSIS, ActionKind.RESTORED})
"""Actions by which a party shows it took its assignment: its backup is not called then."""


class Check(Model):
    layer: Layer
    object_id: str
    party: str
    relation: Literal["depends_on", "dependent"]
    fault_found: bool | None = None
    reported_by: str | None = None


class RouteState(Model):
    incident_id: str
    object_id: str | None
    layer: Layer | None
    category: Category
    priority: str
    summary: str
    opened_at: AwareDatetime
    first_alert_at: AwareDatetime | None = Field(
        None, description="the incident's first alert: its clocks may start there"
    )
    fingerprints: list[str] = Field(default_factory=list)
    contract_version: str
    owners: dict[Layer, str] = Field(
        default_factory=dict,
        description="layer -> primary party, frozen when the incident opened: a later contract"
        " version applies to new incidents, not to this one",
    )
    coordinator: str
    primary: str
    primary_layer: Layer | None
    primary_object: str | None
    checks: list[Check] = Field(default_factory=list)
    acknowledged: list[str] = Field(default_factory=list)
    ack_due: dict[str, AwareDatetime] = Field(
        default_factory=dict, description="party -> when its backup contacts are called"
    )
    backup_called: list[str] = Field(default_factory=list)
    escalated: list[int] = Field(default_factory=list, description="levels that fired")
    vendor_cases: list[str] = Field(default_factory=list, description="vendor/object opened")
    closed: bool = False
    origin: str | None = Field(None, description="the probable origin, when intake moved it")
    deadlines: Deadlines | None = Field(
        None,
        description="the incident's deadlines as it opened, then as sla-clock last published"
        " them (baton.sla.clock_recomputed): every assignment carries these, whatever version"
        " is in force when a handover or re-route issues it",
    )
    policy: IncidentPolicy | None = Field(
        None,
        description="the incident's policy snapshot (ADR 37): escalation levels and their"
        " contacts are read here, not from the version in force; taken when the incident"
        " opens, again on a reclassification or re-route (None: stored before)",
    )


# --------------------------------------------------------------------------- which version


def contract_for(
    state: RouteState | None,
    event: Envelope | None,
    in_force: Contract,
    known: Mapping[str, Contract],
) -> Contract:
    """The contract version that answers for an incident on ``event`` (None: a tick): the
    version in force for an opening and for the explicit changes that re-pin it (a
    reclassification, a re-route); otherwise the version its policy snapshot was taken under, so
    that a handover's duty contacts and access, a backup call and an escalation follow the
    incident's own version (ADR 37). The version in force for a route without a snapshot or a
    version this router never kept."""
    if state is None or state.policy is None or (event is not None and _re_pins(event)):
        return in_force
    return known.get(state.policy.contract_hash, in_force)


def _re_pins(event: Envelope) -> bool:
    data = event.data
    if isinstance(data, IncidentActionAcceptedV3):
        return data.action == ActionKind.REROUTE
    return isinstance(data, IncidentOpenedV1 | IncidentReclassifiedV1)


# --------------------------------------------------------------------------- assignments


def _assignment(
    state: RouteState,
    view: ContractView,
    *,
    party: str,
    role: AssignmentRole,
    layer: Layer | None,
    obj: SupportObject | None,
    at: datetime,
    now: datetime,
    event_id: tuple[object, ...],
) -> Envelope:
    """One party's assignment with everything it needs to start, as of ``at``."""
    access = None
    if obj is not None:
        access = details.access(view, obj, at)
    # the route's: computed once when it opened, then as sla-clock published them
    deadlines = details.utc(state.deadlines)
    return make_event(
        AssignmentIssuedV3(
            party=party,
            role=role,
            layer=layer,
            object_id=obj.id if obj else None,
            priority=state.priority,
            category=state.category,
            contact=view.contract.parties[party].contact,
            summary=state.summary,
            object_name=obj.name if obj else "",
            object_kind=obj.kind.value if obj else None,
            environment=obj.environment.value if obj else None,
            versions=details.versions(obj) if obj else {},
            location=details.location(view, obj) if obj else None,
            on_duty=details.on_duty(view, party, at),
            backup_contacts=details.backups(view, party),
            access=access,
            deadlines=deadlines,
            coordinator=state.coordinator,
            coordinator_on_duty=details.on_duty(view, state.coordinator, at),
            coordinator_intake=view.contract.parties[state.coordinator].contact,
            related_alerts=list(state.fingerprints),
            contract_version=state.contract_version,
            opened_at=state.opened_at.astimezone(UTC),
            local=details.local_times(
                view, obj.id if obj else None, state.opened_at, deadlines, access
            ),
        ),
        source=SOURCE,
        time=now,
        subject=state.incident_id,
        event_id=stable_id(*event_id),
    )


def _owners(view: ContractView) -> dict[Layer, str]:
    """Layer -> primary party under ``view``'s version (frozen into a route when it opens)."""
    return view.owners()


def _initial_state(opened: Envelope, view: ContractView) -> RouteState:
    data = opened.data_as(IncidentOpenedV1)
    primary = view.primary_for(data.layer)
    obj = view.object(data.object_id) if data.object_id else None
    frozen = details.deadlines(  # outside the perimeter too: the clocks run there
        view,
        obj,
        data.category,
        data.priority,
        opened_at=data.opened_at,
        first_alert_at=data.first_alert_at,
    )
    return RouteState(
        incident_id=opened.subject or "",
        object_id=data.object_id,
        layer=data.layer,
        category=data.category,
        priority=data.priority,
        summary=data.summary,
        opened_at=data.opened_at,
        first_alert_at=data.first_alert_at,
        fingerprints=list(data.fingerprints),
        contract_version=view.version,
        owners=_owners(view),
        coordinator=view.coordinator,
        primary=primary,
        primary_layer=data.layer,
        primary_object=data.object_id,
        deadlines=frozen,
        policy=incident_policy(
            view,
            object_id=data.object_id,
            category=data.category,
            priority=data.priority,
            opened_at=data.opened_at,
            first_alert_at=data.first_alert_at,
        ),
    )


def first_line(view: ContractView, state: RouteState) -> str | None:
    """The desk that accepts tickets, when it is a party of its own in this incident: the
    contract's ``first_line`` unless it is the coordinator or the primary (who have their own
    assignment). It is told of every incident, chased by no timer and owns nothing (ADR 25)."""
    desk = view.contract.first_line_party
    if (
        desk is None
        or desk not in view.contract.parties
        or desk in (state.coordinator, state.primary)
    ):
        return None
    return desk


def assign(opened: Envelope, view: ContractView, now: datetime) -> list[Envelope]:
    """The primary owner of the failing layer and the coordinator, one assignment each, and
    the first-line desk's when the contract names one of its own (ADR 25).

    An incident outside the perimeter has no layer: the coordinator takes it as primary too,
    so it is never left without an owner. Duty contacts, access and deadlines are those at the
    incident's opening, so a replay yields the same messages.
    """
    return _assign(_initial_state(opened, view), view, now)


def _assign(state: RouteState, view: ContractView, now: datetime) -> list[Envelope]:
    """``assign`` for the route state the opening gives (``open_route`` has it already)."""
    obj = view.object(state.object_id) if state.object_id else None
    parties = [
        (AssignmentRole.PRIMARY, state.primary),
        (AssignmentRole.COORDINATOR, state.coordinator),
    ]
    desk = first_line(view, state)
    if desk is not None:
        parties.append((AssignmentRole.FIRST_LINE, desk))
    return [
        _assignment(
            state,
            view,
            party=party,
            role=role,
            layer=state.layer,
            obj=obj,
            at=state.opened_at,
            now=now,
            event_id=("assignment", state.incident_id, role.value),
        )
        for role, party in parties
    ]


def checks_for(view: ContractView, obj: SupportObject, at: datetime) -> list[Check]:
    """One check per neighbouring layer along the dependency chain (the contract view's plan)."""
    del at  # who checks follows from the layers' owners, not from the hour
    return [
        Check(layer=c.layer, object_id=c.object_id, party=c.party, relation=c.relation)
        for c in view.checks(obj.id)
    ]


def open_route(
    opened: Envelope, view: ContractView, now: datetime
) -> tuple[RouteState, list[Envelope]]:
    """A new incident: assignments to the primary and the coordinator, checks of the
    neighbouring layers, and when each party's backup is called if it does not acknowledge."""
    state = _initial_state(opened, view)
    events = _assign(state, view, now)
    obj = view.object(state.object_id) if state.object_id else None
    checks = checks_for(view, obj, state.opened_at) if obj else []
    for check in checks:
        target = view.object(check.object_id)
        access = details.access(view, target, state.opened_at) if target else None
        engage = view.engaged_at(check.object_id, check.relation, state.opened_at)
        local = details.local_times(view, check.object_id, state.opened_at, None, access)
        events.append(
            make_event(
                CheckOpenedV2(
                    party=check.party,
                    layer=check.layer,
                    object_id=check.object_id,
                    object_name=target.name if target else "",
                    relation=check.relation,
                    origin_object_id=state.object_id,
                    origin_layer=state.layer,
                    priority=state.priority,
                    contact=view.contract.parties[check.party].contact,
                    summary=state.summary,
                    coordinator=state.coordinator,
                    # who answers for the party when it is expected to start
                    on_duty=details.on_duty(view, check.party, engage or state.opened_at),
                    access=access,
                    opened_at=state.opened_at.astimezone(UTC),
                    engage_at=engage.astimezone(UTC) if engage else None,
                    engage_at_local=engage.astimezone(ZoneInfo(local.timezone)) if engage else None,
                    local=local,
                ),
                source=SOURCE,
                time=now,
                subject=state.incident_id,
                event_id=stable_id("check", state.incident_id, check.layer.value),
            )
        )
    due = details.ack_due(view, obj, state.category, state.priority, state.opened_at)
    # every party asked to do something is chased: the owners, and the checkers too (nobody
    # being obliged to check the neighbouring layer is the seed's complaint) — a checker of a
    # dependent outside its own support hours from when they open (ContractView.engaged_at)
    ack_due: dict[str, datetime] = {}
    if due is not None:
        ack_due = dict.fromkeys((state.primary, state.coordinator), due)
        for check in checks:
            engage = view.engaged_at(check.object_id, check.relation, state.opened_at)
            when = (
                details.ack_due(view, obj, state.category, state.priority, engage)
                if engage is not None
                else due
            )
            if when is not None:
                ack_due[check.party] = min(ack_due.get(check.party, when), when)
    return state.model_copy(update={"checks": checks, "ack_due": ack_due}), events


# --------------------------------------------------------------------------- diagnosis, handover


def _nearest_in_layer(view: ContractView, state: RouteState, layer: Layer) -> str | None:
    return view.nearest_in_layer(state.object_id, layer)


def _handover(
    state: RouteState,
    view: ContractView,
    *,
    layer: Layer,
    object_id: str | None,
    reason: str,
    at: datetime,
    now: datetime,
    cause: object,
) -> tuple[RouteState, list[Envelope]]:
    """Primary ownership moves to ``layer``'s party; the coordinator stays. No event when the
    same party owns the new layer too (only the layer is recorded)."""
    # the owner frozen in the route; this version's for a route stored before owners were
    # frozen; nobody for a layer without an owner (no handover)
    to_party = view.owner_of(layer, state.owners)
    if to_party is None:
        return state, []
    moved = state.model_copy(
        update={"primary": to_party, "primary_layer": layer, "primary_object": object_id}
    )
    if to_party == state.primary:
        return moved, []
    obj = view.object(object_id) if object_id else None
    handover = make_event(
        HandoverV2(
            from_party=state.primary,
            to_party=to_party,
            from_layer=state.primary_layer,
            to_layer=layer,
            object_id=object_id,
            reason=reason,
            coordinator=state.coordinator,
            at=at,
            local=details.local_instant(view, object_id, at),
        ),
        source=SOURCE,
        time=now,
        subject=state.incident_id,
        event_id=stable_id("handover", cause),
    )
    assignment = _assignment(
        moved,
        view,
        party=to_party,
        role=AssignmentRole.PRIMARY,
        layer=layer,
        obj=obj,
        at=at,
        now=now,
        event_id=("assignment", cause, to_party),
    )
    ack_due = dict(moved.ack_due)
    if to_party not in moved.acknowledged and to_party not in moved.backup_called:
        due = details.ack_due(view, obj, moved.category, moved.priority, at)
        if due is not None:
            ack_due.setdefault(to_party, due)
    return moved.model_copy(update={"ack_due": ack_due}), [handover, assignment]


def on_action(
    state: RouteState, event: Envelope, view: ContractView, now: datetime
) -> tuple[RouteState, list[Envelope]]:
    """An accepted party action: acknowledgements stop the backup timer; a diagnosis closes
    the check of its layer and, when it finds the fault in another layer, hands over."""
    action = event.data
    assert isinstance(action, IncidentActionAcceptedV3)
    events: list[Envelope] = []
    if action.action in TAKES_INTO_WORK and action.party not in state.acknowledged:
        state = state.model_copy(
            update={
                "acknowledged": [*state.acknowledged, action.party],
                "ack_due": {p: d for p, d in state.ack_due.items() if p != action.party},
            }
        )
    if action.action == ActionKind.RESTORED:
        state = state.model_copy(update={"ack_due": {}})
    if action.action == ActionKind.REROUTE:
        return reroute(state, event, view, now)
    if action.action != ActionKind.DIAGNOSIS or action.layer is None or action.fault_found is None:
        return state, events
    layer, found = action.layer, action.fault_found
    who = f"{action.party}:{action.actor}"
    index = next(
        (i for i, c in enumerate(state.checks) if c.layer == layer and c.fault_found is None),
        None,
    )
    object_id = None
    if index is not None:
        check = state.checks[index]
        object_id = check.object_id
        checks = list(state.checks)
        checks[index] = check.model_copy(update={"fault_found": found, "reported_by": who})
        state = state.model_copy(update={"checks": checks})
    elif layer == state.primary_layer:
        object_id = state.primary_object
    events.append(
        make_event(
            CheckClosedV1(
                party=action.party,
                layer=layer,
                object_id=object_id,
                fault_found=found,
                reported_by=who,
                at=action.at,
            ),
            source=SOURCE,
            time=now,
            subject=state.incident_id,
            event_id=stable_id("check-closed", event.id),
        )
    )
    if found:
        faulty = object_id or _nearest_in_layer(view, state, layer)
        state, case = _vendor_case(state, view, object_id=faulty, who=who, at=action.at, now=now)
        events.extend(case)
    if handover_layer(action, state.primary_layer) is not None:
        target = object_id or _nearest_in_layer(view, state, layer)
        where = f"{layer.value} ({target})" if target else layer.value
        state, moved = _handover(
            state,
            view,
            layer=layer,
            object_id=target,
            reason=f"diagnosis by {who}: fault found in {where}",
            at=action.at,
            now=now,
            cause=event.id,
        )
        events.extend(moved)
    return state, events


def reroute(
    state: RouteState, event: Envelope, view: ContractView, now: datetime
) -> tuple[RouteState, list[Envelope]]:
    """The coordinator's explicit re-route: the contract in force now replaces the layer owners
    frozen when the incident opened; the current layer's owner takes over if it changed. The
    coordinator stays."""
    action = event.data
    assert isinstance(action, IncidentActionAcceptedV3)
    owners = _owners(view)
    state = state.model_copy(
        update={
            "owners": owners,
            "contract_version": view.version,
            "policy": repolicy(state, view, state.category, state.priority, owners),
        }
    )
    if state.primary_layer is None:  # outside the perimeter: the coordinator keeps it
        return state, []
    # an object the version in force puts in another layer goes to that layer's owner
    moved = view.object(state.primary_object) if state.primary_object else None
    return _handover(
        state,
        view,
        layer=moved.layer if moved is not None else state.primary_layer,
        object_id=state.primary_object,
        reason=f"re-routed under contract {view.version}: {action.note}",
        at=action.at,
        now=now,
        cause=event.id,
    )


def _vendor_case(
    state: RouteState,
    view: ContractView,
    *,
    object_id: str | None,
    who: str,
    at: datetime,
    now: datetime,
) -> tuple[RouteState, list[Envelope]]:
    """A fault in an object with a vendor: the party that opens that vendor's cases gets a
    task, once per incident, vendor and object."""
    obj = view.object(object_id) if object_id else None
    vendor = view.contract.parties.get(obj.vendor) if obj is not None and obj.vendor else None
    if obj is None or obj.vendor is None or vendor is None or vendor.vendor_handling is None:
        return state, []
    key = f"{obj.vendor}/{obj.id}"
    if key in state.vendor_cases:
        return state, []
    handling = vendor.vendor_handling
    event = make_event(
        VendorCaseOpenedV2(
            party=handling.opens_cases,
            vendor=obj.vendor,
            vendor_name=vendor.name,
            vendor_contact=vendor.contact,
            object_id=obj.id,
            product=obj.product,
            version=obj.version,
            collects_logs=handling.collects_logs,
            correspondence=handling.correspondence,
            decides_fixes=handling.decides_fixes,
            support_contract=handling.support_contract,
            reason=f"diagnosis by {who}: fault found in {obj.id} ({obj.product or vendor.name})",
            coordinator=state.coordinator,
            at=at,
            local=details.local_instant(view, obj.id, at),
        ),
        source=SOURCE,
        time=now,
        subject=state.incident_id,
        event_id=stable_id("vendor-case", state.incident_id, obj.vendor, obj.id),
    )
    return state.model_copy(update={"vendor_cases": [*state.vendor_cases, key]}), [event]


def on_origin_moved(
    state: RouteState, event: Envelope, view: ContractView, now: datetime
) -> tuple[RouteState, list[Envelope]]:
    """Intake moved the probable origin to another object: its layer's party takes over."""
    data = event.data_as(OriginMovedV1)
    state = state.model_copy(update={"origin": data.to_object})
    layer = handover_layer(data, state.primary_layer)
    if layer is None:
        return state, []
    return _handover(
        state,
        view,
        layer=layer,
        object_id=data.to_object,
        reason=f"alert {data.fingerprint} moved the probable origin to {data.to_object}",
        at=data.moved_at,
        now=now,
        cause=event.id,
    )


def on_reclassified(state: RouteState, event: Envelope, view: ContractView) -> RouteState:
    """A recorded reclassification (by a party, or because the origin moved): the incident's
    priority and category change, and its policy is taken again under the contract in force
    (as sla-clock re-pins). Its deadlines are not computed here: sla-clock replays the clocks
    (pauses kept) and publishes the result, which ``on_recomputed`` takes and re-issues."""
    data = event.data_as(IncidentReclassifiedV1)
    policy = repolicy(state, view, data.category, data.priority, state.owners)
    return state.model_copy(
        update={
            "priority": data.priority,
            "category": data.category,
            "policy": policy,
            "contract_version": view.version,
        }
    )


def repolicy(
    state: RouteState,
    view: ContractView,
    category: Category,
    priority: str,
    owners: dict[Layer, str],
) -> IncidentPolicy:
    """The incident's policy taken again under ``view``'s version (a reclassification or a
    re-route, the only changes that re-pin it; ADR 37)."""
    return incident_policy(
        view,
        object_id=state.origin or state.object_id,
        category=category,
        priority=priority,
        opened_at=state.opened_at,
        first_alert_at=state.first_alert_at,
        owners=owners or None,
    )


def on_recomputed(
    state: RouteState, event: Envelope, view: ContractView, now: datetime
) -> tuple[RouteState, list[Envelope]]:
    """sla-clock moved a clock's deadline (the origin moved, the incident was reclassified):
    the route takes the deadline sla-clock enforces and the owner gets its assignment again
    with it, so no party is measured against a deadline it was not told (issue 23)."""
    data = event.data_as(SlaClockRecomputedV1)
    old = state.deadlines
    if state.closed or old is None or data.deadline is None:
        return state, []
    deadline = data.deadline.astimezone(UTC)
    if data.clock == ClockKind.RESPONSE:
        update = {"response_target": data.target, "response_due": deadline}
    else:
        update = {"recovery_target": data.target, "recovery_due": deadline}
    new = old.model_copy(update={**update, "calendar": data.calendar})
    if new == old:
        return state, []
    state = state.model_copy(update={"deadlines": new})
    obj = view.object(state.primary_object) if state.primary_object else None
    assignment = _assignment(
        state,
        view,
        party=state.primary,
        role=AssignmentRole.PRIMARY,
        layer=state.primary_layer,
        obj=obj,
        at=data.recomputed_at,
        now=now,
        event_id=("assignment", event.id, state.primary),
    )
    return state, [assignment]


def on_closed(state: RouteState) -> RouteState:
    return state.model_copy(update={"closed": True, "ack_due": {}})
