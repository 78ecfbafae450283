"""Correlation over the contract's dependency graph: pure functions, built once per contract.

The rules (implemented by ``shared.contract.view.DependencyGraph``):

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

from shared.contract import Contract
from shared.contract.view import LAYER_ORDER, ContractView, DependencyGraph

Graph = DependencyGraph
"""The graph intake correlates on: the contract version's (``ContractView.graph``)."""
__all__ = ["LAYER_ORDER", "Graph", "alert_key", "graph_of"]


def graph_of(contract: Contract) -> Graph:
    """The dependency graph of ``contract``'s version, built once per version."""
    return ContractView.of(contract).graph


def alert_key(graph: Graph, object_id: str | None, fingerprint: str) -> str:
    """The alerts topic's message key: the object's graph component, else the fingerprint."""
    component = graph.component(object_id) if object_id else None
    return f"component:{component}" if component else f"fingerprint:{fingerprint}"
