"""How reporting's documents name things: parties, pause reasons, objects and local times."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shared.contract.model import Contract
from shared.contract.view import ContractView


def party_name(contract: Contract, party_id: str | None) -> str:
    if not party_id:
        return "—"
    party = contract.parties.get(party_id)
    return party.name if party else party_id


def reason_text(contract: Contract, reason_id: str) -> str:
    found = next((r for r in contract.pause_reasons if r.id == reason_id), None)
    return found.text if found else reason_id


def object_zone(view: ContractView, object_id: str | None) -> ZoneInfo:
    """The zone the object's people read time in, as the contract view answers it."""
    return ZoneInfo(view.local_calendar(object_id).spec.timezone)


def local_time(value: datetime | None, zone: ZoneInfo) -> str:
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}" if value else "—"


def object_name(contract: Contract, object_id: str | None) -> str:
    if not object_id:
        return "outside the perimeter"
    obj = contract.object(object_id)
    return f"{obj.name} ({object_id})" if obj else object_id
