"""The recovery clock pauses by itself while access or an approval is late, and resumes (ADR 50).

The rules, as the contract's pause reasons ``no-access`` and ``no-approver`` state them:

- **When.** An access request (``baton.incident.access_request``) waits for its approval (where
  the rule needs one at that hour) and then for its grant. If its lead time passes and it still
  waits, the clock pauses *at the instant the lead time passed* (``due_at``): ``no-approver``
  while the approval is missing, ``no-access`` while only the grant is — each only where the
  incident's contract lists that reason, and only for the clocks the contract gives it
  (recovery, in the example). A request answered before its lead time passes pauses nothing.
- **Until.** The pause ends at the answer it waited for: the approval ends ``no-approver``, the
  grant ends ``no-access``. A denial or a rejection ends nothing: the contractor still cannot
  work, and the customer's party confirms or disputes the pause. A request approved in time
  that then waits for its grant is re-timed as ``no-access`` at the same ``due_at``; one
  approved late is not paused again for its grant (one pause per request).
- **With what.** The pause is a clock fact like a party's pause, booked to the requesting party
  with ``baton`` as its actor, and its evidence is filled from the record: the request's id,
  rule, object and time, the lead time that passed, and whom Baton asked and when.
- **As rows.** One row per request (``access_timers``), written in the transaction of the event
  that made it, locked by the tick with ``FOR UPDATE SKIP LOCKED``; ``fired_at`` fences it — a
  row fires once, and an answer that arrives after the due instant but before the tick (a late
  tick) pauses at ``due_at`` and resumes at the answer in one step, so the paused time does not
  depend on when the tick ran.

sla-clock stays the only writer of clock facts: these are facts in the incident's record, and
the clock events they cause come out of the same fold and ``transition`` as every other's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from shared.db import Conn
from shared.events import (
    AccessRequestV1,
    AccessStatus,
    AccessStep,
    ClockKind,
    Envelope,
    stable_id,
)
from sla_clock import store
from sla_clock.decide import timers, transition
from sla_clock.store import Saved
from sla_clock.timeline import Fact, IncidentRecord, Rules, fold
from sla_clock.timer_port import table

NO_ACCESS = "no-access"
NO_APPROVER = "no-approver"
ACTOR = "baton"
ANSWERS = {NO_APPROVER: AccessStep.APPROVE, NO_ACCESS: AccessStep.GRANT}


def reason_for(request: AccessRequestV1) -> str | None:
    """The pause reason the request would pause for now: what it still waits for."""
    waiting = request.waiting_for
    if waiting == "approval":
        return NO_APPROVER
    return NO_ACCESS if waiting == "grant" else None


def allowed(reason: str, pause_reasons: dict[str, list[ClockKind]]) -> list[ClockKind]:
    """The clocks the contract lets ``reason`` pause (none: the contract does not list it)."""
    return list(pause_reasons.get(reason, []))


@dataclass(frozen=True, slots=True)
class AccessTimer:
    """One request's pending (or fired) automatic pause."""

    request_id: str
    incident_id: str
    reason: str
    due: datetime
    part: int
    request: AccessRequestV1
    fired_at: datetime | None = None

    @property
    def fact_id(self) -> uuid.UUID:
        return stable_id("access-pause", self.request_id)


def evidence(request: AccessRequestV1, reason: str) -> list[str]:
    """The pause's evidence, filled from the request's record."""
    waited = (
        f"approval by {request.approver}"
        if reason == NO_APPROVER
        else f"grant by {request.issued_by}"
    )
    asked = ", ".join(request.tell) or "nobody"
    return [
        f"access request {request.request_id} by {request.requested_by} at"
        f" {request.requested_at.isoformat()}: {request.mode} access to {request.object_id}"
        f" under {request.rule}",
        f"lead time {request.lead_time} of {request.rule} passed at {request.due_at.isoformat()}"
        f" without {waited}",
        f"asked by Baton at {request.requested_at.isoformat()}: {asked}",
    ]


def pause_fact(timer: AccessTimer, clock: ClockKind) -> Fact:
    request = timer.request
    return Fact(
        kind="pause",
        at=timer.due,
        event_id=stable_id("access-pause", timer.request_id, clock.value),
        clock=clock,
        reason=timer.reason,
        party=request.requested_by.partition(":")[0],
        actor=ACTOR,
        evidence=evidence(request, timer.reason),
    )


def resume_fact(timer: AccessTimer, answer: AccessRequestV1, clock: ClockKind) -> Fact | None:
    """The resume that ``answer`` brings to a fired pause, or None while it still waits."""
    ends = answer.approved_at if timer.reason == NO_APPROVER else answer.granted_at
    if ends is None:
        return None
    who = answer.approved_by if timer.reason == NO_APPROVER else answer.granted_by
    party, _, actor = (who or "").partition(":")
    return Fact(
        kind="resume",
        at=max(ends, timer.due),
        event_id=stable_id("access-resume", timer.request_id, clock.value),
        clock=clock,
        reason=timer.reason,
        party=party,
        actor=actor or ACTOR,
    )


@dataclass(frozen=True, slots=True)
class Step:
    """What one access-request event does to the request's timer and the incident's facts."""

    facts: list[Fact]
    timer: AccessTimer | None  # the row to keep (None: delete the pending one)


def on_request(
    found: AccessTimer | None,
    request: AccessRequestV1,
    incident_id: str,
    part: int,
    pause_reasons: dict[str, list[ClockKind]],
) -> Step:
    """The facts and the timer row after ``request`` (one step of it), given its row."""
    if found is not None and found.fired_at is not None:
        if request.step != ANSWERS[found.reason]:
            return Step([], found)  # not the answer the pause waits for
        clocks = allowed(found.reason, pause_reasons)
        return Step([f for c in clocks if (f := resume_fact(found, request, c))], found)
    reason = reason_for(request)
    if found is not None and reason != found.reason and request.at >= found.due:
        # the awaited answer came after the due instant but before the tick fired it
        clocks = allowed(found.reason, pause_reasons)
        facts = [pause_fact(found, c) for c in clocks]
        facts += [f for c in clocks if (f := resume_fact(found, request, c)) is not None]
        return Step(facts, _fired(found, request.at))
    late = found is not None and found.due <= request.at  # approved late: no second pause
    keep = reason is not None and request.status != AccessStatus.EMERGENCY and not late
    if not keep or reason is None or not allowed(reason, pause_reasons):
        return Step([], None)
    timer = AccessTimer(
        request_id=request.request_id,
        incident_id=incident_id,
        reason=reason,
        due=request.due_at,
        part=part,
        request=request,
    )
    return Step([], timer)


def _fired(timer: AccessTimer, at: datetime) -> AccessTimer:
    return AccessTimer(
        timer.request_id, timer.incident_id, timer.reason, timer.due, timer.part, timer.request, at
    )


def on_fire(timer: AccessTimer, pause_reasons: dict[str, list[ClockKind]]) -> list[Fact]:
    """The pause facts of a due timer."""
    return [pause_fact(timer, c) for c in allowed(timer.reason, pause_reasons)]


# --------------------------------------------------------------------------- rows


def _row(row: Mapping[str, Any]) -> AccessTimer:
    return AccessTimer(**{**row, "request": AccessRequestV1.model_validate_json(row["request"])})


def _values(timer: AccessTimer, part: int) -> tuple[object, ...]:
    request = orjson.dumps(timer.request.model_dump(mode="json")).decode()
    return (timer.request_id, timer.incident_id, timer.reason, timer.due, part, request)


ACCESS_TIMERS = table(
    AccessTimer,
    "access_timers",
    ("request_id",),
    subject="incident_id",
    read=_row,
    write=lambda t, part: (*_values(t, part), t.fired_at),
)
"""One automatic pause per access request, due when its lead time passes unanswered."""
_COLUMNS = ", ".join(ACCESS_TIMERS.columns)


async def load(conn: Conn, request_id: str) -> AccessTimer | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM access_timers WHERE request_id = $1 FOR UPDATE",  # noqa: S608
        request_id,
    )
    return None if row is None else _row(dict(row))


async def save(conn: Conn, request_id: str, timer: AccessTimer | None) -> None:
    if timer is None:
        await conn.execute(
            "DELETE FROM access_timers WHERE request_id = $1 AND fired_at IS NULL", request_id
        )
        return
    await conn.execute(
        "INSERT INTO access_timers(request_id, incident_id, reason, due, part, request, fired_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT (request_id) DO UPDATE SET"
        " reason = EXCLUDED.reason, due = EXCLUDED.due, request = EXCLUDED.request,"
        " fired_at = EXCLUDED.fired_at",
        *_values(timer, timer.part),
        timer.fired_at,
    )


# --------------------------------------------------------------------------- the shell's steps


def reasons_of(rules: Rules, record: IncidentRecord) -> dict[str, list[ClockKind]]:
    """The pause reasons of the version ``record``'s clocks run under, with their clocks."""
    return {r.id: list(r.clocks) for r in rules.of(record).contract.pause_reasons}


def with_facts(
    record: IncidentRecord, facts: list[Fact], rules: Rules, now: datetime
) -> tuple[IncidentRecord, list[Envelope]]:
    """``record`` after ``facts``, one at a time, and the clock events each causes."""
    out: list[Envelope] = []
    for fact in facts:
        after = record.with_fact(fact)
        out += transition(
            after, fold(record, rules), fold(after, rules), fact=fact, cause=fact.event_id, now=now
        )
        record = after
    return record, out


async def on_event(
    conn: Conn,
    *,
    record: IncidentRecord | None,
    event: Envelope,
    part: int,
    rules: Rules,
    now: datetime,
) -> tuple[IncidentRecord | None, list[Envelope]]:
    """An access request's step: its timer row kept, and the facts it brings applied."""
    if record is None:
        return record, []
    request = event.data_as(AccessRequestV1)
    found = await load(conn, request.request_id)
    step = on_request(found, request, record.incident_id, part, reasons_of(rules, record))
    if step.timer != found:
        await save(conn, request.request_id, step.timer)
    return with_facts(record, step.facts, rules, now)


async def fire_due(
    conn: Conn, *, now: datetime, limit: int, partitions: list[int], rules: Rules
) -> tuple[list[Saved], list[Envelope]]:
    """Fire the due rows of ``partitions``: the incidents' records are locked first (the order
    the consumer locks them: record, then row), then the rows still pending."""
    ids = await ACCESS_TIMERS.due_subjects(conn, now, partitions=partitions, limit=limit)
    if not ids:
        return [], []
    records = await store.load_many(conn, ids)
    ready = await ACCESS_TIMERS.due(conn, now, subjects=sorted(records))
    out: list[Envelope] = []
    changed: dict[str, tuple[IncidentRecord, int]] = {}
    for timer in ready:
        record = changed.get(timer.incident_id, (records[timer.incident_id], 0))[0]
        after, events = with_facts(record, on_fire(timer, reasons_of(rules, record)), rules, now)
        changed[timer.incident_id] = (after, timer.part)
        out += events
    await ACCESS_TIMERS.mark_fired(conn, [(t, None) for t in ready], now)
    saved: list[Saved] = []
    for record, part in changed.values():
        views = fold(record, rules)
        saved.append((record, views, timers(record, views, rules), part))
    return saved, out
