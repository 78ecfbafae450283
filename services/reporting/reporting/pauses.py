"""The pauses of an incident's SLA clocks, read from its events: each pause paired with the
resume that ended it, the business time it excluded and the customer's answer (ADR 50).
Both documents list them: the closure report one by one, the monthly report summed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from shared.contract.model import Contract
from shared.events import EventType

_SPAN = TypeAdapter(timedelta)


@dataclass(frozen=True, slots=True)
class Pause:
    incident_id: str
    clock: str
    reason: str
    party: str
    actor: str
    start: datetime
    end: datetime | None
    business: timedelta | None
    """Business time the pause excluded (from the clock's resume); None while paused."""
    evidence: tuple[str, ...] = ()
    answer: dict[str, Any] | None = None
    """The customer's confirmation or dispute (``baton.incident.pause_answered``), if any."""

    def confirmation(self, contract: Contract) -> str:
        """ "confirmed", "disputed", "unconfirmed" — or "" when nobody confirms its reason."""
        reason = next((r for r in contract.pause_reasons if r.id == self.reason), None)
        if self.answer is not None:
            return "confirmed" if self.answer.get("verdict") == "confirm" else "disputed"
        return "unconfirmed" if reason is not None and reason.confirmed_by else ""


def as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def pauses(events: Iterable[dict[str, Any]]) -> list[Pause]:
    """Each pause of each clock, paired with the resume that ended it (events in time order)."""
    open_: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[Pause] = []
    events = list(events)
    answers = {
        (e["incident_id"], e["data"].get("clock"), as_datetime(e["data"]["paused_at"])): e["data"]
        for e in events
        if e["type"] == EventType.PAUSE_ANSWERED.value
    }
    for event in events:
        data, incident = event["data"], event["incident_id"]
        key = (incident, data.get("clock", ""))
        if event["type"] == EventType.SLA_CLOCK_PAUSED.value:
            open_[key] = data
        elif (
            event["type"] == EventType.SLA_CLOCK_RESUMED.value
            and data.get("cause") == "resume"
            and key in open_
        ):
            began = open_.pop(key)
            out.append(_pause(incident, began, as_datetime(data["resumed_at"]), data.get("paused")))
    out.extend(_pause(incident, began, None, None) for (incident, _), began in open_.items())
    return [replace(p, answer=answers.get((p.incident_id, p.clock, p.start))) for p in out]


def _pause(incident: str, began: dict[str, Any], end: datetime | None, paused: Any) -> Pause:
    return Pause(
        incident_id=incident,
        clock=began["clock"],
        reason=began["pause_reason"],
        party=began["party"],
        actor=began.get("actor", ""),
        start=as_datetime(began["paused_at"]),
        end=end,
        business=_SPAN.validate_python(paused) if paused is not None else None,
        evidence=tuple(began.get("evidence", ())),
    )
