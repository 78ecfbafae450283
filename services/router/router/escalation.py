"""Escalation and delivery rules: pure functions of (route state, one SLA or overdue event, the
incident's policy, now), as ``routing``'s are.

An SLA warning or breach, an overdue update and an unanswered assignment (the backup call) each
escalate to the contract's levels that name them, once per level (``RouteState.levels_fired``);
``recipients`` says who is told of an event and ``on_delivery_failed`` what a failed push does.
Every output id derives from the input (``stable_id``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from router import details
from router.routing import SOURCE, RouteState, on_recomputed, repolicy
from shared.contract.model import EscalationTrigger
from shared.contract.policy import LevelPolicy
from shared.contract.view import ContractView
from shared.events import (
    AssignmentEscalatedV3,
    AssignmentIssuedV3,
    CheckClosedV1,
    CheckOpenedV2,
    ClockKind,
    Envelope,
    EscalationReason,
    HandoverV2,
    LocalInstant,
    ProblemClosedV1,
    ProblemCloseRefusedV1,
    ProblemLinkedV1,
    ProblemOpenedV1,
    SlaBreachedV1,
    SlaClockRecomputedV1,
    SlaOverdueV1,
    SlaWarningV1,
    UpdateOverdueV1,
    VendorCaseOpenedV2,
    make_event,
    stable_id,
)

# --------------------------------------------------------------------------- escalation


def on_sla(
    state: RouteState, event: Envelope, view: ContractView, now: datetime
) -> tuple[RouteState, list[Envelope]]:
    """An SLA warning, breach or overdue level fires every escalation level of that clock
    whose threshold it reached and that has not fired yet; each level fires once per incident
    (its id is ``stable_id("escalation", incident, level)``). Levels at 0 are the first line:
    the assignments themselves reach them; levels past the target (``at`` above 1) hear of
    ``SlaOverdueV1`` and are told as breaches. A late customer update goes to the levels that
    name it (``on_update_overdue``)."""
    data = event.data
    if isinstance(data, SlaWarningV1):
        clock, percent, reason = data.clock, data.threshold, EscalationReason.SLA_WARNING
    elif isinstance(data, SlaBreachedV1):
        clock, percent, reason = data.clock, 100, EscalationReason.SLA_BREACHED
    elif isinstance(data, SlaOverdueV1):
        clock, percent, reason = data.clock, data.threshold, EscalationReason.SLA_BREACHED
    elif isinstance(data, SlaClockRecomputedV1):
        return on_recomputed(state, event, view, now)
    elif isinstance(data, UpdateOverdueV1):
        return on_update_overdue(state, event, view, now)
    else:
        raise TypeError(f"type: {event.type.value} is not an SLA warning, breach or overdue")
    if state.closed:
        return state, []
    return _escalate(
        state,
        view,
        clock=clock,
        percent=percent,
        reason=reason,
        detected_at=data.detected_at,
        now=now,
    )


def _escalate(
    state: RouteState,
    view: ContractView,
    *,
    clock: ClockKind,
    percent: int,
    reason: EscalationReason,
    detected_at: datetime,
    now: datetime,
) -> tuple[RouteState, list[Envelope]]:
    events = []
    fired = list(state.escalated)
    # the incident's own levels and contacts (its policy snapshot), not the version in force
    policy = state.policy or repolicy(state, view, state.category, state.priority, {})
    for level in policy.levels:
        fraction = level.at.get(clock)
        if fraction is None or fraction <= 0 or fraction * 100 > percent + 1e-9:
            continue
        if level.level in fired:
            continue
        fired.append(level.level)
        events.append(
            _level_fired(
                state,
                view,
                level,
                reason=reason,
                detected_at=detected_at,
                now=now,
                event_id=stable_id("escalation", state.incident_id, level.level),
                clock=clock,
                threshold=percent,
            )
        )
    return state.model_copy(update={"escalated": fired}), events


def on_update_overdue(
    state: RouteState, event: Envelope, view: ContractView, now: datetime
) -> tuple[RouteState, list[Envelope]]:
    """The customer's update was not given by its due instant (sla-clock, ADR 47): every level
    of the incident's policy that names ``update_overdue`` is told, for each late update (its
    id follows from the overdue event's, which sla-clock fires once per due update). Unlike a
    clock's threshold, which fires a level once per incident, each late update is news: the
    customer waits again. The clock levels' record (``escalated``) is not touched (ADR 54)."""
    data = event.data_as(UpdateOverdueV1)
    if state.closed:
        return state, []
    policy = state.policy or repolicy(state, view, state.category, state.priority, {})
    events = [
        _level_fired(
            state,
            view,
            level,
            reason=EscalationReason.UPDATE_OVERDUE,
            detected_at=data.detected_at,
            now=now,
            event_id=stable_id("update-escalation", event.id, level.level),
            update_due=data.due,
        )
        for level in policy.levels
        if EscalationTrigger.UPDATE_OVERDUE in level.triggers
    ]
    return state, events


def _level_fired(
    state: RouteState,
    view: ContractView,
    level: LevelPolicy,
    *,
    reason: EscalationReason,
    detected_at: datetime,
    now: datetime,
    event_id: uuid.UUID,
    clock: ClockKind | None = None,
    threshold: int | None = None,
    update_due: datetime | None = None,
) -> Envelope:
    """The event of ``level`` of the incident's policy firing: its contacts and emergency
    approvers told, the coordinator copied, the instant also on the object's wall clock."""
    return _on_incident(
        state,
        AssignmentEscalatedV3(
            reason=reason,
            level=level.level,
            name=level.name,
            clock=clock,
            threshold=threshold,
            update_due=update_due,
            contacts=list(level.contacts),
            emergency_approvers=list(level.emergency_approvers),
            coordinator=state.coordinator,
            detected_at=detected_at,
            local=_local(view, state, detected_at),
        ),
        now,
        event_id,
    )


def _on_incident(
    state: RouteState, data: AssignmentEscalatedV3, now: datetime, event_id: uuid.UUID
) -> Envelope:
    """``data`` as the router's event on the incident of ``state``."""
    return make_event(data, source=SOURCE, time=now, subject=state.incident_id, event_id=event_id)


def _local(view: ContractView, state: RouteState, at: datetime) -> LocalInstant:
    """An escalation's instant on the wall clock of the object its primary works on."""
    return details.local_instant(view, state.primary_object or state.object_id, at)


def on_ack_overdue(
    state: RouteState, party: str, view: ContractView, now: datetime
) -> tuple[RouteState, list[Envelope]]:
    """``party`` did not take its assignment in time: call its backup contacts, once."""
    if state.closed or party in state.acknowledged or party in state.backup_called:
        return state.model_copy(
            update={"ack_due": {p: d for p, d in state.ack_due.items() if p != party}}
        ), []
    name = view.contract.parties[party].name if party in view.contract.parties else party
    event = _on_incident(
        state,
        AssignmentEscalatedV3(
            reason=EscalationReason.UNACKNOWLEDGED,
            level=None,
            name=f"backup contacts of {name}",
            party=party,
            contacts=details.backups(view, party),
            coordinator=state.coordinator,
            detected_at=now,
            local=_local(view, state, now),
        ),
        now,
        stable_id("backup", state.incident_id, party),
    )
    return state.model_copy(
        update={
            "backup_called": [*state.backup_called, party],
            "ack_due": {p: d for p, d in state.ack_due.items() if p != party},
        }
    ), [event]


# --------------------------------------------------------------------------- delivery


def recipients(event: Envelope, coordinator: str) -> list[str]:
    """The parties whose own topic receives ``event``: its addressee(s) and the coordinator."""
    data = event.data
    found: list[str] = []
    if isinstance(data, AssignmentIssuedV3 | CheckOpenedV2 | CheckClosedV1):
        found.append(data.party)
    elif isinstance(data, HandoverV2):
        found.extend((data.from_party, data.to_party))
    elif isinstance(data, VendorCaseOpenedV2):
        found.extend((data.party, data.collects_logs, data.correspondence, data.decides_fixes))
    elif isinstance(data, AssignmentEscalatedV3):
        found.extend(c.party for c in [*data.contacts, *data.emergency_approvers])
        if data.party:
            found.append(data.party)
    elif isinstance(
        data, ProblemOpenedV1 | ProblemLinkedV1 | ProblemClosedV1 | ProblemCloseRefusedV1
    ):
        found.append(data.owner)  # a problem record's owner (ADR 48)
    found.append(coordinator)
    return list(dict.fromkeys(found))


def on_delivery_failed(
    state: RouteState,
    view: ContractView,
    *,
    party: str,
    event_id: object,
    reason: str,
    now: datetime,
) -> tuple[RouteState, list[Envelope]]:
    """A push to ``party``'s endpoint failed for good: the coordinator is told (over Kafka)."""
    on_duty = details.on_duty(view, state.coordinator, now)
    event = make_event(
        AssignmentEscalatedV3(
            reason=EscalationReason.DELIVERY_FAILED,
            level=None,
            name=f"push to {party} failed: {reason}",
            party=party,
            contacts=[on_duty] if on_duty else [],
            coordinator=state.coordinator,
            detected_at=now,
            local=_local(view, state, now),
        ),
        source=SOURCE,
        time=now,
        subject=state.incident_id,
        event_id=stable_id("delivery-failed", event_id, party),
    )
    return state, [event]
