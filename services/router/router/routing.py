"""Routing rules: a pure function of (contract, incident, now)."""

from __future__ import annotations

from datetime import datetime

from shared.contract import Contract
from shared.events import (
    AssignmentIssuedV1,
    Envelope,
    EventType,
    IncidentOpenedV1,
    Role,
    make_event,
    stable_id,
)

SOURCE = "router"


def assign(opened: Envelope, contract: Contract, now: datetime) -> list[Envelope]:
    """The primary owner of the failing layer and the coordinator, one assignment each.

    An incident outside the perimeter has no layer: the coordinator takes it as primary too,
    so it is never left without an owner.
    """
    data = opened.data
    assert isinstance(data, IncidentOpenedV1)
    primary = contract.primary_party(data.layer) if data.layer else contract.coordinator
    out = []
    for role, party in ((Role.PRIMARY, primary), (Role.COORDINATOR, contract.coordinator)):
        out.append(
            make_event(
                EventType.ASSIGNMENT_ISSUED,
                AssignmentIssuedV1(
                    party=party,
                    role=role,
                    layer=data.layer,
                    object_id=data.object_id,
                    priority=data.priority,
                    category=data.category,
                    contact=contract.parties[party].contact,
                    summary=data.summary,
                ),
                source=SOURCE,
                time=now,
                subject=opened.subject,
                event_id=stable_id("assignment", opened.subject, role.value),
            )
        )
    return out
