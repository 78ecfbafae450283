"""What changed before an incident (ADR 46): pure, over the change records and the contract.

The first question at 02:00 is "what changed?". Beside an incident, reporting shows the changes
made in the 24 hours before its first alert on its probable origin and on everything the origin
depends on (the contract's dependency graph, transitively), nearest first: the change records of
the ``changes`` topic (PagerDuty change events, tools' ``POST /v1/changes``, contract
publications — those on every object) and the contract's approved maintenance windows that
began then on those objects. ``baton contract drill`` shows the same for an object at an instant
(``drilled``), from the records reporting's ``GET /v1/changes`` gives it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from shared.contract import Contract
from shared.contract.graph import dependencies

LOOKBACK = timedelta(hours=24)


def scope(contract: Contract, origin: str | None) -> list[str]:
    """The origin and every object it depends on."""
    return [origin, *dependencies(contract, origin)] if origin else []


def period(first_alert: datetime) -> tuple[datetime, datetime]:
    return first_alert - LOOKBACK, first_alert


def maintenance(
    contract: Contract, objects: Iterable[str], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The approved maintenance windows that began in ``[start, end]`` on ``objects``."""
    wanted = set(objects)
    out = []
    for window in contract.maintenance_windows:
        if window.approved_by is None:
            continue
        members = set(window.objects)
        for group in window.groups:
            members.update(contract.group_members(group))
        for obj in sorted(members & wanted):
            for began, _ in window.occurrences(start, end + timedelta(microseconds=1)):
                if start <= began <= end:
                    out.append(
                        {
                            "at": began,
                            "object_id": obj,
                            "summary": f"maintenance window {window.id}"
                            + (f": {window.description}" if window.description else ""),
                            "link": None,
                            "source": "maintenance",
                            "by_whom": window.approved_by,
                        }
                    )
    return out


def beside(
    first_alert: datetime, recorded: Iterable[dict[str, Any]], windows: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every change of the period, nearest to the first alert first, each with how long before
    it it was made."""
    rows = [{**r, "before_seconds": (first_alert - r["at"]).total_seconds()} for r in recorded]
    rows += [{**w, "before_seconds": (first_alert - w["at"]).total_seconds()} for w in windows]
    return sorted(rows, key=lambda r: (r["before_seconds"], str(r.get("object_id"))))


def drilled(
    contract: Contract, object_id: str, at: datetime, recorded: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What an incident on ``object_id`` whose first alert fired at ``at`` would be shown
    beside it, from ``recorded`` change records of any object and time (the drill asks
    ``GET /v1/changes`` once per object of the chain, so a record on every object comes once
    per request): those on the object, what it depends on or every object, made in the 24 h
    before ``at``, each once; with the approved maintenance windows that began then."""
    objects = scope(contract, object_id)
    start, end = period(at)
    wanted, seen = set(objects), set()
    kept = []
    for row in recorded:
        key = row.get("id", id(row))
        if key in seen or not (row["object_id"] is None or row["object_id"] in wanted):
            continue
        if start <= row["at"] <= end:
            seen.add(key)
            kept.append(row)
    return beside(at, kept, maintenance(contract, objects, start, end))
