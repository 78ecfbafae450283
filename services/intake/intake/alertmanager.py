"""Prometheus Alertmanager webhook (payload version 4) → Baton alerts.

The foreign shape is validated strictly where Baton depends on it; fields Baton does not use
are ignored so that newer Alertmanager releases keep working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contract import Contract
from shared.events import Alert, Category

_UNSET_END = datetime.fromisoformat("0001-01-01T00:00:00+00:00")


class _Foreign(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AlertmanagerAlert(_Foreign):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: AwareDatetime  # noqa: N815 - the wire name
    endsAt: AwareDatetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = Field(min_length=1)


class AlertmanagerWebhook(_Foreign):
    version: Literal["4"]
    groupKey: str  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815
    alerts: list[AlertmanagerAlert] = Field(min_length=1)


def category_hint(labels: dict[str, str]) -> Category:
    """A ``category`` label wins; otherwise a critical severity is an outage."""
    try:
        return Category(labels["category"])
    except (KeyError, ValueError):
        pass
    return Category.OUTAGE if labels.get("severity") == "critical" else Category.DEGRADATION


def normalise(webhook: AlertmanagerWebhook, contract: Contract) -> list[Alert]:
    alerts = []
    for item in webhook.alerts:
        obj = contract.match_alert(item.labels)
        ends_at = item.endsAt if item.endsAt and item.endsAt > _UNSET_END else None
        alerts.append(
            Alert(
                source="alertmanager",
                fingerprint=f"am:{item.fingerprint}",
                status=item.status,
                object_id=obj.id if obj else None,
                layer=obj.layer if obj else None,
                severity=item.labels.get("severity", "unknown"),
                category_hint=category_hint(item.labels),
                summary=item.annotations.get("summary", item.labels.get("alertname", "")),
                labels=item.labels,
                annotations=item.annotations,
                starts_at=item.startsAt,
                ends_at=ends_at,
                links=[item.generatorURL] if item.generatorURL else [],
            )
        )
    return alerts
