"""`baton contract apply-open`: the version in force applied to open incidents on the record —
the coordinator's re-route of each, a reclassification where the priority now differs, each with
its reason and an idempotency key, so that a second run records nothing twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from baton.apply_open import apply, open_incidents, plan
from shared.contract import load_contract
from shared.contract.view import ContractView
from shared.events import Category

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = load_contract(ROOT / "examples" / "contract")
VIEW = ContractView.of(CONTRACT)


def row(
    incident: str, object_id: str | None, priority: str, status: str = "open"
) -> dict[str, Any]:
    return {
        "id": incident,
        "object_id": object_id,
        "origin_object": None,
        "category": "outage",
        "priority": priority,
        "status": status,
    }


def test_every_open_incident_is_rerouted_and_reclassified_where_its_priority_changed() -> None:
    obj = CONTRACT.objects[0].id
    now = VIEW.priority(obj, Category.OUTAGE)
    other = next(p for p in ("P1", "P2", "P3", "P4") if p != now)
    steps = plan(
        CONTRACT,
        [
            row("inc-same", obj, now),
            row("inc-old", obj, other),
            row("inc-done", obj, now, "closed"),
        ],
    )
    assert [(s.incident_id, s.body["action"]) for s in steps] == [
        ("inc-same", "reroute"),
        ("inc-old", "reroute"),
        ("inc-old", "reclassify"),
    ]
    assert steps[2].body["priority"] == now
    for step in steps:
        assert step.body["party"] == CONTRACT.coordinator
        assert CONTRACT.content_hash in step.body["note"]
        assert step.idempotency_key.startswith(f"apply-open:{CONTRACT.content_hash}:")
    assert len({s.idempotency_key for s in steps}) == len(steps)


def test_the_plan_is_posted_as_the_coordinators_actions_with_their_keys() -> None:
    seen: list[httpx.Request] = []

    def intake(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            status = request.url.params["status"]
            obj = CONTRACT.objects[0].id
            return httpx.Response(200, json=[row(f"inc-{status}", obj, "P9", status)])
        seen.append(request)
        return httpx.Response(202, json={"status": "accepted"})

    with httpx.Client(transport=httpx.MockTransport(intake)) as client:
        rows = open_incidents(client, "http://reporting")
        done = apply(client, "http://intake", plan(CONTRACT, rows), "coordinator-token")
    assert {r["id"] for r in rows} == {"inc-open", "inc-acknowledged", "inc-restored"}
    assert len(done) == 6  # a re-route and a reclassification (P9 is no priority) each
    assert all(code == 202 for _, code, _ in done)
    for request in seen:
        assert request.headers["authorization"] == "Bearer coordinator-token"
        assert request.headers["idempotency-key"].startswith("apply-open:")
        assert json.loads(request.content)["actor"] == "baton.apply-open"
