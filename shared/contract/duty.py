"""Owners, duty and access as one contract version answers them: who owns a layer, who answers
for a party at an instant, who accepts tickets, and how access to an object is obtained."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.contract.model import AccessRule, Contact, Contract, DutyShift, Period
from shared.contract.timing import Timing
from shared.events import Layer


@dataclass(frozen=True, slots=True)
class AccessAt:
    """How access to an object is obtained at one instant."""

    rule_id: str
    rule: AccessRule
    after_hours: bool
    ready_by: datetime

    @property
    def needs_approval(self) -> bool:
        return self.after_hours and self.rule.after_hours_approval


class Duty:
    """Layer owners, the coordinator, duty shifts, the first-line desk and access rules."""

    def __init__(self, contract: Contract, timing: Timing) -> None:
        self._contract = contract
        self._timing = timing
        self._objects = {o.id: o for o in contract.objects}
        self._owners: dict[Layer, str] = {a.layer: a.primary for a in reversed(contract.layers)}

    def owners(self) -> dict[Layer, str]:
        """Layer -> its primary party (an incident freezes this when it opens)."""
        return dict(self._owners)

    @property
    def coordinator(self) -> str:
        return self._contract.coordinator

    def primary_for(self, layer: Layer | None, owners: dict[Layer, str] | None = None) -> str:
        """Who owns an incident in ``layer``: the layer's primary party (from ``owners`` when an
        incident froze them), else the coordinator — outside the perimeter, or for a layer
        nobody owns, the coordinator takes it so it is never left without an owner."""
        found = (owners if owners is not None else self._owners).get(layer) if layer else None
        return found or self._contract.coordinator

    def owner_of(self, layer: Layer, owners: dict[Layer, str] | None) -> str | None:
        """The party that takes over an incident moved to ``layer``: the owner frozen in the
        incident, else this version's; None if nobody owns the layer (no handover)."""
        return (owners or {}).get(layer) or self._owners.get(layer)

    def on_duty(self, party_id: str, at: datetime) -> tuple[DutyShift, Contact] | None:
        """Who answers for ``party_id`` at ``at``: the first duty shift whose calendar is open."""
        party = self._contract.parties.get(party_id)
        if party is None:
            return None
        for shift in party.duty:
            contact = party.contacts.get(shift.contact)
            if (
                contact is not None
                and self._timing.known(shift.calendar)
                and self._timing.calendar(shift.calendar).is_open(at)
            ):
                return shift, contact
        return None

    def desk_on_duty(self, at: datetime) -> Contact | None:
        """Who accepts tickets for the first line at ``at``: a first-line contact while its own
        hours are open; a first-line party's duty contact. ``None``: the desk is closed."""
        first_line = self._contract.first_line
        if first_line is None:
            return None
        if "/" not in first_line:
            found = self.on_duty(first_line, at)
            return found[1] if found else None
        resolved = self._contract.contact(first_line)
        if resolved is None:
            return None
        party, contact = resolved
        contact_id = first_line.partition("/")[2]
        hours = [contact.hours] if contact.hours else []
        hours += [s.calendar for s in party.duty if s.contact == contact_id and not contact.hours]
        if not hours:
            return contact  # no hours written: it answers whenever (lint BTN108 says so)
        for calendar_id in hours:
            if self._timing.known(calendar_id) and self._timing.calendar(calendar_id).is_open(at):
                return contact
        return None

    def access(self, object_id: str, at: datetime) -> AccessAt | None:
        """The object's access rule at ``at``: after hours outside the day period."""
        obj = self._objects.get(object_id)
        rule = self._contract.access_rules.get(obj.access) if obj and obj.access else None
        if obj is None or obj.access is None or rule is None:
            return None
        return AccessAt(
            rule_id=obj.access,
            rule=rule,
            after_hours=self._timing.period(at, object_id) is not Period.DAY,
            ready_by=at + rule.lead_time,
        )

    def approval(self, access: AccessAt) -> str:
        """What work on the object needs at that hour, in words."""
        rule = access.rule
        if access.needs_approval:
            if rule.approver is None:
                return "approval needed, approver not named"
            return (
                f"after-hours work approved by {self.reach(rule.approver)}: approval by"
                f" {rule.approver} needed now (request_access, then {rule.approver} approves and"
                f" {rule.issued_by} grants)"
            )
        if access.after_hours:
            return "after-hours work needs no separate approval"
        return "business hours: no separate approval"

    def reach(self, ref: str) -> str:
        """``party/contact`` as one line: name, channels, party."""
        found = self._contract.contact(ref)
        if found is None:
            return f"{ref} (unknown contact)"
        party, contact = found
        return f"{contact.reach()} — {party.name}"
