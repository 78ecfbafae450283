"""What a router message tells its reader, looked up in the contract: pure, ``at`` is an input.

Who is on duty, the backup contacts, how access is obtained at this hour and the deadlines: each
answer is the ``ContractView`` the caller passes (the shell picks the incident's version; the
drill and sla-clock ask the same view), shaped into the event payloads here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.contract import SupportObject
from shared.contract.policy import duty_contact
from shared.contract.view import DEFAULT_ACK_FRACTION, ContractView
from shared.events import (
    AccessProcedure,
    Category,
    Deadlines,
    DutyContact,
    LocalInstant,
    LocalTimes,
)

__all__ = [
    "DEFAULT_ACK_FRACTION",
    "access",
    "ack_due",
    "ack_fraction",
    "backups",
    "deadlines",
    "local_times",
    "location",
    "on_duty",
    "utc",
    "versions",
]


def on_duty(view: ContractView, party_id: str, at: datetime) -> DutyContact | None:
    """Who answers for ``party_id`` at ``at`` (the party's duty calendar, not the SLA's)."""
    found = view.on_duty(party_id, at)
    if found is None:
        return None
    shift, contact = found
    # which shift is open depends on ``at``; the contact a shift names, on the version alone
    return view.remember(
        (on_duty, party_id, shift.contact, shift.calendar),
        lambda: duty_contact(party_id, shift.contact, contact, shift.calendar),
    )


def backups(view: ContractView, party_id: str) -> list[DutyContact]:
    """The party's backup contacts (the version's alone: taken once per view)."""
    if party_id not in view.contract.parties:
        return []
    return list(view.remember((backups, party_id), lambda: _backups(view, party_id)))


def _backups(view: ContractView, party_id: str) -> tuple[DutyContact, ...]:
    party = view.contract.parties[party_id]
    return tuple(
        duty_contact(party_id, cid, party.contacts[cid], None)
        for cid in party.backup_contacts
        if cid in party.contacts
    )


def access(view: ContractView, obj: SupportObject, at: datetime) -> AccessProcedure | None:
    """The object's access rule at ``at`` (approval at this hour)."""
    found = view.access(obj.id, at)
    if found is None:
        return None
    rule = found.rule
    return AccessProcedure(
        rule=found.rule_id,
        mode=rule.mode,
        issued_by=view.reach(rule.issued_by),
        lead_time=rule.lead_time,
        ready_by=found.ready_by,
        approval=view.approval(found),
        emergency=rule.emergency or "no emergency procedure",
    )


def deadlines(
    view: ContractView,
    obj: SupportObject | None,
    category: Category,
    priority: str,
    *,
    opened_at: datetime,
    first_alert_at: datetime | None,
) -> Deadlines | None:
    """The incident's deadlines (``ContractView.due``): from its clock start, whatever the
    instant of the message that carries them (a handover does not restart the clocks); for
    no object, those outside the perimeter (as sla-clock runs them)."""
    due = view.due(
        obj.id if obj else None,
        category,
        priority,
        opened_at=opened_at,
        first_alert_at=first_alert_at,
    )
    if due is None:
        return None
    return Deadlines(
        period=due.period.value,
        calendar=due.calendar,
        response_target=due.response_target,
        recovery_target=due.recovery_target,
        response_due=due.response_due,
        recovery_due=due.recovery_due,
    )


def utc(deadlines: Deadlines | None) -> Deadlines | None:
    """The deadlines with their instants in UTC (a calendar answers in its own zone)."""
    if deadlines is None:
        return None
    return deadlines.model_copy(
        update={
            "response_due": deadlines.response_due.astimezone(UTC),
            "recovery_due": deadlines.recovery_due.astimezone(UTC),
        }
    )


def local_times(
    view: ContractView,
    object_id: str | None,
    opened_at: datetime,
    deadlines: Deadlines | None,
    access: AccessProcedure | None,
) -> LocalTimes:
    """The assignment's instants on the object's wall clock: the zone of its site's period
    calendar (``ContractView.local_calendar``, what the drill and documents show)."""
    calendar = view.local_calendar(object_id)
    zone = calendar.zone
    return LocalTimes(
        timezone=calendar.spec.timezone,
        opened_at=opened_at.astimezone(zone),
        response_due=deadlines.response_due.astimezone(zone) if deadlines else None,
        recovery_due=deadlines.recovery_due.astimezone(zone) if deadlines else None,
        access_ready_by=access.ready_by.astimezone(zone) if access else None,
    )


def local_instant(view: ContractView, object_id: str | None, at: datetime) -> LocalInstant:
    """``at`` on ``object_id``'s wall clock (the contract's zone for no object), as
    ``local_times`` does for an assignment."""
    calendar = view.local_calendar(object_id)
    return LocalInstant(timezone=calendar.spec.timezone, at=at.astimezone(calendar.zone))


def ack_fraction(view: ContractView) -> float:
    return view.ack_fraction


def ack_due(
    view: ContractView,
    obj: SupportObject | None,
    category: Category,
    priority: str,
    at: datetime,
) -> datetime | None:
    """When an unacknowledged assignment goes to the party's backup contacts.

    The contract has no separate "acknowledge within" time, so it is derived from what it does
    say: the response target times the earliest non-zero response threshold of its escalation
    levels (``DEFAULT_ACK_FRACTION`` without one), on the clock calendar.
    """
    return view.ack_due(obj.id if obj else None, category, priority, at)


def location(view: ContractView, obj: SupportObject) -> str | None:
    if obj.location is None:
        return None
    place = view.contract.locations.get(obj.location)
    if place is None:
        return obj.location
    return f"{place.name}, {place.address}" if place.address else place.name


def versions(obj: SupportObject) -> dict[str, str]:
    found = {"product": obj.product, "version": obj.version, "edition": obj.edition}
    return {key: value for key, value in found.items() if value}
