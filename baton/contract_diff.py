"""``baton contract diff OLD NEW``: what a person signs when a contract changes (issue 27.4).

Pure. ``diff`` names every change between two versions, section by section, in the words of the
contract: objects added or removed and each field that changed (the owner its incidents would
have, derived from its layer's primary), layer owners, parties, support hours (calendars),
SLA rows, pause reasons, escalation levels, access rules, maintenance windows, the priority
matrix and the settings. ``impact`` says what ``apply-open`` would do to the incidents still
open (rows of reporting's incident list): which would change owner, coordinator, priority or a
clock's target, and by how much — the same rules ``apply_open.plan`` and the router's re-route
follow (the owner of the layer the origin object is in under the new version).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from baton.apply_open import OPEN_STATUSES
from shared.contract import Contract
from shared.contract.model_validators import format_duration
from shared.contract.view import ContractView
from shared.events import Category, ClockKind

# the sections in the order a person reads a contract, each keyed by what names an entry
KEYED_LISTS: dict[str, str] = {
    "layers": "layer",
    "calendars": "id",
    "objects": "id",
    "pause_reasons": "id",
    "maintenance_windows": "id",
    "escalation": "level",
    "exclusions": "id",
    "open_points": "field",
}
SECTIONS = (
    "id",
    "version",
    "title",
    "coordinator",
    "first_line",
    "environments",
    "parties",
    "layers",
    "locations",
    "calendars",
    "objects",
    "groups",
    "access_rules",
    "priority_matrix",
    "sla",
    "sla.targets",
    "pause_reasons",
    "maintenance_windows",
    "escalation",
    "alert_rules",
    "exclusions",
    "problems",
    "open_points",
)


@dataclass(frozen=True, slots=True)
class Change:
    section: str
    key: str | None
    text: str

    def __str__(self) -> str:
        where = f"{self.section}.{self.key}" if self.key is not None else self.section
        return f"{where}: {self.text}"


@dataclass(frozen=True, slots=True)
class Move:
    """One open incident that ``apply-open`` would change."""

    incident_id: str
    what: str  # owner, coordinator, priority, response target, recovery target
    old: str
    new: str
    by: str = ""  # how much, for a target

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.what} {self.old} → {self.new}" + (
            f" ({self.by})" if self.by else ""
        )


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    out = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return out if len(out) <= 100 else out[:99] + "…"


def _fields(section: str, key: str | None, old: Any, new: Any) -> list[Change]:
    """One change per field that differs between two entries (dicts: field by field)."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            Change(section, key, f"{name} {_text(old.get(name))} → {_text(new.get(name))}")
            for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name)
        ]
    return [Change(section, key, f"{_text(old)} → {_text(new)}")]


def _entries(section: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out = []
    for key in sorted(set(old) | set(new), key=str):
        if key not in new:
            out.append(Change(section, str(key), "removed"))
        elif key not in old:
            out.append(Change(section, str(key), f"added: {_text(new[key])}"))
        else:
            out.extend(_fields(section, str(key), old[key], new[key]))
    return out


def _keyed(items: list[dict[str, Any]], field: str) -> dict[str, Any]:
    return {str(item[field]): item for item in items}


def _target_key(target: dict[str, Any]) -> str:
    periods = "/".join(target.get("periods") or [])
    calendar = f" on {target['calendar']}" if target.get("calendar") else ""
    return f"{target['category']} {target['priority']} {periods}{calendar}"


def diff(old: Contract, new: Contract) -> list[Change]:
    """Every change from ``old`` to ``new`` a person signs, in the contract's reading order."""
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    out: list[Change] = []
    for section in SECTIONS:
        if section == "sla":
            sla_a = {k: v for k, v in a["sla"].items() if k != "targets"}
            sla_b = {k: v for k, v in b["sla"].items() if k != "targets"}
            out.extend(_entries("sla", sla_a, sla_b))
        elif section == "sla.targets":
            out.extend(
                _entries(
                    section,
                    {_target_key(t): t for t in a["sla"]["targets"]},
                    {_target_key(t): t for t in b["sla"]["targets"]},
                )
            )
        elif section == "alert_rules":
            rules_a = {_text(r): r for r in a[section]}
            rules_b = {_text(r): r for r in b[section]}
            out.extend(Change(section, None, f"removed {k}") for k in rules_a if k not in rules_b)
            out.extend(Change(section, None, f"added {k}") for k in rules_b if k not in rules_a)
        elif section in KEYED_LISTS:
            field = KEYED_LISTS[section]
            out.extend(_entries(section, _keyed(a[section], field), _keyed(b[section], field)))
        elif isinstance(a[section], dict) and isinstance(b[section], dict):
            out.extend(_entries(section, a[section], b[section]))
        elif a[section] != b[section]:
            out.append(Change(section, None, f"{_text(a[section])} → {_text(b[section])}"))
    out.extend(_owners(old, new))
    order = {s: i for i, s in enumerate(SECTIONS)}
    return sorted(out, key=lambda c: (order[c.section], str(c.key), c.text))


def _owners(old: Contract, new: Contract) -> list[Change]:
    """Objects in both whose incidents would have another owner: its layer moved, or the
    layer's primary changed."""
    va, vb = ContractView.of(old), ContractView.of(new)
    out = []
    for obj in new.objects:
        before = old.object(obj.id)
        if before is None:
            continue
        owner_a, owner_b = va.primary_for(before.layer), vb.primary_for(obj.layer)
        if owner_a != owner_b:
            out.append(
                Change(
                    "objects",
                    obj.id,
                    f"owner of its incidents {owner_a} → {owner_b} (primary of {obj.layer})",
                )
            )
    return out


def impact(old: Contract, new: Contract, incidents: list[dict[str, Any]]) -> list[Move]:
    """What ``apply-open`` under ``new`` would change on each open incident."""
    vb = ContractView.of(new)
    out: list[Move] = []
    for row in incidents:
        if row.get("status") not in OPEN_STATUSES:
            continue
        inc = str(row["id"])
        origin = row.get("origin_object") or row.get("object_id")
        obj = new.object(origin) if origin else None
        layer = obj.layer if obj is not None else (row.get("origin_layer") or row.get("layer"))
        owner = vb.primary_for(layer) if layer else new.coordinator
        if row.get("primary_party") and owner != row["primary_party"]:
            out.append(Move(inc, "owner", str(row["primary_party"]), owner))
        if row.get("coordinator") and new.coordinator != row["coordinator"]:
            out.append(Move(inc, "coordinator", str(row["coordinator"]), new.coordinator))
        category = Category(row["category"])
        priority = vb.priority(origin, category)
        if priority != row.get("priority"):
            out.append(Move(inc, "priority", str(row.get("priority")), priority))
        out.extend(
            _targets(old, new, row, inc=inc, origin=origin, category=category, priority=priority)
        )
    return out


def _targets(
    old: Contract,
    new: Contract,
    row: dict[str, Any],
    *,
    inc: str,
    origin: str | None,
    category: Category,
    priority: str,
) -> list[Move]:
    start = row.get("first_alert_at") or row.get("opened_at")
    if start is None:
        return []
    at = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
    before = ContractView.of(old).policy(origin, category, str(row.get("priority")), at) or {}
    after = ContractView.of(new).policy(origin, category, priority, at) or {}
    out = []
    for clock in ClockKind:
        a, b = before.get(clock), after.get(clock)
        if a is None or b is None or a.target == b.target:
            continue
        delta = b.target - a.target
        sign = "+" if delta > timedelta(0) else "-"
        out.append(
            Move(
                inc,
                f"{clock.value} target",
                format_duration(a.target),
                format_duration(b.target),
                f"deadline {sign}{format_duration(abs(delta))}",
            )
        )
    return out
