"""The action state machine: what a party may do to an incident, and what it does.

Pure functions of (action, incident, view, now), the view the incident is judged by handed in by
the caller: ``verdict`` answers the HTTP request before the command is written, ``apply_action``
applies it in the commands consumer (a refused action is recorded as an event too); ``standing``
and ``check_standing`` answer who may act on which incident. The incident state they act on is
``intake.incidents``; the alert path is ``intake.decide``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from intake.incidents import IncidentState, Refused, heard, recorded
from shared.contract.model import PauseReason
from shared.contract.view import ContractView
from shared.events import (
    AccessActionV1,
    ActionKind,
    ClockKind,
    Envelope,
    IncidentActionAcceptedV3,
    IncidentActionRefusedV3,
    IncidentClosedV1,
    IncidentReclassifiedV1,
    IncidentStatus,
    Layer,
    Model,
    PartyActionV2,
    PauseAnswerV1,
)

WORKING = {IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED}
# action -> (statuses it is allowed in, status after it; None = unchanged)
_NEXT: dict[ActionKind, tuple[set[IncidentStatus], IncidentStatus | None]] = {
    ActionKind.ACKNOWLEDGE: (WORKING, IncidentStatus.ACKNOWLEDGED),
    ActionKind.DIAGNOSIS: (WORKING, None),
    ActionKind.PAUSE: (WORKING, None),
    ActionKind.RESUME: (WORKING, None),
    ActionKind.RESTORED: (WORKING, IncidentStatus.RESTORED),
    ActionKind.CONFIRM: ({IncidentStatus.RESTORED}, IncidentStatus.CLOSED),
    ActionKind.REJECT: ({IncidentStatus.RESTORED}, IncidentStatus.ACKNOWLEDGED),
    ActionKind.REOPEN: ({IncidentStatus.CLOSED}, IncidentStatus.ACKNOWLEDGED),
    ActionKind.RECLASSIFY: (
        {IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESTORED},
        None,
    ),
    ActionKind.REROUTE: (WORKING, None),
    ActionKind.NOTE: (
        {IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESTORED},
        None,
    ),
    # the customer hears from the coordinator until it confirms (ADR 47)
    ActionKind.UPDATE: (
        {IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESTORED},
        None,
    ),
}
CUSTOMER_ONLY = {ActionKind.CONFIRM, ActionKind.REJECT}
PROVIDER_ONLY = {ActionKind.ACKNOWLEDGE, ActionKind.DIAGNOSIS, ActionKind.RESTORED}


def running_clocks(incident: IncidentState) -> set[ClockKind]:
    """Clocks not yet stopped by their action: response until acknowledged, recovery until
    restored."""
    if incident.status == IncidentStatus.OPEN:
        return {ClockKind.RESPONSE, ClockKind.RECOVERY}
    return {ClockKind.RECOVERY} if incident.status == IncidentStatus.ACKNOWLEDGED else set()


MIN_EVIDENCE = 3
"""Letters or digits a piece of evidence has at least: "." is not a reference nor a time."""


def pause_reason(view: ContractView, reason_id: str | None) -> PauseReason:
    """The contract's pause reason ``reason_id``, or ``Refused`` naming the ones it has."""
    reason = next((r for r in view.contract.pause_reasons if r.id == reason_id), None)
    if reason is None:
        known = ", ".join(r.id for r in view.contract.pause_reasons) or "none"
        raise Refused(f"pause_reason: {reason_id!r} is not in the contract ({known})")
    return reason


def pause_clocks(
    action: PartyActionV2, incident: IncidentState, view: ContractView
) -> set[ClockKind]:
    """The clocks a pause or resume applies to, or ``Refused`` naming why not."""
    reason = pause_reason(view, action.pause_reason)
    clocks = {action.clock} if action.clock else set(reason.clocks)
    if not clocks <= set(reason.clocks):
        raise Refused(f"clock: {reason.id} does not pause the {action.clock} clock")
    if action.action == ActionKind.PAUSE:
        if reason.invoked_by and action.party not in reason.invoked_by:
            raise Refused(f"party: {action.party} may not invoke {reason.id}", forbidden=True)
        stopped = clocks - running_clocks(incident)
        if stopped:
            raise Refused(f"clock: {', '.join(sorted(stopped))} already stopped")
        already = {c for c in clocks if c in incident.paused}
        if already:
            raise Refused(f"clock: {', '.join(sorted(already))} already paused")
        given = [e for e in action.evidence if sum(c.isalnum() for c in e) >= MIN_EVIDENCE]
        if len(given) < len(reason.evidence):
            demanded = "; ".join(f"({n}) {e}" for n, e in enumerate(reason.evidence, start=1))
            raise Refused(
                f"evidence: {reason.id} requires {len(reason.evidence)} piece(s), one per item:"
                f" {demanded}; {len(given)} given (each names it in at least {MIN_EVIDENCE}"
                " letters or digits)"
            )
        if reason.id in ACCESS_REASONS and not any(
            rid in item for item in action.evidence for rid in incident.access
        ):
            raise Refused(
                f"evidence: {reason.id} must point at an access request of {incident.id}"
                " (its id in the evidence): request access first (ADR 50)"
            )
    else:
        not_paused = {c for c in clocks if incident.paused.get(c) != reason.id}
        if not_paused:
            raise Refused(f"clock: {', '.join(sorted(not_paused))} not paused for {reason.id}")
    return clocks


ACCESS_REASONS = frozenset({"no-access", "no-approver"})
"""Pause reasons that wait for access: a manual pause with one names an access request."""


class Part(StrEnum):
    """How a party stands in one incident."""

    PRIMARY = "primary owner"
    COORDINATOR = "coordinator"
    CHECK = "check party"
    CUSTOMER = "customer"
    FIRST_LINE = "first line"


_MOVES = {ActionKind.ACKNOWLEDGE, ActionKind.DIAGNOSIS, ActionKind.PAUSE, ActionKind.RESUME}
ROLE_ACTIONS: dict[Part, frozenset[ActionKind]] = {
    Part.PRIMARY: frozenset({*_MOVES, ActionKind.RESTORED, ActionKind.NOTE}),
    Part.COORDINATOR: frozenset(
        {
            *_MOVES,
            ActionKind.RESTORED,
            ActionKind.NOTE,
            ActionKind.RECLASSIFY,
            ActionKind.REROUTE,
            ActionKind.REOPEN,
            ActionKind.UPDATE,
        }
    ),
    Part.CHECK: frozenset({ActionKind.ACKNOWLEDGE, ActionKind.DIAGNOSIS, ActionKind.NOTE}),
    # the desk that accepted the ticket records what users tell it; it owns no work and no
    # clock, so it neither acknowledges nor pauses (ADR 25)
    Part.FIRST_LINE: frozenset({ActionKind.NOTE}),
    Part.CUSTOMER: frozenset(
        {
            ActionKind.CONFIRM,
            ActionKind.REJECT,
            ActionKind.REOPEN,
            ActionKind.PAUSE,
            ActionKind.RESUME,
            ActionKind.NOTE,
            ActionKind.RECLASSIFY,
        }
    ),
}
"""What each part in an incident may do; pause reasons narrow pauses further (``invoked_by``)."""


def standing(party_id: str, incident: IncidentState, view: ContractView) -> dict[Part, set[Layer]]:
    """The parts ``party_id`` has in ``incident`` (a check party: with the layers it checks).

    The same answers the router assigns by, asked of the contract view: the primary owner of
    the incident's layer (and of its probable origin's, and of each layer a diagnosis handed it
    to), the coordinator, the party of each neighbouring layer's check, the customer, and the
    contract's first-line desk (``first_line``, when it is not the coordinator: ADR 25)."""
    parts: dict[Part, set[Layer]] = {}
    party = view.contract.parties.get(party_id)
    if party is not None and party.kind == "customer":
        parts[Part.CUSTOMER] = set()
    if party_id == view.coordinator:
        parts[Part.COORDINATOR] = set()
    elif party is not None and party_id == view.contract.first_line_party:
        parts[Part.FIRST_LINE] = set()
    objects = [o for o in dict.fromkeys((incident.object_id, incident.origin)) if o]
    layers = {incident.layer, *incident.handed_to}
    layers |= {obj.layer for obj in map(view.object, objects) if obj is not None}
    if any(view.primary_for(layer) == party_id for layer in layers):
        parts[Part.PRIMARY] = set()
    checked = {c.layer for o in objects for c in view.checks(o) if c.party == party_id}
    if checked:
        parts[Part.CHECK] = checked
    return parts


def hidden(
    action: PartyActionV2 | AccessActionV1 | PauseAnswerV1,
    incident: IncidentState,
    view: ContractView,
) -> bool:
    """Whether ``incident`` is none of the acting party's business: it has no part in it
    (nor is it the coordinator or the customer). Its action is answered as for an unknown
    incident (404: which ids exist is not disclosed) and recorded apart from the incident's
    timeline, in the dead-letter topic (issue 25)."""
    return not standing(action.party, incident, view)


def check_standing(action: PartyActionV2, incident: IncidentState, view: ContractView) -> None:
    """``Refused`` (forbidden) unless the acting party is assigned to ``incident`` in a part
    that may take ``action`` — a check party only on the layer it checks."""
    if action.action in (ActionKind.RECLASSIFY, ActionKind.REROUTE):
        return  # the coordinator's or the customer's, checked with their reasons below
    parts = standing(action.party, incident, view)
    if not parts:
        raise Refused(
            f"party: {action.party} is not assigned to incident {incident.id}", forbidden=True
        )
    allowed = [p for p in parts if action.action in ROLE_ACTIONS[p]]
    if not allowed:
        as_what = ", ".join(p.value for p in parts)
        raise Refused(
            f"party: {action.party} ({as_what}) may not {action.action.value} this incident",
            forbidden=True,
        )
    diagnosis = action.action == ActionKind.DIAGNOSIS
    if allowed == [Part.CHECK] and diagnosis and action.layer not in parts[Part.CHECK]:
        mine = ", ".join(sorted(layer.value for layer in parts[Part.CHECK]))
        raise Refused(
            f"layer: {action.party} checks {mine} on this incident, not {action.layer}",
            forbidden=True,
        )


MAX_TEXT = 4000
"""Characters of one free text of an action (note, cause, recurrence risk, one action taken,
one piece of evidence): closure reports and timelines print them, and one 400 KB note made its
closure PDF take 20 s (issue 25)."""
MAX_ITEMS = 50
"""Actions taken or pieces of evidence one action lists at most."""


def text_too_long(action: PartyActionV2) -> str | None:
    """Why ``action``'s free text is over the bounds, naming the field, or None."""
    texts = {"note": action.note, "cause": action.cause, "recurrence_risk": action.recurrence_risk}
    for name, items in (("actions_taken", action.actions_taken), ("evidence", action.evidence)):
        if len(items) > MAX_ITEMS:
            return f"{name}: {len(items)} items, at most {MAX_ITEMS}"
        texts |= {f"{name}.{i}": item for i, item in enumerate(items)}
    for name, text in texts.items():
        if len(text) > MAX_TEXT:
            return f"{name}: {len(text)} characters, at most {MAX_TEXT}"
    return None


NOTE_REQUIRED = {
    ActionKind.REROUTE: "note: a re-route records its reason",
    ActionKind.UPDATE: "note: an update carries its text for the customer",  # ADR 47
}


def check_action(
    action: PartyActionV2, incident: IncidentState, view: ContractView
) -> IncidentStatus:
    """The status after ``action``, or ``Refused`` naming why not."""
    if (too_long := text_too_long(action)) is not None:
        raise Refused(too_long)
    party = view.contract.parties.get(action.party)
    if party is None:
        raise Refused(
            f"party: {action.party!r} is not a party of contract {view.contract.id}", forbidden=True
        )
    is_customer = party.kind == "customer"
    if action.action in CUSTOMER_ONLY and not is_customer:
        what = "confirms" if action.action == ActionKind.CONFIRM else "rejects"
        raise Refused(f"only the customer {what} restoration", forbidden=True)
    if action.action in PROVIDER_ONLY and is_customer:
        raise Refused(f"the customer does not {action.action.value} incidents", forbidden=True)
    check_standing(action, incident, view)
    allowed, target = _NEXT[action.action]
    if incident.status not in allowed:
        raise Refused(f"cannot {action.action.value} an incident that is {incident.status.value}")
    if action.action == ActionKind.DIAGNOSIS and (
        action.layer is None or action.fault_found is None
    ):
        raise Refused("layer, fault_found: a diagnosis names the layer and whether it is at fault")
    if action.action in (ActionKind.PAUSE, ActionKind.RESUME):
        pause_clocks(action, incident, view)
    if action.action == ActionKind.RECLASSIFY:
        check_reclassify(action, incident, view, is_customer=is_customer)
    if action.action == ActionKind.REROUTE and action.party != view.contract.coordinator:
        raise Refused("only the coordinator re-routes an incident", forbidden=True)
    if action.action in NOTE_REQUIRED and not action.note.strip():
        raise Refused(NOTE_REQUIRED[action.action])
    if incident.status == IncidentStatus.ACKNOWLEDGED and target == IncidentStatus.ACKNOWLEDGED:
        return incident.status
    return target or incident.status


def check_reclassify(
    action: PartyActionV2, incident: IncidentState, view: ContractView, *, is_customer: bool
) -> None:
    """A recorded override of priority or category: by the coordinator or the customer, with a
    reason, to a priority the contract's matrix knows."""
    if not is_customer and action.party != view.contract.coordinator:
        raise Refused("only the coordinator or the customer reclassifies", forbidden=True)
    if action.priority is None and action.category is None:
        raise Refused("priority, category: a reclassification names at least one")
    if not action.note.strip():
        raise Refused("note: a reclassification records its reason")
    known = {p for row in view.contract.priority_matrix.values() for p in row.values()}
    if action.priority is not None and action.priority not in known:
        raise Refused(f"priority: {action.priority!r} is not in the contract ({sorted(known)})")
    if (action.priority or incident.priority, action.category or incident.category) == (
        incident.priority,
        incident.category,
    ):
        raise Refused("priority, category: the incident already has them")


def action_digest(action: PartyActionV2 | AccessActionV1 | PauseAnswerV1) -> str:
    """What an ``Idempotency-Key`` is bound to: the action's canonical JSON, hashed."""
    return hashlib.sha256(action.model_dump_json().encode()).hexdigest()


def verdict(action: PartyActionV2, incident: IncidentState, view: ContractView) -> tuple[int, str]:
    """The HTTP answer for ``action`` on ``incident``: 202, or 403 (rights) / 409 (state) and
    the reason."""
    try:
        check_action(action, incident, view)
    except Refused as refusal:
        return refusal.answer
    return 202, ""


REPORTED = {"action", "note", "layer", "fault_found", "clock", "pause_reason", "evidence"}
"""What an accepted action's event repeats of the party's report (its other fields change the
incident's state: ``accepted_update``)."""


CLOSURE_REPORT = {"cause", "actions_taken", "recurrence_risk", "participants"}
"""What a closed incident's event carries of its state: what the closure report is written from."""


def apply_action(
    command: Envelope,
    incident: IncidentState,
    view: ContractView,
    now: datetime,
    accepted_at: datetime | None = None,
) -> tuple[IncidentState, list[Envelope]]:
    """Apply a party's action; a refused action is recorded as an event too.

    The action happened when intake accepted it: ``accepted_at`` (intake's HTTP path stamps its
    own time on the command it writes), ``now`` when not given. The command's own ``time`` is
    the writer's to choose — a party's inbox could date an acknowledge before its deadline or a
    pause hours back — so it is kept only as ``claimed_at`` and no clock folds it (ADR 34)."""
    action = command.data
    assert isinstance(action, PartyActionV2)
    at = accepted_at or now
    claimed_at = command.time if command.time != at else None

    def emit(payload: Model, tag: str) -> Envelope:
        return recorded(payload, tag, command, incident, now)

    try:
        status = check_action(action, incident, view)
    except Refused as refusal:
        refused = IncidentActionRefusedV3(
            **heard(command, at), action=action.action, claimed_at=claimed_at, reason=refusal.reason
        )
        return incident, [emit(refused, "refused")]

    who = f"{action.party}:{action.actor}"
    state = incident.model_copy(update=accepted_update(action, incident, view, status))
    accepted = IncidentActionAcceptedV3(
        **heard(command, at), **action.model_dump(include=REPORTED), claimed_at=claimed_at
    )
    events = [emit(accepted, "accepted")]
    if action.action == ActionKind.RECLASSIFY:
        reclassified = IncidentReclassifiedV1(
            priority=state.priority, category=state.category, reason=action.note, by=who
        )
        events.append(emit(reclassified, "reclassified"))
    if status == IncidentStatus.CLOSED:
        closed = IncidentClosedV1(
            closed_at=at, confirmed_by=who, **state.model_dump(include=CLOSURE_REPORT)
        )
        events.append(emit(closed, "closed"))
    return state, events


def accepted_update(
    action: PartyActionV2, incident: IncidentState, view: ContractView, status: IncidentStatus
) -> dict[str, object]:
    """What an accepted ``action`` changes on ``incident`` (``status``: the status after it)."""
    who = f"{action.party}:{action.actor}"
    update: dict[str, object] = {
        "status": status,
        "participants": incident.participants + ([who] if who not in incident.participants else []),
    }
    if (
        action.action == ActionKind.DIAGNOSIS
        and action.fault_found
        and action.layer not in {incident.layer, *incident.handed_to, None}
    ):
        update["handed_to"] = [*incident.handed_to, action.layer]
    if action.action in (ActionKind.PAUSE, ActionKind.RESUME):
        clocks = pause_clocks(action, incident, view)
        paused = dict(incident.paused)
        for clock in clocks:
            if action.action == ActionKind.PAUSE:
                paused[clock] = action.pause_reason or ""
            else:
                paused.pop(clock, None)
        update["paused"] = paused
    elif action.action in (ActionKind.RESTORED, ActionKind.ACKNOWLEDGE):
        # a clock that stops is no longer paused
        update["paused"] = {
            c: r
            for c, r in incident.paused.items()
            if c in running_clocks(incident.model_copy(update={"status": status}))
        }
    if action.action == ActionKind.RECLASSIFY:
        update |= {
            "priority": action.priority or incident.priority,
            "category": action.category or incident.category,
        }
    if action.action == ActionKind.RESTORED:
        update |= {
            "cause": action.cause,
            "actions_taken": action.actions_taken,
            "recurrence_risk": action.recurrence_risk,
        }
    return update
