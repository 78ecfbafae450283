"""What a router message tells its reader, looked up in the contract: pure, ``at`` is an input.

Who is on duty, the backup contacts, how access is obtained at this hour and the deadlines; the
drill (``shared.contract.drill``) already answers "access at this hour" and "who checks each
neighbouring layer", so this module asks it rather than repeating its rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.contract import Contract, SupportObject
from shared.contract.drill import AccessAnswer, LayerCheck, _Drill
from shared.contract.model import Contact
from shared.events import AccessProcedure, Category, Clock, Deadlines, DutyContact

DEFAULT_ACK_FRACTION = 0.5
"""Backup contacts are called when this fraction of the response target passed without an
acknowledgement, unless an escalation level names an earlier non-zero response threshold."""


def _contact(party_id: str, contact_id: str, contact: Contact, calendar: str | None) -> DutyContact:
    return DutyContact(
        party=party_id,
        contact=contact_id,
        name=contact.name,
        role=contact.role,
        channels={kind.value: address for kind, address in contact.channels.items()},
        calendar=calendar,
    )


def on_duty(contract: Contract, party_id: str, at: datetime) -> DutyContact | None:
    """Who answers for ``party_id`` at ``at`` (the party's duty calendar, not the SLA's)."""
    found = contract.on_duty(party_id, at)
    if found is None:
        return None
    shift, contact = found
    return _contact(party_id, shift.contact, contact, shift.calendar)


def backups(contract: Contract, party_id: str) -> list[DutyContact]:
    party = contract.parties.get(party_id)
    if party is None:
        return []
    return [
        _contact(party_id, cid, party.contacts[cid], None)
        for cid in party.backup_contacts
        if cid in party.contacts
    ]


def contact_ref(contract: Contract, ref: str) -> DutyContact | None:
    """``party/contact`` as a ``DutyContact``; None if the contract does not know it."""
    found = contract.contact(ref)
    if found is None:
        return None
    party_id, _, contact_id = ref.partition("/")
    return _contact(party_id, contact_id, found[1], None)


def chain(contract: Contract, obj: SupportObject, at: datetime) -> list[LayerCheck]:
    """The drill's "who checks each object along the chain" (the object itself first)."""
    return _Drill(contract, obj, at).checks(None)


def access(contract: Contract, obj: SupportObject, at: datetime) -> AccessProcedure | None:
    """The object's access rule as the drill reads it at ``at`` (approval at this hour).

    Only the drill's access question is asked, not the whole drill: a full ``drill()`` per
    message costs ~10 ms on the example contract (cycles, escalation, vendors).
    """
    answer: AccessAnswer | None = _Drill(contract, obj, at).access()
    rule = contract.access_rules.get(obj.access) if obj.access else None
    if answer is None or rule is None:
        return None
    return AccessProcedure(
        rule=answer.rule,
        mode=answer.mode,
        issued_by=answer.issued_by,
        lead_time=rule.lead_time,
        ready_by=at + rule.lead_time,
        approval=answer.approval,
        emergency=answer.emergency,
    )


def deadlines(
    contract: Contract, obj: SupportObject, category: Category, priority: str, at: datetime
) -> Deadlines | None:
    resolved = contract.sla_for(obj, category, at, priority)
    if resolved is None:
        return None
    return Deadlines(
        period=resolved.period.value,
        calendar=resolved.calendar,
        response_target=resolved.target.response,
        recovery_target=resolved.target.recovery,
        response_due=resolved.response_due,
        recovery_due=resolved.recovery_due,
    )


def ack_fraction(contract: Contract) -> float:
    fractions = [
        lv.at[Clock.RESPONSE] for lv in contract.escalation if lv.at.get(Clock.RESPONSE, 0) > 0
    ]
    return min(fractions, default=DEFAULT_ACK_FRACTION)


def ack_due(
    contract: Contract,
    obj: SupportObject | None,
    category: Category,
    priority: str,
    at: datetime,
) -> datetime | None:
    """When an unacknowledged assignment goes to the party's backup contacts.

    The contract has no separate "acknowledge within" time, so it is derived from what it does
    say: the response target times the earliest non-zero response threshold of its escalation
    levels (``DEFAULT_ACK_FRACTION`` without one), on the target's calendar.
    """
    fraction = ack_fraction(contract)
    if obj is not None:
        resolved = contract.sla_for(obj, category, at, priority)
        if resolved is None:
            return None
        calendar = contract.business_calendar(resolved.calendar)
        return calendar.add(at, resolved.target.response * fraction)
    target = contract.sla_target(category, priority, contract.period(at))
    if target is None:
        return None
    return at + timedelta(seconds=target.response.total_seconds() * fraction)


def location(contract: Contract, obj: SupportObject) -> str | None:
    if obj.location is None:
        return None
    place = contract.locations.get(obj.location)
    if place is None:
        return obj.location
    return f"{place.name}, {place.address}" if place.address else place.name


def versions(obj: SupportObject) -> dict[str, str]:
    found = {"product": obj.product, "version": obj.version, "edition": obj.edition}
    return {key: value for key, value in found.items() if value}
