"""The dependency graph as one contract version answers it: related objects, the probable
origin, the business scope and the partition component (correlation asks these), and the chain
of checks when an object fails (who checks each neighbouring layer, and from when)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.contract.duty import Duty
from shared.contract.model import Contract, SupportObject
from shared.contract.model_validators import closure
from shared.contract.timing import Timing
from shared.events import Layer

LAYER_ORDER = {
    layer: i
    for i, layer in enumerate(
        (
            Layer.HARDWARE,
            Layer.NETWORK,
            Layer.OS,
            Layer.DBMS,
            Layer.INTEGRATION,
            Layer.APPLICATION,
        )
    )
}


def dependencies(contract: Contract, object_id: str) -> list[str]:
    """Everything ``object_id`` depends on, transitively, nearest first (cycle-safe)."""
    below = {o.id: list(o.depends_on) for o in contract.objects}
    return closure(object_id, lambda o: below.get(o, []))


def dependents(contract: Contract, object_id: str) -> list[str]:
    """Everything that depends on ``object_id``, transitively, nearest first."""
    reverse: dict[str, list[str]] = {}
    for obj in contract.objects:
        for dep in obj.depends_on:
            reverse.setdefault(dep, []).append(obj.id)
    return closure(object_id, lambda o: reverse.get(o, []))


ChainStep = tuple[Literal["depends_on", "dependent"], SupportObject]


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """One neighbouring layer to check: its nearest object and the party that checks it."""

    layer: Layer
    object_id: str
    party: str
    relation: Literal["depends_on", "dependent"]


class DependencyGraph:
    """The contract's dependency graph with the questions correlation asks of it.

    - **related**: the object and everything above or below it, transitively;
    - **origin**: the deepest failing dependency — among the failing objects, one that depends on
      no other failing object; ties go to the one most other failing objects depend on, then to
      the lower layer (hardware before os before dbms …), then to the id;
    - **scope**: the business units of the failing objects and of everything above the origin;
    - **component**: the weakly connected component, named by its smallest object id.
    """

    def __init__(self, contract: Contract) -> None:
        ids = [o.id for o in contract.objects]
        self._below = {i: frozenset(dependencies(contract, i)) for i in ids}
        self._above = {i: frozenset(dependents(contract, i)) for i in ids}
        self._layer = {o.id: o.layer for o in contract.objects}
        self._unit = {o.id: o.business_unit for o in contract.objects}
        parent = {i: i for i in ids}

        def find(i: str) -> str:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for obj in contract.objects:
            for dep in obj.depends_on:
                if dep in parent:
                    a, b = find(obj.id), find(dep)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        self._component = {i: find(i) for i in ids}
        # asked for every alert of an incident (issue 28): the answers depend only on the set
        # of failing objects this immutable graph knows, cached per graph
        self._origin = functools.lru_cache(maxsize=4096)(self._origin_of)
        self._scope = functools.lru_cache(maxsize=4096)(self._scope_of)

    def component(self, object_id: str) -> str | None:
        return self._component.get(object_id)

    def related(self, object_id: str) -> frozenset[str]:
        """The object itself and everything above or below it in the graph."""
        if object_id not in self._below:
            return frozenset()
        return self._below[object_id] | self._above[object_id] | {object_id}

    def below(self, object_id: str) -> frozenset[str]:
        return self._below.get(object_id, frozenset())

    def layer(self, object_id: str | None) -> Layer | None:
        return self._layer.get(object_id) if object_id else None

    def origin(self, failing: Iterable[str]) -> str | None:
        return self._origin(frozenset(o for o in failing if o in self._below))

    def _origin_of(self, known: frozenset[str]) -> str | None:
        if not known:
            return None
        roots = [o for o in known if not (self._below[o] & known)]
        return min(
            roots,
            key=lambda o: (
                -len(self._above[o] & known),
                LAYER_ORDER.get(self._layer[o], len(LAYER_ORDER)),
                o,
            ),
        )

    def scope(self, failing: Iterable[str], origin: str | None) -> list[str]:
        return list(self._scope(frozenset(failing), origin))

    def _scope_of(self, failing: frozenset[str], origin: str | None) -> tuple[str, ...]:
        objects = set(failing) | ({origin} if origin else set())
        if origin in self._above:
            objects |= self._above[origin]
        return tuple(sorted({self._unit[o] for o in objects if self._unit.get(o)}))


class Relations:
    """What to check along an object's dependency chain, by whom and from when."""

    def __init__(self, contract: Contract, duty: Duty, timing: Timing) -> None:
        self._contract = contract
        self._objects = {o.id: o for o in contract.objects}
        self._duty = duty
        self._timing = timing

    def chain(self, object_id: str) -> list[ChainStep]:
        """What to check along the dependency chain: everything the object depends on
        (nearest first), then everything that depends on it."""
        out: list[ChainStep] = []
        for relation, ids in (
            ("depends_on", dependencies(self._contract, object_id)),
            ("dependent", dependents(self._contract, object_id)),
        ):
            for other_id in ids:
                other = self._objects.get(other_id)
                if other is not None:
                    out.append((relation, other))  # type: ignore[arg-type]
        return out

    def checks(self, object_id: str) -> list[CheckPlan]:
        """Who checks what when ``object_id`` fails: one check per neighbouring layer along the
        chain, the nearest object of each layer, by that layer's primary party (the drill's
        "who checks each layer"; the router opens them, intake lets their parties report)."""
        obj = self._objects.get(object_id)
        if obj is None:
            return []
        out: list[CheckPlan] = []
        seen = {obj.layer}
        for relation, other in self.chain(object_id):
            party = self._duty.owner_of(other.layer, None)
            if other.layer in seen or party is None:
                continue
            seen.add(other.layer)
            out.append(CheckPlan(other.layer, other.id, party, relation))
        return out

    def engaged_at(self, object_id: str, relation: str, at: datetime) -> datetime | None:
        """When the party checking ``object_id`` for an incident at ``at`` is engaged: at once
        (None), unless the object is a dependent whose own support hours are closed at ``at`` —
        then when they open. A business-hours device group above a failed server is checked
        when its users are back, not in the night (the drill says it, the router chases it)."""
        other = self._objects.get(object_id)
        if relation != "dependent" or other is None or not self._timing.known(other.calendar):
            return None
        hours = self._timing.calendar(other.calendar)
        return None if hours.is_open(at) else hours.next_open(at)

    def nearest_in_layer(self, object_id: str | None, layer: Layer) -> str | None:
        """The nearest object of ``layer`` along the object's chain."""
        if object_id is None:
            return None
        return next((o.id for _, o in self.chain(object_id) if o.layer == layer), None)
