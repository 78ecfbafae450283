"""Baton's one base model: frozen (a value, never patched) and strict about unknown fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Foreign(BaseModel):
    """Another system's payload (Alertmanager, Grafana, PagerDuty, Zabbix): frozen, validated
    strictly where Baton depends on it, and fields Baton does not use ignored, so that a newer
    release of that system keeps working."""

    model_config = ConfigDict(frozen=True, extra="ignore")
