"""Check-ins, change records, problem records, contract publications and dead letters."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from shared.events.base import Actor, Layer, Model


class ChangeRecordedV1(Model):
    """A change beside the incidents (ADR 46): a PagerDuty change event, a CI/CD or change
    management tool's ``POST /v1/changes``, or a contract publication — on one object, or on
    every object (``object_id`` None: a contract publication, a change no matcher placed)."""

    change_id: uuid.UUID = Field(description="stable per change: a repeat is the same change")
    object_id: str | None = Field(None, description="the contract object changed")
    at: AwareDatetime = Field(description="when the change was made")
    summary: str = Field(min_length=1, max_length=1024)
    link: str | None = Field(None, max_length=2048)
    source: str = Field(description="pagerduty, a change source's name, or contract")
    by: str | None = Field(None, max_length=200, description="who made it, as the source says")


class ProblemOpenedV1(Model):
    """Incidents keep recurring on one origin: a problem record opens, owned by the origin
    layer's primary, told to it and to the coordinator (ADR 48). Subject: the incident that
    made the count."""

    problem_id: str
    origin_object: str
    layer: Layer | None
    owner: str = Field(description="the primary party of the origin's layer")
    coordinator: str
    incidents: list[str] = Field(description="the recurring incidents, oldest first")
    threshold: int = Field(description="the contract's problems.incidents")
    within: timedelta = Field(description="the contract's problems.within")
    opened_at: AwareDatetime
    fix_due: AwareDatetime = Field(description="when the fix is due (problems.fix_due)")


class ProblemOpenedV2(ProblemOpenedV1):
    """A problem record opened (v2: ``group``, when the contract counts incidents per group of
    objects and ``origin_object`` is the group's object that made the count; ADR 55)."""

    group: str | None = Field(
        None, description="the contract's group counted as one origin (problems.group_by)"
    )


class ProblemLinkedV1(Model):
    """One more incident on the origin of an open problem record: linked to it (ADR 48)."""

    problem_id: str
    origin_object: str
    owner: str
    coordinator: str
    incident_id: str
    incidents: int = Field(description="how many incidents the problem links now")
    linked_at: AwareDatetime


class ProblemCloseRequestedV1(Model):
    """A party asks to close a problem record (``POST /v1/problems/{id}/close`` at intake,
    its token checked there): the router decides (ADR 48)."""

    problem_id: str = Field(min_length=1, max_length=64)
    party: str
    actor: Actor
    cause: str = Field(max_length=4000, description="the root cause found")
    changed: list[Annotated[str, Field(max_length=1000)]] = Field(
        max_length=50, description="what was changed so that it does not recur"
    )
    at: AwareDatetime


class ProblemClosedV1(Model):
    """A problem record closed, with its cause and what was changed (ADR 48)."""

    problem_id: str
    origin_object: str
    owner: str
    coordinator: str
    closed_by: str = Field(description="party:actor")
    cause: str
    changed: list[str]
    incidents: list[str]
    closed_at: AwareDatetime


class ProblemCloseRefusedV1(Model):
    """A close the router refused, with the reason (ADR 48)."""

    problem_id: str
    owner: str
    coordinator: str
    party: str
    actor: str
    reason: str
    at: AwareDatetime


class ContractPublishedV1(Model):
    """A linted contract version, published whole to the compacted contract topic."""

    contract_id: str
    version: str
    content_hash: str = Field(description="sha256 of the contract's canonical JSON")
    document: dict[str, Any] = Field(description="the contract, as validated JSON")


class DeadLetterV1(Model):
    reason: str
    origin: str = Field(description="where the payload came from: an endpoint or a topic")
    payload: str = Field(description="the refused payload, as text (UTF-8, replaced if not)")
    headers: dict[str, str] = Field(default_factory=dict)


class CheckinPingV1(Model):
    """A run of an expected event reports (healthchecks.io's ping protocol over Kafka): on the
    checkins topic, key = the check-in key. ``kind`` ``success`` (or ``exit_status`` 0),
    ``start``, ``fail`` (or a non-zero ``exit_status``), ``log`` (kept, changes nothing)."""

    key: str = Field(pattern=r"^[A-Za-z0-9_-]{8,128}$", description="the check-in key")
    kind: Literal["success", "start", "fail", "log"] = "success"
    exit_status: int | None = Field(None, ge=0, le=255)
    at: AwareDatetime = Field(description="when the run reported (later than now is now)")
    body: str = Field("", max_length=10_000, description="the run's log")
