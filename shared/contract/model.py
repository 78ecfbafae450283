"""Contract model (minimal walking-skeleton version; the full model is issue 3).

The services only ask the contract questions through the methods of ``Contract``:
``object()``, ``primary_party()``, ``match_alert()``, ``priority()``, ``sla_target()``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.events import Category, Layer

Criticality = Literal["critical", "high", "medium", "low"]


class ContractError(ValueError):
    """The contract file cannot be loaded; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Party(_Strict):
    name: str
    kind: Literal["hardware", "os_dbms", "apps_integrations", "customer", "vendor", "other"]
    contact: str


class SupportObject(_Strict):
    id: str
    name: str
    kind: str
    layer: Layer
    criticality: Criticality
    calendar: str = "24x7"
    depends_on: list[str] = Field(default_factory=list)
    match: dict[str, str] = Field(
        default_factory=dict, description="alert labels that identify this object"
    )


class SlaTarget(_Strict):
    category: Category
    priority: str
    response: timedelta
    recovery: timedelta


class Contract(_Strict):
    id: str
    version: str
    parties: dict[str, Party]
    layers: dict[Layer, str] = Field(description="layer -> its one primary party")
    coordinator: str
    objects: list[SupportObject]
    priority_matrix: dict[Criticality, dict[Category, str]]
    sla: list[SlaTarget]

    @model_validator(mode="after")
    def _references(self) -> Contract:
        for layer, party in self.layers.items():
            if party not in self.parties:
                raise ValueError(f"layers.{layer.value}: unknown party {party!r}")
        if self.coordinator not in self.parties:
            raise ValueError(f"coordinator: unknown party {self.coordinator!r}")
        ids = {o.id for o in self.objects}
        for obj in self.objects:
            for dep in obj.depends_on:
                if dep not in ids:
                    raise ValueError(f"objects.{obj.id}.depends_on: unknown object {dep!r}")
        return self

    def object(self, object_id: str) -> SupportObject | None:
        return next((o for o in self.objects if o.id == object_id), None)

    def primary_party(self, layer: Layer) -> str:
        return self.layers[layer]

    def match_alert(self, labels: dict[str, str]) -> SupportObject | None:
        """The object whose match labels all appear in ``labels`` (most specific wins)."""
        best: SupportObject | None = None
        for obj in self.objects:
            rule = obj.match or {"object": obj.id}
            if all(labels.get(k) == v for k, v in rule.items()) and (
                best is None or len(rule) > len(best.match or {"object": best.id})
            ):
                best = obj
        return best

    def priority(self, criticality: Criticality, category: Category) -> str:
        return self.priority_matrix[criticality][category]

    def sla_target(self, category: Category, priority: str) -> SlaTarget | None:
        return next(
            (t for t in self.sla if t.category == category and t.priority == priority), None
        )


def load_contract(path: Path) -> Contract:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContractError(f"{path}: {exc}") from exc
    try:
        return Contract.model_validate(doc)
    except ValidationError as exc:
        raise ContractError(f"{path}: {exc}") from exc
