"""The SLA clocks of one incident as a pure fold over its events.

An incident's clock state is never updated in place: the service keeps the incident's *facts*
(opened, pause, resume, acknowledge, restored, reject, reopen, reclassified — each with its
instant, party and evidence) and derives both clocks from them with ``fold``. Everything is
business time under the contract's calendar; ``now`` is always passed in.

Rules, fixed here so reporting, escalation and tests agree:

* **Start.** Both clocks start when the incident opens, or retroactively at the first alert when
  the contract's ``sla.clock_start`` is ``first_alert`` — never more than ``sla.max_backdate``
  before registration, never after it.
* **Policy.** Target and calendar come from the contract's SLA matrix for the incident's category
  × priority in the *period of the start instant* (day/night/weekend/holiday), under the target's
  calendar or the object's. Outside the perimeter the clock runs round the clock.
* **Counting.** A running clock accumulates the calendar's open time; a paused clock accumulates
  nothing, and the open time it skipped is booked to the pause (per reason, per party). A pause
  across a weekend under an office calendar therefore excludes only the office hours inside it
  (GLPI 10594 excluded the whole wall-clock span). Overlapping pauses of one clock book the
  shared time once, to the earliest open pause; the clock counts again when the last one ends.
* **Stops.** ``acknowledge`` stops the response clock; ``restored`` stops recovery (and response,
  if still running: restoring is taking into work). A clock reaching its target while running has
  breached (``elapsed >= target``); a clock stopped before that is met, with margin
  ``target - elapsed`` in business time.
* **Reject and reopen** restart recovery. A customer's *reject* says the service was never
  restored, so the time since the false restoration counts; a *reopen* follows the customer's own
  confirmation, so counting resumes at the reopen.
* **Reclassification** replays every fact under the new category × priority from the start:
  pauses stay excluded and elapsed time is measured again under the new policy (GLPI 6902/15605
  lost the paused time). The result depends only on the facts, never on the order of restarts.
* **Thresholds.** Each warning fraction and 100 % (breach) is *crossed* at one instant that
  follows from the facts; a crossing is final (later facts never un-cross it for firing
  purposes: the timer table keeps "fired" once per clock and threshold).
* Facts are applied in log order; an instant earlier than the previous fact's (a late report) is
  taken as the previous instant, so time never runs backwards inside a clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.calendar import TimeCalendar
from shared.contract import Contract
from shared.contract.view import BREACH, ContractView, Policy
from shared.events import Category, ClockKind, ClockState, Layer
from shared.model import Model

ZERO = timedelta(0)
__all__ = [  # BREACH and Policy are the view's, re-exported as the fold's vocabulary
    "BREACH",
    "ZERO",
    "ClockState",
    "ClockView",
    "Fact",
    "FactKind",
    "IncidentRecord",
    "PauseView",
    "Policy",
    "Rules",
    "at_instant",
    "ended_pauses",
    "fold",
    "share",
]


FactKind = Literal["pause", "resume", "acknowledge", "restored", "reject", "reopen", "reclassified"]


class Fact(Model):
    """One input that can move an incident's clocks, as the fold sees it."""

    kind: FactKind
    at: AwareDatetime
    event_id: uuid.UUID
    clock: ClockKind | None = None
    reason: str | None = Field(None, description="pause reason id, or why it was reclassified")
    party: str = ""
    actor: str = ""
    evidence: list[str] = Field(default_factory=list)
    category: Category | None = None
    priority: str | None = None


class IncidentRecord(Model):
    """What the service keeps per incident: how it opened, and every fact since, in order."""

    incident_id: str
    object_id: str | None
    layer: Layer | None
    party: str = Field(
        description="primary party now: the layer's, the coordinator outside the perimeter,"
        " then whoever a handover moved it to (breaches and warnings are labelled with it)"
    )
    owners: dict[Layer, str] | None = Field(
        None, description="layer -> primary party, frozen at opening (None: stored before)"
    )
    primary_layer: Layer | None = Field(None, description="the layer owning it, once moved")
    origin: str | None = Field(
        None, description="the probable origin once correlation moved it (None: the object)"
    )
    contract_hash: str | None = Field(
        None,
        description="the contract version the clocks run under: frozen at opening, replaced"
        " only by a reclassification (None: stored before versions were pinned)",
    )
    category: Category
    priority: str
    opened_at: AwareDatetime
    first_alert_at: AwareDatetime
    opened_event: uuid.UUID
    facts: list[Fact] = Field(default_factory=list)
    updates: list[AwareDatetime] = Field(
        default_factory=list,
        description="when the coordinator updated the customer (accepted update actions; they"
        " move no clock, only the update cadence: sla_clock/cadence.py)",
    )

    @property
    def policy_object(self) -> str | None:
        """The object whose calendar and windows the clocks follow: the probable origin."""
        return self.origin or self.object_id

    def with_fact(self, fact: Fact) -> IncidentRecord:
        return self.model_copy(update={"facts": [*self.facts, fact]})

    @property
    def classification(self) -> tuple[Category, str]:
        """The category and priority in force: the last reclassification wins."""
        category, priority = self.category, self.priority
        for fact in self.facts:
            if fact.kind == "reclassified":
                category = fact.category or category
                priority = fact.priority or priority
        return category, priority


@dataclass(frozen=True, slots=True)
class PauseView:
    reason: str
    party: str
    actor: str
    start: datetime
    end: datetime | None
    evidence: tuple[str, ...]
    excluded: timedelta = ZERO
    """business time this pause kept off the clock"""


@dataclass(frozen=True, slots=True)
class ClockView:
    """One clock, derived from the facts; ``mark`` is the instant accounted up to."""

    clock: ClockKind
    policy: Policy
    started_at: datetime
    status: ClockState
    mark: datetime
    elapsed: timedelta
    pauses: tuple[PauseView, ...]
    crossed: dict[int, datetime]
    thresholds: tuple[int, ...]
    stopped_at: datetime | None
    stops: int
    deadline: datetime | None = field(default=None)

    @property
    def paused(self) -> timedelta:
        return sum((p.excluded for p in self.pauses), ZERO)

    @property
    def open_pause(self) -> PauseView | None:
        return next((p for p in self.pauses if p.end is None), None)

    @property
    def met(self) -> bool:
        return BREACH not in self.crossed

    @property
    def margin(self) -> timedelta:
        return self.policy.target - self.elapsed

    def paused_by(self, key: Literal["reason", "party"]) -> dict[str, timedelta]:
        """Excluded business time per pause reason or per party that invoked the pause."""
        out: dict[str, timedelta] = {}
        for p in self.pauses:
            name = p.reason if key == "reason" else p.party
            out[name] = out.get(name, ZERO) + p.excluded
        return out

    def due(self, threshold: int, calendar: TimeCalendar) -> datetime | None:
        """When ``threshold`` percent of the target is (or was) reached; None if it is not
        crossed and the clock is not running."""
        if threshold in self.crossed:
            return self.crossed[threshold]
        if self.status != ClockState.RUNNING:
            return None
        return calendar.add(self.mark, share(self.policy.target, threshold) - self.elapsed)

    def remaining(self, now: datetime, calendar: TimeCalendar) -> timedelta:
        """Business time left at ``now`` (negative once breached)."""
        elapsed = self.elapsed
        if self.status == ClockState.RUNNING and now > self.mark:
            elapsed += calendar.elapsed(self.mark, now)
        return self.policy.target - elapsed


def share(target: timedelta, percent: int) -> timedelta:
    """``percent`` % of ``target``, exact to the microsecond (integer arithmetic)."""
    return timedelta(microseconds=(target // timedelta(microseconds=1)) * percent // 100)


# --------------------------------------------------------------------------- rules


class Rules:
    """The contract's answers the fold needs: a thin face of the version's ``ContractView``
    (policies, calendars, the start rule and SLA-excluded windows are answered there, the same
    for the router's assignments and the drill)."""

    def __init__(self, view: ContractView, known: dict[str, Contract] | None = None) -> None:
        self.contract = view.contract
        self.view = view
        self.known = known if known is not None else {}
        """Every contract version seen, by content hash (shared by the rules of each)."""
        self.known.setdefault(view.content_hash, view.contract)
        self._pinned: dict[str, Rules] = {}

    def of(self, record: IncidentRecord) -> Rules:
        """The rules of the version ``record``'s clocks run under (the policy is frozen per
        incident); the version in force for a record without one, or one never seen."""
        pinned = record.contract_hash
        if pinned is None or pinned == self.view.content_hash:
            return self
        found = self._pinned.get(pinned)
        if found is None:
            contract = self.known.get(pinned)
            if contract is None:
                return self
            # a pinned version is resolved from its hash: the shared view of that version
            found = self._pinned[pinned] = Rules(ContractView.of(contract), self.known)
        return found

    def pause_clocks(self, fact: Fact) -> tuple[ClockKind, ...]:
        if fact.clock is not None:
            return (fact.clock,)
        return self.view.pause_clocks(fact.reason)


# --------------------------------------------------------------------------- the fold


@dataclass
class _Pause:
    reason: str
    party: str
    actor: str
    start: datetime
    evidence: tuple[str, ...]
    end: datetime | None = None
    excluded: timedelta = ZERO


@dataclass
class RunningClock:
    """One clock while the facts are applied (local mutation inside a pure function)."""

    clock: ClockKind
    policy: Policy
    calendar: TimeCalendar
    thresholds: tuple[int, ...]
    started_at: datetime
    mark: datetime
    status: ClockState = ClockState.RUNNING
    elapsed: timedelta = ZERO
    pauses: list[_Pause] = field(default_factory=list)
    crossed: dict[int, datetime] = field(default_factory=dict)
    stopped_at: datetime | None = None
    stops: int = 0

    def advance(self, t: datetime) -> None:
        if self.status == ClockState.STOPPED or t <= self.mark:
            return
        span = self.calendar.elapsed(self.mark, t)
        if self.status == ClockState.RUNNING:
            for threshold in (*self.thresholds, BREACH):
                need = share(self.policy.target, threshold)
                if threshold not in self.crossed and self.elapsed < need <= self.elapsed + span:
                    self.crossed[threshold] = self.calendar.add(self.mark, need - self.elapsed)
            self.elapsed += span
        else:
            first = next(p for p in self.pauses if p.end is None)
            first.excluded += span
        self.mark = t

    def pause(self, fact: Fact, t: datetime) -> None:
        if self.status == ClockState.STOPPED:
            return
        if any(p.end is None and p.reason == fact.reason for p in self.pauses):
            return  # the same reason twice: one pause
        self.advance(t)
        self.pauses.append(
            _Pause(fact.reason or "", fact.party, fact.actor, t, tuple(fact.evidence))
        )
        self.status = ClockState.PAUSED

    def resume(self, fact: Fact, t: datetime) -> None:
        ending = [p for p in self.pauses if p.end is None and p.reason == fact.reason]
        if self.status != ClockState.PAUSED or not ending:
            return
        self.advance(t)
        for p in ending:
            p.end = t
        if all(p.end is not None for p in self.pauses):
            self.status = ClockState.RUNNING

    def stop(self, t: datetime) -> None:
        if self.status == ClockState.STOPPED:
            return
        self.advance(t)
        for p in self.pauses:
            if p.end is None:
                p.end = t
        self.status = ClockState.STOPPED
        self.stopped_at = t
        self.stops += 1

    def restart(self, t: datetime, *, count_gap: bool) -> None:
        if self.status != ClockState.STOPPED:
            return
        self.status = ClockState.RUNNING
        self.stopped_at = None
        if not count_gap:
            self.mark = max(self.mark, t)
        self.advance(t)

    def view(self) -> ClockView:
        pauses = tuple(
            PauseView(p.reason, p.party, p.actor, p.start, p.end, p.evidence, p.excluded)
            for p in self.pauses
        )
        deadline = None
        if self.status == ClockState.RUNNING:
            if BREACH in self.crossed:
                deadline = self.crossed[BREACH]
            else:
                deadline = self.calendar.add(self.mark, self.policy.target - self.elapsed)
        return ClockView(
            clock=self.clock,
            policy=self.policy,
            started_at=self.started_at,
            status=self.status,
            mark=self.mark,
            elapsed=self.elapsed,
            pauses=pauses,
            crossed=dict(self.crossed),
            thresholds=self.thresholds,
            stopped_at=self.stopped_at,
            stops=self.stops,
            deadline=deadline,
        )


def fold(
    record: IncidentRecord, rules: Rules, until: datetime | None = None
) -> dict[ClockKind, ClockView]:
    """Both clocks of ``record`` after all its facts, under its current classification; with
    ``until``, running and paused clocks accounted up to that instant too (``at_instant``).

    An incident whose category × priority has no row in the SLA matrix has no clocks.
    """
    rules = rules.of(record)
    category, priority = record.classification
    start = rules.view.clock_start(record.opened_at, record.first_alert_at)
    policies = rules.view.policy(record.policy_object, category, priority, start)
    if policies is None:
        return {}
    clocks = {
        clock: RunningClock(
            clock=clock,
            policy=policy,
            calendar=rules.view.clock_calendar(policy.calendar, record.policy_object),
            thresholds=rules.view.thresholds[clock],
            started_at=start,
            mark=start,
        )
        for clock, policy in policies.items()
    }
    last = start
    for fact in record.facts:
        t = max(fact.at, last)
        last = t
        for running in clocks.values():  # every clock is accounted up to every fact's instant
            running.advance(t)
        if fact.kind == "pause":
            for clock in rules.pause_clocks(fact):
                clocks[clock].pause(fact, t)
        elif fact.kind == "resume":
            for clock in rules.pause_clocks(fact):
                clocks[clock].resume(fact, t)
        elif fact.kind == "acknowledge":
            clocks[ClockKind.RESPONSE].stop(t)
        elif fact.kind == "restored":
            clocks[ClockKind.RESPONSE].stop(t)
            clocks[ClockKind.RECOVERY].stop(t)
        elif fact.kind in ("reject", "reopen"):
            clocks[ClockKind.RECOVERY].restart(t, count_gap=fact.kind == "reject")
        # "reclassified" changes the classification, which the whole fold already uses
    if until is not None:
        for running in clocks.values():  # stopped clocks and instants before ``mark`` stay
            running.advance(until)
    return {clock: running.view() for clock, running in clocks.items()}


def ended_pauses(
    before: dict[ClockKind, ClockView], after: dict[ClockKind, ClockView]
) -> list[tuple[ClockKind, PauseView]]:
    """Pauses that were open in ``before`` and are closed in ``after`` (by a resume or a stop),
    with the business time each excluded."""
    out = []
    for clock, view in after.items():
        old = before.get(clock)
        if old is None:
            continue
        # the same facts give the same pauses in the same order, whatever the policy
        for was, now in zip(old.pauses, view.pauses, strict=False):
            if was.end is None and now.end is not None:
                out.append((clock, now))
    return out


def at_instant(record: IncidentRecord, rules: Rules, now: datetime) -> dict[ClockKind, ClockView]:
    """The clocks as of ``now``: the fold, with running and paused clocks accounted up to
    ``now`` (so elapsed, pause time and crossings include the time since the last fact)."""
    return fold(record, rules, until=now)
