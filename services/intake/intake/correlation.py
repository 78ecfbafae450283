"""Correlation over the contract's dependency graph: pure functions, built once per contract.

- **related**: an alert on object B joins an open incident that has an alert on object A when
  A and B are the same object or one depends on the other, transitively (siblings that only
  share a dependency stay apart until that dependency alerts itself).
- **origin**: the deepest failing dependency — among the incident's failing objects, one that
  depends on no other failing object; ties go to the one most other failing objects depend on,
  then to the lower layer (hardware before os before dbms …), then to the id.
- **scope**: the business units of the failing objects and of everything that depends on the
  origin (what stops working if the origin does).
- **partition key**: the weakly connected component of the graph, named by its smallest object
  id, so related alerts meet the same consumer (docs/adr/0005-intake-correlation-key.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.contract import Contract
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


class Graph:
    """The contract's dependency graph with the questions intake asks of it."""

    def __init__(self, contract: Contract) -> None:
        self._contract = contract
        ids = [o.id for o in contract.objects]
        self._below = {i: frozenset(contract.dependencies(i)) for i in ids}
        self._above = {i: frozenset(contract.dependents(i)) for i in ids}
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

    def component(self, object_id: str) -> str | None:
        return self._component.get(object_id)

    def related(self, object_id: str) -> frozenset[str]:
        """The object itself and everything above or below it in the graph."""
        if object_id not in self._below:
            return frozenset()
        return self._below[object_id] | self._above[object_id] | {object_id}

    def layer(self, object_id: str | None) -> Layer | None:
        return self._layer.get(object_id) if object_id else None

    def origin(self, failing: Iterable[str]) -> str | None:
        known = {o for o in failing if o in self._below}
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
        objects = set(failing) | ({origin} if origin else set())
        if origin in self._above:
            objects |= self._above[origin]
        return sorted({self._unit[o] for o in objects if self._unit.get(o)})


def alert_key(graph: Graph, object_id: str | None, fingerprint: str) -> str:
    """The alerts topic's message key: the object's graph component, else the fingerprint."""
    component = graph.component(object_id) if object_id else None
    return f"component:{component}" if component else f"fingerprint:{fingerprint}"
