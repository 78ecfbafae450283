"""Problem records: recurring incidents on one origin become one owned problem (ADR 48).

Rules (pure; the router's shell reads the origin's incidents and its open problem, locked per
origin, and writes what ``decide`` returns):

* An incident counts on its probable origin (the object it opened on, then wherever
  correlation moved the origin) — or, when the contract counts per group
  (``problems.group_by: group``, ADR 55), on the first of the contract's groups that lists that
  object (``origin_of``; an object in no group counts alone). The problem then opens on the
  object whose incident made the count, owned by the primary of that object's layer, and names
  the group.
* When an origin has ``problems.incidents`` incidents (default 3) opened within
  ``problems.within`` (default 30 days) of its newest one (whatever order they are read in)
  and no open problem, one problem record
  opens: owned by the primary party of the origin's layer (the contract in force), linking
  those incidents, its fix due ``problems.fix_due`` (default 14 days) later, with a root cause
  and what was changed still to be written. ``baton.assignment.problem_opened`` goes to the
  owner's and the coordinator's assignment topics.
* Each later incident on that origin links to the open problem
  (``baton.assignment.problem_linked``), told to the same two.
* A problem closes only on a request of its owner or the coordinator that names the root
  cause and what was changed (``close``): ``baton.assignment.problem_closed``, else
  ``baton.assignment.problem_close_refused`` with the reason, on the timeline of its latest
  incident and told to the owner and the coordinator. A closed problem stays closed; the next
  incident on its origin counts towards a new one.
* Ids follow from the input (the problem's from its origin and first incident), so a replay
  decides the same problem and the same events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from router.routing import SOURCE
from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    Envelope,
    Model,
    ProblemClosedV1,
    ProblemCloseRefusedV1,
    ProblemCloseRequestedV1,
    ProblemLinkedV1,
    ProblemOpenedV1,
    ProblemOpenedV2,
    make_event,
    stable_id,
)


@dataclass(frozen=True, slots=True)
class OriginIncident:
    incident_id: str
    origin: str
    opened_at: datetime


def origin_of(contract: Contract, object_id: str) -> tuple[str, str | None]:
    """What ``object_id``'s incidents count on (the key the router keeps them under) and the
    contract's group that is, if any: the object itself by default; under
    ``problems.group_by: group``, ``group:<id>`` of the first group the contract lists it in."""
    if contract.problems.group_by == "group":
        for group_id, group in contract.groups.items():
            if object_id in group.objects:
                return f"group:{group_id}", group_id
    return object_id, None


@dataclass(frozen=True, slots=True)
class Problem:
    id: str
    origin: str  # what its incidents count on: origin_of's key
    owner: str
    coordinator: str
    incidents: list[str]
    opened_at: datetime
    fix_due: datetime
    status: Literal["open", "closed"] = "open"
    cause: str = ""
    changed: list[str] = field(default_factory=list)
    origin_object: str = ""  # the object it opened on ("": the origin, stored before ADR 55)

    @property
    def on_object(self) -> str:
        return self.origin_object or self.origin


def decide(
    problem: Problem | None,
    history: list[OriginIncident],
    incident_id: str,
    view: ContractView,
    now: datetime,
    *,
    object_id: str | None = None,
) -> tuple[Problem | None, list[Envelope]]:
    """``incident_id`` counted on its origin, whose incidents are ``history`` (this one
    included) and whose open problem is ``problem``: the problem after it, and the events.
    ``object_id``: the incident's object when the origin is a group (default: the origin)."""
    mine = next((h for h in history if h.incident_id == incident_id), None)
    if mine is None:
        return problem, []
    if problem is not None and problem.status == "open":
        if incident_id in problem.incidents:
            return problem, []
        linked = replace(problem, incidents=[*problem.incidents, incident_id])
        link = ProblemLinkedV1(
            problem_id=problem.id,
            origin_object=problem.on_object,
            owner=problem.owner,
            coordinator=problem.coordinator,
            incident_id=incident_id,
            incidents=len(linked.incidents),
            linked_at=mine.opened_at,
        )
        return linked, [_event(link, now, incident_id, "problem-linked", problem.id, incident_id)]
    contract = view.contract
    policy = contract.problems
    # the window ends at the newest incident: the router reads three partitions, so a later
    # incident may be counted before an earlier one
    newest = max(h.opened_at for h in history)
    recent = sorted(
        (h for h in history if newest - policy.within < h.opened_at),
        key=lambda h: (h.opened_at, h.incident_id),
    )
    if len(recent) < policy.incidents or mine not in recent:
        return problem, []
    on_object = object_id or mine.origin
    obj = view.object(on_object)
    layer = obj.layer if obj is not None else None
    owner = view.primary_for(layer)
    first = recent[0].incident_id
    opened = Problem(
        id=f"prb-{stable_id('problem', mine.origin, first).hex[:12]}",
        origin=mine.origin,
        owner=owner,
        coordinator=view.coordinator,
        incidents=[h.incident_id for h in recent],
        opened_at=newest,
        fix_due=newest + policy.fix_due,
        origin_object=on_object,
    )
    opening = ProblemOpenedV2(
        problem_id=opened.id,
        origin_object=on_object,
        group=origin_of(contract, on_object)[1],
        layer=layer,
        owner=owner,
        coordinator=opened.coordinator,
        incidents=opened.incidents,
        threshold=policy.incidents,
        within=policy.within,
        opened_at=opened.opened_at,
        fix_due=opened.fix_due,
    )
    return opened, [_event(opening, now, incident_id, "problem-opened", opened.id)]


def close(
    problem: Problem, request: ProblemCloseRequestedV1, contract: Contract, now: datetime
) -> tuple[Problem, list[Envelope]]:
    """``problem`` after a request to close it, and the event: closed, or refused with why."""
    reason = ""
    if problem.status == "closed":
        reason = "problem: already closed"
    elif request.party not in (problem.owner, contract.coordinator):
        reason = "only the problem's owner or the coordinator closes it"
    elif not request.cause.strip():
        reason = "cause: a problem closes with its root cause"
    elif not [c for c in request.changed if c.strip()]:
        reason = "changed: a problem closes with what was changed"
    subject = problem.incidents[-1]
    if reason:
        refused = ProblemCloseRefusedV1(
            problem_id=problem.id,
            owner=problem.owner,
            coordinator=problem.coordinator,
            party=request.party,
            actor=request.actor,
            reason=reason,
            at=request.at,
        )
        key = request.model_dump_json()
        return problem, [_event(refused, now, subject, "problem-close-refused", problem.id, key)]
    closed = replace(problem, status="closed", cause=request.cause, changed=list(request.changed))
    closing = ProblemClosedV1(
        problem_id=problem.id,
        origin_object=problem.on_object,
        owner=problem.owner,
        coordinator=problem.coordinator,
        closed_by=f"{request.party}:{request.actor}",
        cause=request.cause,
        changed=list(request.changed),
        incidents=problem.incidents,
        closed_at=request.at,
    )
    return closed, [_event(closing, now, subject, "problem-closed", problem.id)]


def _event(data: Model, now: datetime, subject: str, *id_parts: object) -> Envelope:
    """``data`` as the router's event on incident ``subject``, its id derived from ``id_parts``
    (a replay decides the same id)."""
    return make_event(data, source=SOURCE, time=now, subject=subject, event_id=stable_id(*id_parts))


def recipients(event: Envelope) -> list[str]:
    """The parties told of a problem event: its owner and the coordinator."""
    data = event.data
    assert isinstance(
        data, ProblemOpenedV1 | ProblemLinkedV1 | ProblemClosedV1 | ProblemCloseRefusedV1
    )
    return list(dict.fromkeys((data.owner, data.coordinator)))
