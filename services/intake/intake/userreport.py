"""User reports (``POST /v1/incidents``): who cannot use what, since when, how many people.

The first-line path of the seed's workflow: a person, not a monitoring system, reports. The
report becomes an alert like any other, so it correlates with monitoring alerts on the same or
connected objects instead of opening a second incident.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from intake.labels import make_alert
from shared.contract import Contract
from shared.events import Alert, Category
from shared.instants import Instant

SOURCE = "user"


class UserReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reporter: str = Field(min_length=1, max_length=200, description="who reports")
    contact: str = Field("", max_length=200, description="how to reach the reporter")
    department: str = Field("", max_length=200, description="the reporter's business unit")
    what: str = Field(
        min_length=1, max_length=200, description="the system they cannot use: object id or name"
    )
    object_id: str | None = Field(None, description="the contract object, when known")
    description: str = Field("", max_length=4000)
    since: Instant
    affected_users: int = Field(1, ge=1, le=1_000_000)
    cannot_work: bool = Field(True, description="False: it works, but badly")


def normalise(report: UserReport, contract: Contract, now: datetime, report_id: str) -> Alert:
    object_id = report.object_id
    if object_id is None and contract.object(report.what) is not None:
        object_id = report.what
    labels = {"service": report.what, "reporter": report.reporter}
    if report.department:
        labels["business_unit"] = report.department
    summary = f"{report.reporter}: cannot use {report.what}" + (
        f" ({report.affected_users} people)" if report.affected_users > 1 else ""
    )
    annotations = {
        "summary": summary,
        "description": report.description,
        "contact": report.contact,
        "affected_users": str(report.affected_users),
    }
    return make_alert(
        contract,
        source=SOURCE,
        fingerprint=f"user:{report_id}",
        status="firing",
        labels=labels,
        annotations=annotations,
        summary=summary,
        starts_at=min(report.since, now),
        object_id=object_id,
        category=Category.OUTAGE if report.cannot_work else Category.DEGRADATION,
    )
