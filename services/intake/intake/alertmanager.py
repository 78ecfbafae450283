"""Prometheus Alertmanager webhook (payload version 4) → Baton alerts.

The foreign shape is validated strictly where Baton depends on it; fields Baton does not use
are ignored so that newer Alertmanager releases keep working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from intake.labels import category_hint, make_alert
from shared.contract import Contract
from shared.events import Alert
from shared.instants import EndInstant, Instant
from shared.model import Foreign

__all__ = [
    "AlertGroup",
    "AlertmanagerAlert",
    "AlertmanagerWebhook",
    "as_alert",
    "category_hint",
    "normalise",
]
SOURCE = "alertmanager"


class AlertmanagerAlert(Foreign):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Instant  # noqa: N815 - the wire name
    endsAt: EndInstant | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = Field(min_length=1)


class AlertGroup(Foreign):
    """What Alertmanager says of a notification's group (Grafana sends it too)."""

    status: Literal["firing", "resolved"]
    receiver: str = ""
    truncatedAlerts: int = 0  # noqa: N815
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815


class AlertmanagerWebhook(AlertGroup):
    version: Literal["4"]
    groupKey: str  # noqa: N815
    alerts: list[AlertmanagerAlert] = Field(min_length=1)


def normalise(
    webhook: AlertmanagerWebhook, contract: Contract, now: datetime | None = None
) -> list[Alert]:
    del now  # Alertmanager dates every alert itself
    return [
        as_alert(item, contract, SOURCE, f"am:{item.fingerprint}", item.annotations)
        for item in webhook.alerts
    ]


def as_alert(
    item: AlertmanagerAlert,
    contract: Contract,
    source: str,
    fingerprint: str,
    annotations: dict[str, str],
    *links: str,
) -> Alert:
    """Baton's alert from one of Alertmanager's shape (Grafana sends it too, with more links)."""
    return make_alert(
        contract,
        source=source,
        fingerprint=fingerprint,
        status=item.status,
        labels=item.labels,
        annotations=annotations,
        summary=item.annotations.get("summary", item.labels.get("alertname", "")),
        starts_at=item.startsAt,
        ends_at=item.endsAt,
        links=[item.generatorURL, *links],
    )
