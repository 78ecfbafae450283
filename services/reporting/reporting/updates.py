"""The customer's updates as reporting tells them (ADR 47): pure, over the audit trail's rows.

An update is the coordinator's accepted ``update`` action (its text for the customer); a late
one is sla-clock's ``baton.sla.update_overdue`` (no update by its due instant). The closure
report lists both in time order; the monthly report counts the overdue ones per coordinator
(``document_facts.monthly_facts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.documents.words import duration_words
from shared.events import ActionKind, EventType


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    at: datetime
    actor: str  # who gave it; "—" for an overdue one
    text: str
    overdue: bool


def customer_updates(events: Iterable[dict[str, Any]]) -> list[CustomerUpdate]:
    """Every update given and every one overdue, in the audit trail's order."""
    out = []
    for event in events:
        data: dict[str, Any] = event["data"]
        if (
            event["type"] == EventType.ACTION_ACCEPTED.value
            and data.get("action") == ActionKind.UPDATE.value
        ):
            out.append(CustomerUpdate(event["time"], str(data.get("actor")), data["note"], False))
        elif event["type"] == EventType.UPDATE_OVERDUE.value:
            every = duration_words(timedelta(seconds=_seconds(data.get("every"))))
            text = f"overdue: no update by its due time (every {every})"
            out.append(CustomerUpdate(event["time"], "—", text, True))
    return out


def _seconds(value: Any) -> float:
    """A duration as the audit trail keeps it: seconds, or pydantic's ISO 8601 text."""
    if isinstance(value, int | float):
        return float(value)
    from pydantic import TypeAdapter

    return TypeAdapter(timedelta).validate_python(value).total_seconds()


def summary(updates: list[CustomerUpdate]) -> str:
    given = sum(not u.overdue for u in updates)
    late = sum(u.overdue for u in updates)
    return f"{given} update{'s' * (given != 1)} given, {late} overdue."
