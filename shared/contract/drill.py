"""The drill: the seed's test question answered from the contract, for one object at one instant.

"The database is unavailable at night and the cause is unknown — who accepts the ticket, who
checks the server, the OS, the DBMS, the exchange, which deadlines apply, who is escalated to,
who may pause, how access is obtained?" ``drill`` answers each part or records a ``Gap`` with
the lint code of the rule that would have prevented it. ``drill_all`` asks it for every critical
object at a night, a weekend and a public-holiday instant. Pure: the instant is an argument.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.calendar import WEEKDAYS
from shared.contract.graph import dependencies
from shared.contract.lint import find_cycles
from shared.contract.model import (
    CRITICALITIES,
    Contract,
    EscalationTrigger,
    Period,
    SupportObject,
    classify,
)
from shared.contract.model_validators import format_duration
from shared.contract.view import ContractView
from shared.events import Category, ClockKind

_SEARCH_DAYS = 400
_SAMPLE_HOURS: dict[Period, time] = {
    Period.NIGHT: time(3, 0),
    Period.WEEKEND: time(14, 0),
    Period.HOLIDAY: time(11, 0),
}


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Gap(_Out):
    code: str
    message: str


class Answerer(_Out):
    """A party and who answers for it at the drilled instant (``None`` = nobody on duty)."""

    party: str
    name: str
    on_duty: str | None
    intake: str


class LayerCheck(_Out):
    object: str
    name: str
    layer: str
    relation: Literal["object", "depends_on", "dependent"]
    checked_by: Answerer | None
    engaged_at: str | None = Field(
        None,
        description="a dependent outside its own support hours is checked when they open "
        "(its local time); None = at once",
    )


class Deadline(_Out):
    clock: ClockKind
    target: str
    calendar: str
    due: datetime
    due_local: str


class EscalationStep(_Out):
    level: int
    name: str
    fires: dict[ClockKind, str]
    triggers: list[EscalationTrigger] = Field(
        default_factory=list, description="events that fire it each time (ADR 54)"
    )
    contacts: list[str]
    emergency_approvers: list[str]


class PauseOption(_Out):
    id: str
    text: str
    clocks: list[ClockKind]
    invoked_by: list[str]
    evidence: list[str]


class AccessAnswer(_Out):
    rule: str
    mode: str
    issued_by: str
    lead_time: str
    ready_by_local: str
    approval: str
    emergency: str


class VendorAnswer(_Out):
    vendor: str
    name: str
    for_object: str
    opens_cases: str
    collects_logs: str
    correspondence: str
    decides_fixes: str


class DrillReport(_Out):
    object: str
    object_name: str
    layer: str
    criticality: str
    environment: str
    at: datetime
    at_local: str
    period: Period
    category: Category
    priority: str | None
    accepts: Answerer | None
    first_line: str | None = Field(
        None,
        description="what the contract's first-line desk does, when it is not the coordinator "
        "(ADR 25)",
    )
    coordinator: Answerer | None
    primary: Answerer | None
    executor: Answerer | None
    checks: list[LayerCheck]
    deadlines: list[Deadline]
    escalation: list[EscalationStep]
    pauses: list[PauseOption]
    access: AccessAnswer | None
    vendors: list[VendorAnswer]
    maintenance: str | None
    trigger: str | None = Field(
        None,
        description="what drill --all drilled here when it is not a plain outage at a sample "
        "instant: a missed scheduled run (the watchdog's category) or a maintenance window",
    )
    held_until: datetime | None = None
    """Intake holds an alert fired in an approved maintenance window: the incident, and its
    clocks, start when the window ends."""
    gaps: list[Gap]

    @property
    def ok(self) -> bool:
        return not self.gaps


def drill(
    view: ContractView,
    object_id: str,
    at: datetime,
    category: Category = Category.OUTAGE,
    first_alert_at: datetime | None = None,
    *,
    trigger: str | None = None,
) -> DrillReport:
    """Answer the seed's questions for ``object_id`` when an incident of ``category`` is
    registered at ``at`` (an aware datetime), its first alert having fired at ``first_alert_at``
    (``at`` by default). Deadlines are the ones the router and sla-clock use
    (``ContractView.due``), including an alert held in a maintenance window: ``view``'s version
    answers (the CLI passes the contract in force, or the file it was given)."""
    contract = view.contract
    obj = contract.object(object_id)
    if obj is None:
        raise KeyError(f"unknown object {object_id!r}")
    run = _Drill(view, obj, at, first_alert_at or at)
    critical = obj.criticality == "critical"
    accepts, first_line = run.first_line()
    coordinator = run.answerer(contract.coordinator, "coordinator", must_answer=critical)
    primary = run.layer_primary(obj, "primary owner")
    executor = run.answerer(obj.executor, "executor", must_answer=critical)
    checks = run.checks(primary)
    priority = contract.priority_matrix.get(obj.criticality, {}).get(category)
    deadlines, escalation = run.deadlines(category, priority)
    pauses = run.pauses()
    access = run.access()
    vendors = run.vendors()
    window = run.view.maintenance_at(obj.id, at)
    return DrillReport(
        object=obj.id,
        object_name=obj.name,
        layer=obj.layer.value,
        criticality=obj.criticality,
        environment=obj.environment.value,
        at=at,
        at_local=run.local(at),
        period=run.period,
        category=category,
        priority=priority,
        accepts=accepts,
        first_line=first_line,
        coordinator=coordinator,
        primary=primary,
        executor=executor,
        checks=checks,
        deadlines=deadlines,
        escalation=escalation,
        pauses=pauses,
        access=access,
        vendors=vendors,
        maintenance=f"{window.id}: {window.description}" if window else None,
        trigger=trigger,
        held_until=run.released,
        gaps=run.gaps,
    )


class _Drill:
    """One drill in progress: the questions, and the gaps found while answering them."""

    def __init__(
        self,
        view: ContractView,
        obj: SupportObject,
        at: datetime,
        first_alert_at: datetime | None = None,
    ) -> None:
        self.contract = view.contract
        self.view = view
        self.obj = obj
        self.at = at
        self.first_alert_at = first_alert_at or at
        self.critical = obj.criticality == "critical"
        self.period = self.view.period(at, obj.id)
        self.released = self.view.released_at(obj.id, at)
        self.gaps: list[Gap] = []

    def gap(self, code: str, message: str) -> None:
        self.gaps.append(Gap(code=code, message=message))

    def local(self, instant: datetime) -> str:
        return self.view.local(instant, self.obj.id)

    def answerer(self, party_id: str | None, role: str, *, must_answer: bool) -> Answerer | None:
        party = self.contract.parties.get(party_id) if party_id else None
        if party_id is None or party is None:
            self.gap("BTN005" if party_id else "BTN202", f"{role}: no such party {party_id!r}")
            return None
        found = self.view.on_duty(party_id, self.at)
        if found is None and must_answer:
            self.gap("BTN301", f"{role} {party_id}: nobody on duty at {self.local(self.at)}")
        return Answerer(
            party=party_id,
            name=party.name,
            on_duty=found[1].reach() if found else None,
            intake=party.contact,
        )

    def first_line(self) -> tuple[Answerer | None, str | None]:
        """Who accepts the ticket. A first-line desk other than the coordinator (the customer's
        service desk, say) accepts while it is open and hands the incident to the coordinator:
        the router tells it of every incident and it may record notes, but it owns no work and
        no clock. While the desk is closed the coordinator accepts (ADR 25)."""
        contract = self.contract
        desk, coordinator = contract.intake, contract.coordinator
        if desk == coordinator:
            return self.answerer(desk, "ticket intake", must_answer=self.critical), None
        answer = self.answerer(desk, "first line", must_answer=False)
        if answer is None:
            return None, None
        # a first line written as party/contact answers in the contact's own hours, not as
        # whoever is on the party's duty (the customer's night approver takes no tickets)
        on_duty = self.view.desk_on_duty(self.at)
        answer = answer.model_copy(update={"on_duty": on_duty.reach() if on_duty else None})
        named = contract.contact(contract.first_line or "")
        who = f"{named[1].name} of {answer.name}" if named else answer.name
        lead = self.contract.parties.get(coordinator)
        lead_name = lead.name if lead else coordinator
        if answer.on_duty is None:
            return self.answerer(coordinator, "ticket intake", must_answer=False), (
                f"{who} [{contract.first_line}] is closed at {self.local(self.at)}: the "
                f"coordinator {lead_name} accepts; the desk is told of the incident when it opens"
            )
        return answer, (
            f"{who} [{contract.first_line}] accepts and hands the incident to the coordinator "
            f"{lead_name} at once; the desk is told of it (assignment first_line) and records "
            "what users report (notes); it owns no work and no SLA clock"
        )

    def layer_primary(
        self, target: SupportObject, role: str, *, must_answer: bool = True
    ) -> Answerer | None:
        primaries = self.contract.primaries(target.layer)
        if not primaries:
            self.gap(
                "BTN101", f"{role}: layer {target.layer.value!r} of {target.id} has no primary"
            )
            return None
        if len(primaries) > 1:
            self.gap(
                "BTN102",
                f"{role}: layer {target.layer.value!r} has primaries "
                f"{', '.join(primaries)}: who checks {target.id} is disputed",
            )
            return None
        return self.answerer(primaries[0], role, must_answer=self.critical and must_answer)

    def checks(self, primary: Answerer | None) -> list[LayerCheck]:
        """Who checks each object along the chain: what it depends on, and what depends on it."""
        obj, contract = self.obj, self.contract
        out = [
            LayerCheck(
                object=obj.id,
                name=obj.name,
                layer=obj.layer.value,
                relation="object",
                checked_by=primary,
            )
        ]
        below = self.view.graph.below(obj.id)
        for cycle in find_cycles(contract):
            if obj.id in cycle or any(d in cycle for d in below):
                self.gap(
                    "BTN205", "dependency cycle on the chain: " + " -> ".join([*cycle, cycle[0]])
                )
        for unknown in sorted(set(obj.depends_on) - {o.id for o in contract.objects}):
            self.gap("BTN204", f"chain names unknown object {unknown!r}")
        for relation, other in self.view.chain(obj.id):
            # a business-hours dependent is not checked in the night: its own support hours
            # decide when its check party is engaged (the router chases it from then on)
            engage = self.view.engaged_at(other.id, relation, self.at)
            engaged_at = self.view.local(engage, other.id) if engage else None
            out.append(
                LayerCheck(
                    object=other.id,
                    name=other.name,
                    layer=other.layer.value,
                    relation=relation,
                    checked_by=self.layer_primary(
                        other, f"check of {other.id}", must_answer=engaged_at is None
                    ),
                    engaged_at=engaged_at,
                )
            )
        return out

    def deadlines(
        self, category: Category, priority: str | None
    ) -> tuple[list[Deadline], list[EscalationStep]]:
        if len({lv.level for lv in self.contract.escalation}) < 2:
            self.gap("BTN406", "no escalation level beyond first line")
        if priority is None:
            self.gap("BTN303", f"no priority for {self.obj.criticality} × {category.value}")
            return [], []
        opened_at = self.released or self.at
        due = self.view.due(
            self.obj.id,
            category,
            priority,
            opened_at=opened_at,
            first_alert_at=opened_at if self.released else self.first_alert_at,
        )
        if due is None:
            start = self.view.clock_start(opened_at, self.first_alert_at)
            period = self.view.period(start, self.obj.id)
            code = "BTN302" if self.critical and period is not Period.DAY else "BTN304"
            self.gap(code, f"no SLA target for {category.value} {priority} at {period.value}")
            return [], []
        if self.contract.calendar_spec(due.calendar) is None:
            self.gap("BTN005", f"unknown calendar {due.calendar!r}")
            return [], []
        calendar = self.view.clock_calendar(due.calendar, self.obj.id)
        deadlines = [
            Deadline(
                clock=clock,
                target=self.contract.target_text(due.target(clock), due.calendar),
                calendar=due.calendar,
                due=due.deadline(clock),
                due_local=self.local(due.deadline(clock)),
            )
            for clock in ClockKind
        ]
        steps = [
            EscalationStep(
                level=level.level,
                name=level.name,
                fires={
                    clock: self.local(calendar.add(due.start, due.target(clock) * fraction))
                    for clock, fraction in level.at.items()
                },
                triggers=list(level.triggers),
                contacts=[self.view.reach(r) for r in level.contacts],
                emergency_approvers=[self.view.reach(r) for r in level.emergency_approvers],
            )
            for level in self.view.levels
        ]
        return deadlines, steps

    def pauses(self) -> list[PauseOption]:
        reasons = self.contract.pause_reasons
        out = [
            PauseOption(
                id=r.id,
                text=r.text,
                clocks=list(r.clocks),
                invoked_by=list(r.invoked_by),
                evidence=list(r.evidence),
            )
            for r in reasons
            if r.clocks
        ]
        if not out:
            self.gap("BTN401" if reasons else "BTN409", "no pause reason that stops a clock")
        return out

    def access(self) -> AccessAnswer | None:
        obj = self.obj
        if obj.access is None:
            if self.critical:
                self.gap("BTN207", f"how to get access to {obj.id} is not said")
            return None
        found = self.view.access(obj.id, self.at)
        if found is None:
            self.gap("BTN005", f"unknown access rule {obj.access!r}")
            return None
        rule = found.rule
        if found.needs_approval and rule.approver is None:
            self.gap("BTN210", f"after-hours access to {obj.id} needs an unnamed approver")
        return AccessAnswer(
            rule=found.rule_id,
            mode=rule.mode,
            issued_by=self.view.reach(rule.issued_by),
            lead_time=format_duration(rule.lead_time),
            ready_by_local=self.local(found.ready_by),
            approval=self.view.approval(found),
            emergency=rule.emergency or "no emergency procedure",
        )

    def vendors(self) -> list[VendorAnswer]:
        """Who deals with the vendor of the object and of everything it depends on."""
        contract = self.contract
        answers = []
        seen: set[str] = set()
        for object_id in [self.obj.id, *dependencies(contract, self.obj.id)]:
            other = contract.object(object_id)
            if other is None or other.vendor is None or other.vendor in seen:
                continue
            seen.add(other.vendor)
            vendor = contract.parties.get(other.vendor)
            if vendor is None or vendor.vendor_handling is None:
                self.gap("BTN105", f"who deals with vendor {other.vendor!r} ({other.id}) is unsaid")
                continue
            handling = vendor.vendor_handling
            answers.append(
                VendorAnswer(
                    vendor=other.vendor,
                    name=vendor.name,
                    for_object=other.id,
                    opens_cases=_party_name(contract, handling.opens_cases),
                    collects_logs=_party_name(contract, handling.collects_logs),
                    correspondence=_party_name(contract, handling.correspondence),
                    decides_fixes=_party_name(contract, handling.decides_fixes),
                )
            )
        return answers


def _party_name(contract: Contract, party_id: str) -> str:
    party = contract.parties.get(party_id)
    return party.name if party else f"unknown party {party_id!r}"


# --------------------------------------------------------------------------- all objects


def sample_times(
    contract: Contract, anchor: datetime, calendar_id: str | None = None
) -> dict[Period, datetime | None]:
    """The first night (03:00 of a working day), weekend day (14:00) and public holiday falling
    on a working weekday (11:00) at or after ``anchor``, under ``calendar_id`` (a site's period
    calendar; the SLA's by default), in its zone (``None`` where there is none within a year)."""
    out: dict[Period, datetime | None] = dict.fromkeys(_SAMPLE_HOURS)
    calendar_id = calendar_id or contract.sla.period_calendar
    if calendar_id is None:
        return out
    spec = contract.calendar_spec(calendar_id)
    if spec is None or spec.kind == "24x7":
        return out
    calendar = contract.business_calendar(calendar_id)
    start = anchor.astimezone(calendar.zone).date()
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        for period, hour in _SAMPLE_HOURS.items():
            if out[period] is not None:
                continue
            instant = datetime.combine(day, hour, tzinfo=calendar.zone)
            if period is Period.HOLIDAY and not spec.weekly.get(WEEKDAYS[day.weekday()]):
                continue  # a holiday on a working weekday, not one that falls on a weekend
            if instant >= anchor and classify(calendar, instant) is period:
                out[period] = instant
        if all(v is not None for v in out.values()):
            break
    return out


def drill_all(
    view: ContractView, anchor: datetime, category: Category = Category.OUTAGE
) -> tuple[list[DrillReport], list[Gap]]:
    """Drill every critical object at the sample night, weekend and holiday after ``anchor``,
    each in its own site's period calendar and zone; a site calendar that no critical object
    runs on is drilled on its most critical object, so every site's night is drilled.

    Returns the reports and the contract-wide gaps (a period with no sample instant).
    """
    contract = view.contract
    critical = [obj for obj in contract.objects if obj.criticality == "critical"]
    drilled = list(critical)
    by_calendar: dict[str | None, list[SupportObject]] = {}
    for obj in contract.objects:
        by_calendar.setdefault(view.timing.period_calendar_of(obj), []).append(obj)
    drilled += [
        min(objects, key=lambda o: CRITICALITIES.index(o.criticality))
        for objects in by_calendar.values()
        if not any(o.criticality == "critical" for o in objects)
    ]
    calendars = {view.timing.period_calendar_of(obj) for obj in drilled}
    calendars.add(contract.sla.period_calendar)
    samples = {cid: sample_times(contract, anchor, cid) for cid in sorted(calendars, key=str)}
    general = [
        Gap(
            code="BTN307",
            message=f"no {period.value} instant to drill within a year"
            + (f" on {cid}" if cid != contract.sla.period_calendar else ""),
        )
        for cid, times in samples.items()
        for period, instant in times.items()
        if instant is None
    ]
    reports = [
        drill(view, obj.id, instant, category)
        for obj in drilled
        for instant in samples[view.timing.period_calendar_of(obj)].values()
        if instant is not None
    ]
    reports += [
        drill(view, oid, at, sample_category or category, trigger=trigger)
        for oid, at, sample_category, trigger in _event_samples(contract, anchor)
    ]
    return reports, general


def _event_samples(
    contract: Contract, anchor: datetime
) -> list[tuple[str, datetime, Category | None, str]]:
    """Each scheduled run at its next expected time after ``anchor`` (when a missed run is
    noticed, in the schedule's zone) with the category the check-in watchdog's alert carries
    (``Expectation.category``, which intake takes for the incident), and each maintenance
    window's next occurrence a minute after it opens, for every object it covers."""
    from shared.checkins import Duty, expectations, next_expected  # a cycle at import time

    out: list[tuple[str, datetime, Category | None, str]] = []
    for exp in expectations(contract):
        if exp.duty is Duty.RUN and contract.object(exp.object_id) is not None:
            at = next_expected(contract, exp, anchor)
            if at is not None:
                trigger = f"missed scheduled run {exp.name} (check-in watchdog)"
                out.append((exp.object_id, at + exp.grace, exp.category, trigger))
    for window in contract.maintenance_windows:
        horizon = anchor + timedelta(days=_SEARCH_DAYS)
        found = window.occurrences(anchor, horizon)
        if not found:
            continue
        opens = max(found[0][0], anchor) + timedelta(minutes=1)
        members = list(window.objects)
        for group in window.groups:
            members += [m for m in contract.group_members(group) if m not in members]
        trigger = f"alert in maintenance window {window.id}"
        out += [(m, opens, None, trigger) for m in members if contract.object(m) is not None]
    return out
