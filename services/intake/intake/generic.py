"""Baton's own JSON alert format, for anything that is neither Alertmanager, Grafana,
PagerDuty nor Zabbix: ``POST /v1/alerts`` with ``{"alerts": [...]}``.

Our format, so it is strict: an unknown field is an error (it is usually a typo).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from intake.labels import make_alert
from shared.contract import Contract
from shared.events import Alert, Category
from shared.instants import Instant
from shared.model import Model

SOURCE = "generic"


class GenericAlert(Model):
    source: str = Field("generic", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    fingerprint: str = Field(min_length=1, max_length=256)
    status: Literal["firing", "resolved"] = "firing"
    summary: str = Field(min_length=1, max_length=1024)
    severity: str = Field("unknown", max_length=32)
    category: Category | None = None
    object_id: str | None = Field(None, description="a contract object id, when the sender knows")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    links: list[str] = Field(default_factory=list)


class GenericBatch(Model):
    alerts: list[GenericAlert] = Field(min_length=1, max_length=1000)


def normalise(batch: GenericBatch, contract: Contract, now: datetime) -> list[Alert]:
    return [
        make_alert(
            contract,
            source=f"{SOURCE}:{item.source}" if item.source != SOURCE else SOURCE,
            fingerprint=f"{item.source}:{item.fingerprint}",
            status=item.status,
            labels={"severity": item.severity, **item.labels},
            annotations={"summary": item.summary, **item.annotations},
            summary=item.summary,
            starts_at=item.starts_at or now,
            ends_at=item.ends_at if item.status == "resolved" else None,
            links=item.links,
            object_id=item.object_id,
            category=item.category,
        )
        for item in batch.alerts
    ]
