"""Access requests: the contract's access rules as actions (ADR 49).

The rules this module implements, as the contract's ``access_rules`` state them:

- **Who asks.** The incident's primary owner or a party with a check on it asks for access to an
  object of the incident under that object's rule (``request_access``: rule, what for, how long),
  while the incident is worked on (open or acknowledged). Baton records the request with the
  rule as it stands in the contract: its issuer, lead time, and whether the work needs approval
  *at this hour* — after hours in the object's period calendar (its zone and holidays) for a
  rule with ``after_hours_approval`` — and by whom.
- **Who answers.** ``grant``/``deny`` are the rule's ``issued_by`` contact's only; ``approve``/
  ``reject`` its ``approver``'s only, and only where approval is needed. A party token speaks
  for a party, so the contact is the actor: the actor names the contact (its id, its
  name; a signed link's actor is the contact id followed by ``(link)``).
  A grant waits for the approval where one is needed (the issuer does not open what the
  approver has not allowed). Each step is taken once: approving twice, granting a denied
  request, answering a closed one — each refused with the reason (409).
- **Break glass.** ``emergency_access`` runs the rule's ``emergency`` procedure at once, without
  prior approval, where the rule has one; it records who invoked it and why, and tells the
  approver and the issuer (the customer's security contact in the example) at once.
- **Every step is an event**, ``baton.incident.access_request``: the whole request after the
  step, with ``tell`` naming the contacts it is for. sla-clock reads it to pause the recovery
  clock when the lead time passes unanswered and to resume it at the answer; reporting lists it.

Pure functions of (state, command, the incident's contract view): the commands consumer moves
data in and out.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict

from intake.actions import WORKING, Part, apply_action, standing, verdict
from intake.incidents import Answered, IncidentState, Refused, heard, recorded
from intake.pause_answers import apply_pause_answer
from shared.contract.view import ContractView
from shared.events import (
    AccessActionV1,
    AccessRefusedV1,
    AccessRequestV1,
    AccessStatus,
    AccessStep,
    Envelope,
    PartyActionV2,
    PauseAnswerV1,
    stable_id,
)

ASKERS = {Part.PRIMARY, Part.CHECK}
CLOSED = {AccessStatus.DENIED, AccessStatus.REJECTED, AccessStatus.EMERGENCY}


def request_id_for(command: Envelope) -> str:
    return f"acc-{stable_id('access-request', command.id).hex[:12]}"


def speaks_for(action: AccessActionV1, ref: str | None, view: ContractView) -> bool:
    """Whether ``action`` is taken by the contact ``ref`` (``party/contact``)."""
    if ref is None:
        return False
    party_id, _, contact_id = ref.partition("/")
    if action.party != party_id:
        return False
    found = view.contract.contact(ref)
    names = {contact_id} | ({found[1].name} if found else set())
    actor = action.actor.strip()
    return actor in names or actor.startswith(f"{contact_id} (")


def objects_of(incident: IncidentState) -> list[str]:
    return [o for o in dict.fromkeys([incident.object_id, incident.origin, *incident.objects]) if o]


def _object_for(action: AccessActionV1, incident: IncidentState, view: ContractView) -> str:
    """The incident's object the request is for: ``object_id`` or the first under ``rule``."""
    if action.rule is None:
        raise Refused("rule: name the access rule")
    if action.rule not in view.contract.access_rules:
        known = ", ".join(sorted(view.contract.access_rules)) or "none"
        raise Refused(f"rule: {action.rule!r} is not in the contract ({known})")
    objects = objects_of(incident)
    if action.object_id is not None and action.object_id not in objects:
        raise Refused(f"object_id: {action.object_id!r} is not an object of {incident.id}")
    candidates = [action.object_id] if action.object_id else objects
    for object_id in candidates:
        obj = view.object(object_id)
        if obj is not None and obj.access == action.rule:
            return object_id
    where = action.object_id or ", ".join(objects) or "no object"
    raise Refused(f"rule: {action.rule!r} is not the access rule of {where}")


def _asker(action: AccessActionV1, incident: IncidentState, view: ContractView) -> None:
    parts = standing(action.party, incident, view)
    if not parts.keys() & ASKERS:
        as_what = ", ".join(p.value for p in parts) or "not assigned"
        raise Refused(
            f"party: {action.party} ({as_what}) may not {action.action.value} on"
            f" {incident.id}: the primary owner or a check party asks",
            forbidden=True,
        )
    if incident.status not in WORKING:
        raise Refused(f"cannot {action.action.value}: the incident is {incident.status.value}")


class _Step(TypedDict):
    """The step a request stands after: which, when, by whom (``party:actor``), which command."""

    step: AccessStep
    at: datetime
    by: str
    command_id: uuid.UUID


def _step(command: Envelope, action: AccessActionV1, when: datetime) -> _Step:
    by = f"{action.party}:{action.actor}"
    return {"step": action.action, "at": when, "by": by, "command_id": command.id}


ASKED = {"purpose", "duration", "reason"}
"""What a new request records of the asker's words, as it gave them."""
TERMS = {"mode", "issued_by", "lead_time"}
"""What a new request records of its access rule, as the contract states it then."""


def _opened(
    command: Envelope, incident: IncidentState, view: ContractView, when: datetime
) -> AccessRequestV1:
    """A new request (or break glass) from ``request_access``/``emergency_access``."""
    action = command.data
    assert isinstance(action, AccessActionV1)
    _asker(action, incident, view)
    object_id = _object_for(action, incident, view)
    found = view.access(object_id, when)
    assert found is not None  # _object_for checked the rule
    rule = found.rule
    emergency = action.action == AccessStep.EMERGENCY
    if emergency and not rule.emergency.strip():
        raise Refused(f"rule: {found.rule_id} has no emergency procedure")
    if emergency and not action.reason.strip():
        raise Refused("reason: break glass records why")
    approver = rule.approver if found.needs_approval else None
    if emergency:
        tell = [r for r in dict.fromkeys([rule.approver, rule.issued_by]) if r]
    else:
        tell = [r for r in (rule.issued_by, approver) if r]
    step = _step(command, action, when)
    return AccessRequestV1(
        **step,
        request_id=request_id_for(command),
        status=AccessStatus.EMERGENCY if emergency else AccessStatus.REQUESTED,
        requested_by=step["by"],
        requested_at=when,
        **action.model_dump(include=ASKED),
        rule=found.rule_id,
        object_id=object_id,
        **rule.model_dump(include=TERMS),
        due_at=found.ready_by,
        after_hours=found.after_hours,
        needs_approval=found.needs_approval and not emergency,
        approver=approver,
        emergency=rule.emergency if emergency else "",
        tell=tell,
    )


def _answered(
    command: Envelope, incident: IncidentState, view: ContractView, when: datetime
) -> AccessRequestV1:
    """The request after a grant, deny, approve or reject."""
    action = command.data
    assert isinstance(action, AccessActionV1)
    request = incident.access.get(action.request_id or "")
    if request is None:
        raise Refused(f"request_id: no access request {action.request_id!r} on {incident.id}")
    step, at, who = action.action, when, f"{action.party}:{action.actor}"
    issuer_steps = {AccessStep.GRANT, AccessStep.DENY}
    owner = request.issued_by if step in issuer_steps else request.approver
    if step not in issuer_steps and not request.needs_approval:
        raise Refused(f"{step.value}: request {request.request_id} needs no approval")
    if not speaks_for(action, owner, view):
        role = "issuer" if step in issuer_steps else "approver"
        raise Refused(
            f"party: only the rule's {role} {owner} may {step.value} request"
            f" {request.request_id}, not {who}",
            forbidden=True,
        )
    if request.status in CLOSED:
        raise Refused(f"{step.value}: request {request.request_id} is {request.status.value}")
    if step in (AccessStep.DENY, AccessStep.REJECT) and not action.reason.strip():
        raise Refused(f"reason: a {step.value} records its reason")
    done = request.granted_at if step in issuer_steps else request.approved_at
    if done is not None:
        raise Refused(f"{step.value}: request {request.request_id} is already answered")
    base = request.model_copy(update=_step(command, action, when))
    if step == AccessStep.APPROVE:
        return base.model_copy(
            update={
                "status": AccessStatus.APPROVED,
                "approved_at": at,
                "approved_by": who,
                "tell": [request.issued_by],  # the issuer may grant now
            }
        )
    if step == AccessStep.GRANT:
        if request.waiting_for == "approval":
            raise Refused(
                f"grant: request {request.request_id} waits for approval by {request.approver}"
            )
        return base.model_copy(
            update={"status": AccessStatus.GRANTED, "granted_at": at, "granted_by": who, "tell": []}
        )
    closed = AccessStatus.DENIED if step == AccessStep.DENY else AccessStatus.REJECTED
    return base.model_copy(
        update={
            "status": closed,
            "closed_at": at,
            "closed_by": who,
            "reason": action.reason,
            "tell": [],
        }
    )


def decide(
    command: Envelope, incident: IncidentState, view: ContractView, when: datetime
) -> AccessRequestV1:
    """The request after ``command``'s step taken at ``when``, or ``Refused`` naming why not."""
    action = command.data
    assert isinstance(action, AccessActionV1)
    if action.party not in view.contract.parties:
        raise Refused(
            f"party: {action.party!r} is not a party of contract {view.contract.id}", forbidden=True
        )
    if action.action in (AccessStep.REQUEST, AccessStep.EMERGENCY):
        return _opened(command, incident, view, when)
    return _answered(command, incident, view, when)


def apply_access(
    command: Envelope,
    incident: IncidentState,
    view: ContractView,
    now: datetime,
    accepted_at: datetime | None = None,
) -> Answered:
    """Apply one access step: the new state, the events, and the verdict (202, 403, 409).

    The step happened when intake accepted it (``accepted_at``, else ``now``), as every action
    (ADR 34): an inbox writer's own command time never dates a request or its lead time."""
    action = command.data
    assert isinstance(action, AccessActionV1)
    when = accepted_at or now
    try:
        request = decide(command, incident, view, when)
    except Refused as refusal:
        refused = AccessRefusedV1(
            **heard(command, when),
            action=action.action,
            request_id=action.request_id,
            reason=refusal.reason,
        )
        return incident, [recorded(refused, "refused", command, incident, now)], refusal.answer
    who = f"{action.party}:{action.actor}"
    participants = incident.participants + ([who] if who not in incident.participants else [])
    state = incident.model_copy(
        update={
            "access": {**incident.access, request.request_id: request},
            "participants": participants,
        }
    )
    return state, [recorded(request, "access", command, incident, now)], (202, "")


def apply_command(
    command: Envelope,
    incident: IncidentState,
    view: ContractView,
    now: datetime,
    accepted_at: datetime | None = None,
) -> Answered:
    """A command of either kind on ``incident``: the new state, its events and the verdict."""
    action = command.data
    if isinstance(action, AccessActionV1):
        return apply_access(command, incident, view, now, accepted_at)
    if isinstance(action, PauseAnswerV1):
        return apply_pause_answer(command, incident, view, now, accepted_at)
    assert isinstance(action, PartyActionV2)
    answer = verdict(action, incident, view)
    state, out = apply_action(command, incident, view, now, accepted_at)
    return state, out, answer
