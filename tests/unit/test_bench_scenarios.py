"""The storm the benchmark sends: its size, its repeats and its cascades."""

from __future__ import annotations

from datetime import UTC, datetime

from baton.scenarios import STORM_PER_WEBHOOK, cascades, storm_webhooks
from baton.stack import EXAMPLE_CONTRACT
from shared.contract import Contract, load_contract


def test_storm_is_n_alerts_ten_per_webhook_95_percent_repeats_cascading() -> None:
    contract = load_contract(EXAMPLE_CONTRACT)
    bodies = storm_webhooks(contract, "r", 2000, datetime(2026, 11, 27, tzinfo=UTC))
    alerts = [a for b in bodies for a in b["alerts"]]
    assert len(alerts) == 2000
    assert all(len(b["alerts"]) == STORM_PER_WEBHOOK for b in bodies)
    assert len({a["fingerprint"] for a in alerts}) == 100  # 95 % repeats
    # every alert names a contract object, and a wave starts at its origin
    objects = [contract.match_alert(a["labels"]) for a in alerts]
    assert all(o is not None for o in objects)
    first = cascades(contract)[0]
    assert [o.id for o in objects[: len(first)] if o] == first
    origin = contract.object(first[0])
    assert origin is not None
    assert all(first[0] in _closure(contract, o) for o in first[1:])


def _closure(contract: Contract, object_id: str) -> set[str]:
    seen: set[str] = set()
    todo = [object_id]
    while todo:
        obj = contract.object(todo.pop())
        for dep in obj.depends_on if obj else []:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen
