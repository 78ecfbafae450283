"""`baton contract apply-open`: the contract in force applied to the incidents already open.

An open incident keeps the policy it opened under (owners, targets, calendars); a newly
published contract applies to new incidents only. When the parties agree that it should apply to
the open ones too, the coordinator does it explicitly and on the record: a ``reroute`` of every
open incident (its layer owners follow the version in force) and a ``reclassify`` where the
version in force gives the incident another priority (its clocks replay under it). Each step is
the coordinator's action with its reason, answered by intake like any other, and carries an
``Idempotency-Key`` derived from the contract's hash: running it twice records nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import ActionKind, Category

OPEN_STATUSES = ("open", "acknowledged", "restored")
ACTOR = "baton.apply-open"


@dataclass(frozen=True, slots=True)
class Step:
    incident_id: str
    body: dict[str, Any]
    idempotency_key: str


def plan(contract: Contract, incidents: list[dict[str, Any]]) -> list[Step]:
    """The coordinator's actions that put ``incidents`` (rows of reporting's incident list)
    under ``contract``: a re-route each, and a reclassification where the priority differs."""
    view = ContractView.of(contract)
    reason = f"apply-open: contract {contract.id} {contract.version} ({contract.content_hash})"
    steps: list[Step] = []
    for row in incidents:
        if row.get("status") not in OPEN_STATUSES:
            continue
        incident = str(row["id"])
        base = {"party": contract.coordinator, "actor": ACTOR, "note": reason}
        key = f"apply-open:{contract.content_hash}:{incident}"
        steps.append(Step(incident, {"action": ActionKind.REROUTE, **base}, f"{key}:reroute"))
        origin = row.get("origin_object") or row.get("object_id")
        priority = view.priority(origin, Category(row["category"]))
        if priority != row.get("priority"):
            steps.append(
                Step(
                    incident,
                    {"action": ActionKind.RECLASSIFY, "priority": priority, **base},
                    f"{key}:reclassify:{priority}",
                )
            )
    return steps


def open_incidents(client: httpx.Client, reporting: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for state in OPEN_STATUSES:
        response = client.get(f"{reporting}/v1/incidents", params={"status": state, "limit": 1000})
        response.raise_for_status()
        rows.extend(response.json())
    return rows


def apply(
    client: httpx.Client, intake: str, steps: list[Step], token: str | None
) -> list[tuple[Step, int, str]]:
    """Post each step to intake; (step, HTTP status, intake's answer) for each."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    out: list[tuple[Step, int, str]] = []
    for step in steps:
        response = client.post(
            f"{intake}/v1/incidents/{step.incident_id}/actions",
            json=step.body,
            headers={**headers, "idempotency-key": step.idempotency_key},
        )
        answer = response.json()
        out.append((step, response.status_code, str(answer.get("status") or answer.get("error"))))
    return out
