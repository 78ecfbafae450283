"""Who is told what, over which channel: the router's messages to people, decided purely.

The rules (ADR 0031), for each router event of an incident:

- **Who.** The addressee party's person **on duty at that instant** (its duty calendar,
  ``ContractView.on_duty`` at the event's time; a check names who answers when the checked
  object's hours open, and that person is told) and the party's
  ``contact`` mailbox (ticket systems take e-mail): for an assignment, a check, the old owner
  of a handover, the parties of a vendor case. The named contacts and emergency approvers of an
  escalation level, or the backup contacts of a party that did not acknowledge. The customer's
  person on duty and mailbox when a party reports the service restored (asked to confirm).
  Always the coordinator's person on duty and mailbox, for everything on its incidents.
- **Over what.** One notification per person × channel the contract lists for them whose kind
  has a sender in this deployment (``BATON_NOTIFY_SENDERS``: an Apprise URL template per kind).
  A channel without a sender (a phone without an SMS or voice gateway) is never dropped: the
  coordinator's message of the same event lists it ("call +7 701 300 0102 — QHS duty
  engineer"), so a person can do by hand what the deployment cannot.
- **What.** Plain text: the incident, the object and where it is, the affected unit, what is
  asked of this person, the deadlines and the access rule at this hour on the object's wall
  clock, who else is on it — and one signed, expiring, single-use link per action this
  person's part allows (``shared.links``). Only a person of the acting party gets links.
- **Once.** A notification's id is ``stable_id`` of the event, the person and the channel, so
  a redelivered input, a replay or a repeated alert of the same incident (which produces no new
  router event) writes nothing new; the rows go in the transaction of the route change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from router import details
from router.routing import RouteState
from shared.contract.policy import duty_contact
from shared.contract.view import ContractView
from shared.events import (
    AccessRequestV1,
    AccessStatus,
    AccessStep,
    ActionKind,
    AssignmentEscalatedV3,
    AssignmentIssuedV3,
    AssignmentRole,
    CheckOpenedV2,
    DutyContact,
    Envelope,
    EscalationReason,
    EventType,
    HandoverV2,
    IncidentActionAcceptedV3,
    Layer,
    ProblemClosedV1,
    ProblemCloseRefusedV1,
    ProblemLinkedV1,
    ProblemOpenedV1,
    UpdateDueV1,
    UpdateOverdueV1,
    VendorCaseOpenedV2,
    stable_id,
)
from shared.links import Claims

# channel kinds that are machines, not people: Kafka topics and webhooks have their own paths
MACHINE_CHANNELS = frozenset({"kafka", "http"})
MAILBOX = "mailbox"
HOW = {"phone": "call", "sms": "text", "pager": "page", "messenger": "message", "email": "mail"}

Linker = Callable[[Claims], str]


@dataclass(frozen=True, slots=True)
class Person:
    party: str
    contact: str  # the contact id within the party, or MAILBOX
    name: str
    channels: Mapping[str, str]

    @property
    def ref(self) -> str:
        return f"{self.party}/{self.contact}"


@dataclass(frozen=True, slots=True)
class LinkAction:
    action: ActionKind | None
    label: str
    layer: Layer | None = None
    fault_found: bool | None = None
    step: AccessStep | None = None  # or a step of an access request (ADR 49)
    request: str | None = None


@dataclass(slots=True)
class Ask:
    """What one event asks of one person, and the links that answer it (as ``acts_as``)."""

    person: Person
    asked: str
    acts_as: str | None = None
    actions: tuple[LinkAction, ...] = ()


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to one person over one channel: a row of ``router.notifications``."""

    id: uuid.UUID
    incident_id: str
    event_id: uuid.UUID
    kind: str
    party: str
    recipient: str
    channel: str
    address: str
    subject: str
    body: str
    at: datetime  # when it was asked for: created and first due then


@dataclass(frozen=True, slots=True)
class Links:
    """How links are made: the signer (None: messages carry no links) and how long they last."""

    sign: Linker | None
    ttl: timedelta = timedelta(hours=24)


@dataclass(slots=True)
class _Plan:
    asks: list[Ask] = field(default_factory=list)

    def add(self, ask: Ask) -> None:
        for have in self.asks:
            if have.person.ref == ask.person.ref:
                if ask.actions and not have.actions:  # the part that acts wins
                    have.asked, have.acts_as, have.actions = ask.asked, ask.acts_as, ask.actions
                return
        self.asks.append(ask)


def _person(contact: DutyContact) -> Person:
    return Person(contact.party, contact.contact, contact.name, dict(contact.channels))


def mailbox(view: ContractView, party_id: str) -> Person | None:
    """The party's ``contact`` as a person to mail, when it is a mailbox (not a URL)."""
    party = view.contract.parties.get(party_id)
    if party is None or "@" not in party.contact or "://" in party.contact:
        return None
    return Person(party_id, MAILBOX, f"{party.name} (ticket mailbox)", {"email": party.contact})


def on_duty(view: ContractView, party_id: str, at: datetime) -> Person | None:
    found = details.on_duty(view, party_id, at)
    return _person(found) if found is not None else None


def _party_people(
    view: ContractView, party_id: str, at: datetime, duty: DutyContact | None = None
) -> list[Person]:
    person = _person(duty) if duty is not None else on_duty(view, party_id, at)
    return [p for p in (person, mailbox(view, party_id)) if p is not None]


def _tell_party(
    plan: _Plan,
    view: ContractView,
    party_id: str,
    at: datetime,
    asked: str,
    *,
    actions: tuple[LinkAction, ...] = (),
    duty: DutyContact | None = None,
) -> None:
    for person in _party_people(view, party_id, at, duty):
        plan.add(Ask(person, asked, party_id if actions else None, actions))


ACK = LinkAction(ActionKind.ACKNOWLEDGE, "Acknowledge: I take it")
RESTORED = LinkAction(ActionKind.RESTORED, "Service restored")
CONFIRM = LinkAction(ActionKind.CONFIRM, "Confirm: it works again")
REJECT = LinkAction(ActionKind.REJECT, "Reject: it still does not work")


def _check_actions(layer: Layer) -> tuple[LinkAction, ...]:
    return (
        ACK,
        LinkAction(ActionKind.DIAGNOSIS, f"Check done: no fault in {layer.value}", layer, False),
        LinkAction(ActionKind.DIAGNOSIS, f"Fault found in {layer.value}", layer, True),
    )


ASKED_OF = {
    AssignmentRole.PRIMARY: (
        "You own this incident: acknowledge, restore the service, report it restored.",
        (ACK, RESTORED),
    ),
    AssignmentRole.COORDINATOR: (
        "You coordinate this incident: acknowledge it and follow it to the end.",
        (ACK,),
    ),
}
DESK = ("For your desk: a new incident (the primary owner has it).", ())


def _escalated(plan: _Plan, data: AssignmentEscalatedV3) -> None:
    if data.reason == EscalationReason.UNACKNOWLEDGED and data.party:
        asked = f"{data.party} has not acknowledged its assignment: take it over."
        acts_as: str | None = data.party
    elif data.reason == EscalationReason.UPDATE_OVERDUE and data.update_due is not None:
        zone = data.local.timezone if data.local is not None else "UTC"
        due = data.update_due.astimezone(ZoneInfo(zone))
        asked = (
            f"Escalation level {data.level}: {data.name}. The customer's update from"
            f" {data.coordinator} was due by {_fmt(due)} ({zone}) and was not given."
        )
        acts_as = None
    else:
        asked = f"Escalation level {data.level}: {data.name}."
        acts_as = None
    for contact in data.contacts:
        own = acts_as if contact.party == acts_as else None
        plan.add(Ask(_person(contact), asked, own, (ACK,) if own else ()))
    for contact in data.emergency_approvers:
        plan.add(Ask(_person(contact), asked + " Emergency work may need your approval."))


def _coordination(
    event: Envelope, state: RouteState, view: ContractView
) -> tuple[str, _Plan] | None:
    """What the customer's updates, their cadence and problem records ask of whom (ADR 47,
    48); None for any other event."""
    data, at, plan = event.data, event.time, _Plan()
    if isinstance(data, IncidentActionAcceptedV3) and data.action == ActionKind.UPDATE:
        title = "update from the coordinator"  # the customer hears it (ADR 47)
        asked = f"{data.actor} ({data.party}): {data.note}"
        for party_id, one in view.contract.parties.items():
            if one.kind == "customer":
                _tell_party(plan, view, party_id, at, asked)
    elif isinstance(data, UpdateDueV1 | UpdateOverdueV1):
        local = details.local_instant(view, state.primary_object or state.object_id, data.due)
        due = f"{_fmt(local.at)} ({local.timezone})"
        if isinstance(data, UpdateDueV1):
            title = "customer update due"
            asked = f"The customer's next update is due by {due}: record it as an update."
        else:
            title = "customer update overdue"
            asked = f"No update reached the customer by {due}: give one now, as an update."
        _tell_party(plan, view, data.coordinator, at, asked)
    elif isinstance(data, ProblemOpenedV1 | ProblemLinkedV1):
        if isinstance(data, ProblemOpenedV1):
            title = f"problem {data.problem_id} opened"
            asked = (
                f"Incidents keep recurring on {data.origin_object} ({len(data.incidents)} within"
                f" {data.within.days} days): problem {data.problem_id} is yours. Find the root"
                f" cause and fix it by {_fmt(data.fix_due)} UTC."
            )
        else:
            title = f"problem {data.problem_id}: one more incident"
            asked = (
                f"Incident {data.incident_id} recurs on {data.origin_object}: linked to problem"
                f" {data.problem_id} ({data.incidents} incidents); its root cause is still open."
            )
        _tell_party(plan, view, data.owner, at, asked)
    elif isinstance(data, ProblemClosedV1):
        title = f"problem {data.problem_id} closed"
        changed = "; ".join(data.changed)
        asked = f"Closed by {data.closed_by}. Cause: {data.cause}. Changed: {changed}."
        _tell_party(plan, view, data.owner, at, asked)
    elif isinstance(data, ProblemCloseRefusedV1):
        title = f"problem {data.problem_id} not closed"
        asked = f"{data.party}:{data.actor} asked to close it: refused, {data.reason}."
        _tell_party(plan, view, data.party, at, asked)
    else:
        return None
    _tell_party(plan, view, state.coordinator, at, f"For your information as coordinator: {title}.")
    return title, plan


def _asks(event: Envelope, state: RouteState, view: ContractView) -> tuple[str, _Plan] | None:
    """What ``event`` asks of whom; None for an event that tells no person."""
    if (coordination := _coordination(event, state, view)) is not None:
        return coordination
    data, at, plan = event.data, event.time, _Plan()
    if isinstance(data, AssignmentIssuedV3):
        asked, actions = ASKED_OF.get(data.role, DESK)
        title = f"assignment ({data.role.value})"
        # whoever is on duty now (a handover's assignment comes hours after the opening whose
        # duty contact the payload names)
        _tell_party(plan, view, data.party, at, asked, actions=actions)
    elif isinstance(data, CheckOpenedV2):
        where = data.object_name or data.object_id
        asked = f"Check your layer {data.layer.value} at {where} ({data.relation}) and report."
        if data.engage_at_local is not None:
            asked += f" Its support hours open at {data.engage_at_local:%a %H:%M}."
        title = f"check of {data.layer.value}"
        actions = _check_actions(data.layer)
        _tell_party(plan, view, data.party, at, asked, actions=actions, duty=data.on_duty)
    elif isinstance(data, HandoverV2):
        title = f"handover to {data.to_party}"
        asked = f"The incident moved from {data.from_party} to {data.to_party}: {data.reason}."
        _tell_party(plan, view, data.from_party, at, asked + " You are released from it.")
    elif isinstance(data, VendorCaseOpenedV2):
        title = f"vendor case with {data.vendor_name}"
        asked = (
            f"Open a case with {data.vendor_name} ({data.vendor_contact}) for {data.object_id}:"
            f" {data.reason}. Logs: {data.collects_logs}; correspondence: {data.correspondence};"
            f" fixes decided by {data.decides_fixes}."
        )
        for party in dict.fromkeys((data.party, data.collects_logs, data.correspondence)):
            _tell_party(plan, view, party, at, asked)
    elif isinstance(data, AssignmentEscalatedV3):
        title = f"escalation: {data.name}"
        _escalated(plan, data)
    elif isinstance(data, IncidentActionAcceptedV3) and data.action == ActionKind.RESTORED:
        title = _ask_restored(plan, view, state, data.party, at)
    elif isinstance(data, AccessRequestV1) and data.tell:
        title = _tell_access(plan, view, data)
    else:
        return None
    informed = f"For your information as coordinator: {title}."
    _tell_party(plan, view, state.coordinator, at, informed)
    return title, plan


def contact_person(view: ContractView, ref: str) -> Person | None:
    """The contract contact ``party/contact`` as a person to tell."""
    found = view.contract.contact(ref)
    if found is None:
        return None
    party_id, _, contact_id = ref.partition("/")
    return _person(duty_contact(party_id, contact_id, found[1]))


def _ask_restored(
    plan: _Plan, view: ContractView, state: RouteState, party: str, at: datetime
) -> str:
    """Restored: the completion contact of the object's rule first, then the customer's person
    on duty and mailbox, asked to confirm (confirm and reject links)."""
    asked = f"{party} reports the service restored. Does it work for you again?"
    _ask_completion(plan, view, state, asked)
    for party_id, one in view.contract.parties.items():
        if one.kind == "customer":
            _tell_party(plan, view, party_id, at, asked, actions=(CONFIRM, REJECT))
    return "confirm restoration"


def _ask_completion(plan: _Plan, view: ContractView, state: RouteState, asked: str) -> None:
    """The object's access rule names who confirms completion of work on it: that contact is
    asked first (with the links), with the customer's confirmation of restoration (ADR 51)."""
    object_id = state.primary_object or state.object_id
    obj = view.object(object_id) if object_id else None
    rule = view.contract.access_rules.get(obj.access) if obj and obj.access else None
    ref = rule.confirms_completion if rule else None
    person = contact_person(view, ref) if ref else None
    if obj is None or person is None:
        return
    party = view.contract.parties.get(person.party)
    if party is None or party.kind != "customer":
        return  # only the customer confirms restoration (the API's rule)
    what = f"{asked} Under {obj.access}, you confirm completion of work on {obj.id} ({ref})."
    plan.add(Ask(person, what, person.party, (CONFIRM, REJECT)))


def _tell_access(plan: _Plan, view: ContractView, data: AccessRequestV1) -> str:
    """The contacts the step is for; the one whose answer is awaited gets its link (the
    approver's approval first, then the issuer's grant), acting as its own contact."""
    title, asked = _access_asked(data)
    waiting = data.waiting_for
    answers = {
        "approval": (data.approver, AccessStep.APPROVE),
        "grant": (data.issued_by, AccessStep.GRANT),
    }
    owner, step = answers[waiting] if waiting else (None, None)
    for ref in data.tell:
        person = contact_person(view, ref)
        if person is None:
            continue
        if ref == owner and step is not None:
            label = f"{step.value.capitalize()} access request {data.request_id}"
            link = LinkAction(None, label, step=step, request=data.request_id)
            plan.add(Ask(person, asked, person.party, (link,)))
        else:
            plan.add(Ask(person, asked))
    return title


def _access_asked(data: AccessRequestV1) -> tuple[str, str]:
    """The title and the ask of an access request's step (ADR 49): the issuer is asked to grant
    (after the approval where one is needed), the approver to approve; break glass is told."""
    what = (
        f"{data.mode} access to {data.object_id} under {data.rule} for {data.requested_by}"
        + (f": {data.purpose}" if data.purpose else "")
        + (f" (for {data.duration})" if data.duration else "")
    )
    ref = f"Request {data.request_id}"
    if data.status == AccessStatus.EMERGENCY:
        return (
            f"emergency access to {data.object_id}",
            f"{data.requested_by} invoked the emergency procedure of {data.rule} on"
            f" {data.object_id} at {_fmt(data.at)}, without prior approval: {data.reason}."
            f" Procedure: {data.emergency}",
        )
    if data.status == AccessStatus.APPROVED:
        return (
            f"access approved: {data.request_id}",
            f"{ref} is approved by {data.approved_by}: {what}. {data.issued_by}: grant it"
            f" (POST /v1/incidents/{{id}}/access with action grant, request_id"
            f" {data.request_id}).",
        )
    lines = [f"{ref}: {what}. Lead time {data.lead_time}: ready by {_fmt(data.due_at)}."]
    if data.needs_approval:
        lines.append(f"Work at this hour needs approval by {data.approver} first.")
    lines.append(
        f"{data.issued_by} grants or denies, {data.approver} approves or rejects"
        f" (action request_id {data.request_id})."
        if data.needs_approval
        else f"{data.issued_by} grants or denies (action request_id {data.request_id})."
    )
    return f"access request {data.request_id}", " ".join(lines)


def notices(
    event: Envelope,
    state: RouteState,
    view: ContractView,
    *,
    senders: frozenset[str],
    links: Links,
) -> list[Notice]:
    """Every notification ``event`` makes, in a stable order."""
    found = _asks(event, state, view)
    if found is None:
        return []
    title, plan = found
    by_hand = _by_hand(plan.asks, senders)
    incident: list[str] | None = None  # made for the first message that goes
    out: list[Notice] = []
    for ask in plan.asks:
        coordinator_here = ask.person.party == state.coordinator
        for channel, address in sorted(ask.person.channels.items()):
            if channel not in senders:
                continue
            nid = stable_id("notice", event.id, ask.person.ref, channel)
            if incident is None:
                incident = incident_text(event, state, view)
            body = render(
                event,
                state,
                ask,
                incident=incident,
                notice_id=nid,
                links=links,
                by_hand=by_hand if coordinator_here else [],
            )
            out.append(
                Notice(
                    id=nid,
                    incident_id=state.incident_id,
                    event_id=event.id,
                    kind=str(event.type),
                    party=ask.person.party,
                    recipient=ask.person.ref,
                    channel=channel,
                    address=address,
                    subject=f"[Baton {state.priority}] {state.incident_id}: {title}"
                    + ("" if ask.actions else " (for information)"),
                    body=body,
                    at=event.time,
                )
            )
    return out


def last_reissue_only(notices: list[Notice]) -> list[Notice]:
    """A batch of SLA events' notices with each person's re-issued assignment told once, the
    last: one recomputation moves both clocks in two ``clock_recomputed`` events and the router
    re-issues the assignment on each (ADR 39); the second carries both new deadlines, so the
    person (and the coordinator, for information) gets that one message, not two. The events
    on Kafka stay one per clock; two events of one change split across two batches (they are
    published together, so only a batch's record limit falls between them) still tell twice."""
    issued = str(EventType.ASSIGNMENT_ISSUED)
    last = {(n.incident_id, n.recipient, n.channel): n.id for n in notices if n.kind == issued}
    return [
        n
        for n in notices
        if n.kind != issued or last[(n.incident_id, n.recipient, n.channel)] == n.id
    ]


def _by_hand(asks: list[Ask], senders: frozenset[str]) -> list[str]:
    """The channels of this event's people that no sender serves: for the coordinator."""
    lines = []
    for ask in asks:
        for channel, address in sorted(ask.person.channels.items()):
            if channel in senders or channel in MACHINE_CHANNELS:
                continue
            verb = HOW.get(channel, f"reach ({channel})")
            lines.append(f"{verb} {address} — {ask.person.name} ({ask.person.party})")
    return lines


def _fmt(at: datetime | None) -> str:
    return f"{at:%a %d %b %H:%M}" if at is not None else "—"


def incident_text(event: Envelope, state: RouteState, view: ContractView) -> list[str]:
    """What every message of ``event`` says of the incident (computed once per event): the
    incident, the object and its place, the affected unit, access now, the deadlines on the
    object's clock, who is on it."""
    object_id = state.primary_object or state.object_id
    obj = view.object(object_id)
    zone = view.local_calendar(object_id)
    lines = [
        f"Incident {state.incident_id}, priority {state.priority}, {state.category.value}:",
        f"  {state.summary}",
    ]
    if obj is not None:
        where = details.location(view, obj) or "location not stated"
        lines.append(f"Object: {obj.name} ({obj.id}, {obj.kind}) at {where}")
        if obj.business_unit:
            lines.append(f"Affected unit: {obj.business_unit}")
        access = details.access(view, obj, event.time)
        if access is not None:
            lines.append(
                f"Access now: {access.mode} ({access.rule}), issued by {access.issued_by},"
                f" ready by {_fmt(access.ready_by.astimezone(zone.zone))}; {access.approval}"
            )
    lines.append(f"Times are on the object's clock ({zone.spec.timezone}).")
    lines.append(f"Opened: {_fmt(state.opened_at.astimezone(zone.zone))}")
    if state.deadlines is not None:
        d = state.deadlines
        lines.append(f"Respond by: {_fmt(d.response_due.astimezone(zone.zone))}")
        lines.append(f"Restore by: {_fmt(d.recovery_due.astimezone(zone.zone))}")
    lines.append("")
    lines.append("Who is on it:")
    for role, party in (("owner", state.primary), ("coordinator", state.coordinator)):
        person = on_duty(view, party, event.time)
        reach = ", ".join(f"{k} {v}" for k, v in sorted(person.channels.items())) if person else ""
        name = f"{person.name} ({reach})" if person else "nobody on duty"
        lines.append(f"  {role}: {party} — {name}")
    open_checks = [c for c in state.checks if c.fault_found is None]
    if open_checks:
        checks = ", ".join(f"{c.layer.value} ({c.party})" for c in open_checks)
        lines.append(f"  checking: {checks}")
    return lines


def render(
    event: Envelope,
    state: RouteState,
    ask: Ask,
    *,
    incident: list[str],
    notice_id: uuid.UUID,
    links: Links,
    by_hand: list[str],
) -> str:
    """One message's plain text: greeting, what is asked, ``incident``, links."""
    lines = [f"Hello {ask.person.name},", "", ask.asked, "", *incident]
    if by_hand:
        lines.append("")
        lines.append("Baton could not send these; reach them by hand:")
        lines.extend(f"  {line}" for line in by_hand)
    if ask.acts_as and ask.actions and links.sign is not None:
        lines.append("")
        lines.append(f"Act as {ask.acts_as} (each link works once, until it expires):")
        expires = int((event.time + links.ttl).timestamp())
        for action in ask.actions:
            claims = Claims(
                incident=state.incident_id,
                party=ask.acts_as,
                action=action.action,
                step=action.step,
                request=action.request,
                layer=action.layer,
                fault_found=action.fault_found,
                nonce=notice_id.hex,
                expires=expires,
                to=ask.person.contact,
            )
            lines.append(f"  {action.label}: {links.sign(claims)}")
    lines.append("")
    lines.append("— Baton")
    return "\n".join(lines) + "\n"


def failed(
    notice: Mapping[str, object],
    state: RouteState,
    view: ContractView,
    *,
    senders: frozenset[str],
    now: datetime,
    attempts: int,
    error: str,
) -> list[Notice]:
    """A notification that failed for good: the coordinator's person on duty and mailbox are
    told over their other channels (never the one that failed), with the failed person's
    channels to reach by hand."""
    recipient, channel = str(notice["recipient"]), str(notice["channel"])
    party_id, _, contact_id = recipient.partition("/")
    reach: list[str] = []
    party = view.contract.parties.get(party_id)
    person = party.contacts.get(contact_id) if party is not None else None
    if person is not None:
        reach = [f"{HOW.get(k, k)} {v}" for k, v in sorted(person.channels.items()) if k != channel]
    text = (
        f"Baton could not deliver a message to {recipient} over {channel} after {attempts}"
        f" tries ({error[:200]}). Subject: {notice['subject']}."
    )
    if reach:
        text += " Reach them by hand: " + "; ".join(reach) + "."
    out = []
    for who in _party_people(view, state.coordinator, now):
        for kind, address in sorted(who.channels.items()):
            if kind not in senders or (who.ref == recipient and kind == channel):
                continue
            out.append(
                Notice(
                    id=stable_id("notice-failed", notice["id"], who.ref, kind),
                    incident_id=state.incident_id,
                    event_id=uuid.UUID(str(notice["event_id"])),
                    kind="delivery_failed",
                    party=who.party,
                    recipient=who.ref,
                    channel=kind,
                    address=address,
                    subject=f"[Baton {state.priority}] {state.incident_id}: message not delivered",
                    body=f"Hello {who.name},\n\n{text}\n\n— Baton\n",
                    at=now,
                )
            )
    return out
