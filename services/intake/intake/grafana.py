"""Grafana alerting webhook → Baton alerts.

Grafana's contact-point webhook sends the Alertmanager shape plus ``orgId``, ``title``,
``state``, ``message`` and, per alert, ``values``, ``silenceURL``, ``dashboardURL``,
``panelURL`` (documented under "Configure the webhook notifier for Alerting").
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from intake.alertmanager import AlertGroup, AlertmanagerAlert, as_alert
from shared.contract import Contract
from shared.events import Alert

SOURCE = "grafana"


class GrafanaAlert(AlertmanagerAlert):
    silenceURL: str = ""  # noqa: N815
    dashboardURL: str = ""  # noqa: N815
    panelURL: str = ""  # noqa: N815
    imageURL: str = ""  # noqa: N815
    values: dict[str, float | None] | None = None
    valueString: str = ""  # noqa: N815


class GrafanaWebhook(AlertGroup):
    orgId: int  # noqa: N815
    alerts: list[GrafanaAlert] = Field(min_length=1)
    version: str = "1"
    groupKey: str = ""  # noqa: N815
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
        fingerprint = f"grafana:{webhook.orgId}:{item.fingerprint}"
        links = (item.dashboardURL, item.panelURL, item.silenceURL)
        alerts.append(as_alert(item, contract, SOURCE, fingerprint, annotations, *links))
    return alerts
