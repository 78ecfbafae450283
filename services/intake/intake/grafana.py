"""Grafana alerting webhook → Baton alerts.

Grafana's contact-point webhook sends the Alertmanager shape plus ``orgId``, ``title``,
``state``, ``message`` and, per alert, ``values``, ``silenceURL``, ``dashboardURL``,
``panelURL`` (documented under "Configure the webhook notifier for Alerting").
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from intake.labels import make_alert
from shared.contract import Contract
from shared.events import Alert
from shared.instants import EndInstant, Instant

SOURCE = "grafana"


class _Foreign(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class GrafanaAlert(_Foreign):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Instant  # noqa: N815 - the wire name
    endsAt: EndInstant | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = Field(min_length=1)
    silenceURL: str = ""  # noqa: N815
    dashboardURL: str = ""  # noqa: N815
    panelURL: str = ""  # noqa: N815
    imageURL: str = ""  # noqa: N815
    values: dict[str, float | None] | None = None
    valueString: str = ""  # noqa: N815


class GrafanaWebhook(_Foreign):
    receiver: str = ""
    status: Literal["firing", "resolved"]
    orgId: int  # noqa: N815
    alerts: list[GrafanaAlert] = Field(min_length=1)
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815
    version: str = "1"
    groupKey: str = ""  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815
    title: str = ""
    state: str = ""
    message: str = ""


def normalise(webhook: GrafanaWebhook, contract: Contract, now: datetime) -> list[Alert]:
    del now
    alerts = []
    for item in webhook.alerts:
        annotations = dict(item.annotations)
        if item.values:
            annotations["values"] = ", ".join(f"{k}={v}" for k, v in sorted(item.values.items()))
        elif item.valueString:
            annotations["values"] = item.valueString
        alerts.append(
            make_alert(
                contract,
                source=SOURCE,
                fingerprint=f"grafana:{webhook.orgId}:{item.fingerprint}",
                status=item.status,
                labels=item.labels,
                annotations=annotations,
                summary=item.annotations.get("summary", item.labels.get("alertname", "")),
                starts_at=item.startsAt,
                ends_at=item.endsAt,
                links=[item.generatorURL, item.dashboardURL, item.panelURL, item.silenceURL],
            )
        )
    return alerts
