"""Changes beside incidents (ADR 46): what intake takes in as change records.

Two ways in, one record: a PagerDuty change event (``POST /v2/change/enqueue``) and a CI/CD or
change-management tool's ``POST /v1/changes`` (authenticated as the ``changes`` source, like a
monitoring source). Each becomes ``baton.change.recorded`` on the ``changes`` topic, keyed by its
object, with an id that follows from its content (a retried post is the same change); reporting
keeps them and shows, beside an incident, those on its origin and what the origin depends on.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from intake import pagerduty
from shared.contract import Contract
from shared.events import (
    Actor,
    ChangeRecordedV1,
    Envelope,
    ProblemCloseRequestedV1,
    make_event,
    stable_id,
)
from shared.instants import Instant

SOURCE = "changes"


class ChangeIn(BaseModel):
    """A change a tool reports: an object of the contract, when, what, and where to read more."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object: str = Field(min_length=1, max_length=200, description="the contract object's id")
    at: Instant = Field(description="when the change was made")
    summary: str = Field(min_length=1, max_length=1024)
    link: str | None = Field(None, max_length=2048, pattern=r"^https?://")
    by: str | None = Field(None, max_length=200, description="who made it (a pipeline, a person)")


def from_tool(change: ChangeIn, source: str, now: datetime) -> Envelope:
    # the change as the tool reported it (at, summary, link, by), its object as a record names it
    record = ChangeRecordedV1(
        change_id=stable_id("change", source, change.model_dump_json()),
        object_id=change.object,
        source=source,
        **change.model_dump(exclude={"object"}),
    )
    return _event(record, now)


def from_pagerduty(change: pagerduty.ChangeEvent, contract: Contract, now: datetime) -> Envelope:
    """A PagerDuty change event on the object its source or details name (None: no matcher
    placed it; it still shows in ``baton changes list``)."""
    record = ChangeRecordedV1(
        change_id=stable_id("change", change.model_dump_json()),
        object_id=pagerduty.change_object(change, contract),
        at=change.payload.timestamp or now,
        summary=change.payload.summary,
        link=next((link.href[:2048] for link in change.links), None),
        source=pagerduty.SOURCE,
        by=change.payload.source,
    )
    return _event(record, now)


def _event(record: ChangeRecordedV1, now: datetime) -> Envelope:
    # no subject: a change is about an object, not an incident; its key is the object's id
    return make_event(record, source="intake", time=now, event_id=record.change_id)


def key(event: Envelope) -> str | None:
    return event.data_as(ChangeRecordedV1).object_id


class ProblemClose(BaseModel):
    """A party closing a problem record (ADR 48): who, the root cause, what was changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    party: str = Field(min_length=1, max_length=200)
    actor: Actor
    cause: str = Field(min_length=1, max_length=4000)
    changed: list[str] = Field(min_length=1, max_length=50)


def close_requested(problem_id: str, asked: ProblemClose, now: datetime) -> Envelope:
    """The request the router decides, with intake's instant (ADR 34)."""
    request = ProblemCloseRequestedV1(problem_id=problem_id[:64], **asked.model_dump(), at=now)
    return make_event(
        request,
        source=f"http:{asked.party}",
        time=now,
        event_id=stable_id("problem-close", problem_id, asked.model_dump_json()),
    )
