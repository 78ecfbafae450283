"""One contract version's answers: the only place the services and the CLI ask contract questions.

``ContractView.of(contract)`` is an immutable query object per contract version (cached by
content hash, so every service, the drill and the CLI share one per version). It answers:

* **matching** — ``match(labels)``: the object an alert lands on and why;
* **owners and duty** — ``primary_for(layer)`` (the layer's primary party, else the coordinator:
  written here once), ``owners()``, ``on_duty(party, at)``;
* **time** — ``period(at)``, ``clock_start(opened_at, first_alert_at)``, ``policy(...)``,
  ``clock_calendar(...)`` and ``due(...)``: the deadlines of an incident, the same for the
  router's assignments, sla-clock's clocks and the drill;
* **suppression** — ``holding_window(object, at)`` (intake holds the alert) and
  ``released_at(object, at)`` (when intake lets it through);
* **the dependency graph** — ``graph`` (related objects, origin, scope, partition component) and
  ``chain(object)`` (what to check along the dependencies);
* **access** — ``access(object, at)``; **escalation** — ``thresholds``, ``ack_fraction``,
  ``levels``; **pauses** — ``pause_clocks(reason)``.

Every time question takes the object it is about, even where today's contracts answer the same
for every object (the period calendar, the local time zone): per-location calendars change the
answers here, not the callers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.calendar import BusinessCalendar, ExcludingCalendar, TimeCalendar
from shared.contract.matching import Match
from shared.contract.model import (
    AccessRule,
    Contact,
    Contract,
    DutyShift,
    EscalationLevel,
    MaintenanceWindow,
    Period,
    SupportObject,
    classify,
)
from shared.events import (
    ActionKind,
    Category,
    ClockKind,
    IncidentActionAcceptedV3,
    Layer,
    OriginMovedV1,
)

ROUND_THE_CLOCK = "24x7"
DEFAULT_ACK_FRACTION = 0.5
"""Backup contacts are called when this fraction of the response target passed without an
acknowledgement, unless an escalation level names an earlier non-zero response threshold."""
BREACH = 100
_CACHE = 65536
_VIEWS = 16

LAYER_ORDER = {
    layer: i
    for i, layer in enumerate(
        (
            Layer.HARDWARE,
            Layer.NETWORK,
            Layer.OS,
            Layer.DBMS,
            Layer.INTEGRATION,
            Layer.APPLICATION,
        )
    )
}


@dataclass(frozen=True, slots=True)
class Policy:
    """What one clock runs under: fixed when it starts, changed only by reclassification."""

    category: Category
    priority: str
    period: Period
    target: timedelta
    calendar: str


@dataclass(frozen=True, slots=True)
class Due:
    """An incident's deadlines: when its clocks start, under which policy, and when each falls
    due (business time on the clock calendar, approved SLA-excluded windows left out)."""

    start: datetime
    period: Period
    calendar: str
    response_target: timedelta
    recovery_target: timedelta
    response_due: datetime
    recovery_due: datetime

    def target(self, clock: ClockKind) -> timedelta:
        return self.response_target if clock == ClockKind.RESPONSE else self.recovery_target

    def deadline(self, clock: ClockKind) -> datetime:
        return self.response_due if clock == ClockKind.RESPONSE else self.recovery_due


@dataclass(frozen=True, slots=True)
class AccessAt:
    """How access to an object is obtained at one instant."""

    rule_id: str
    rule: AccessRule
    after_hours: bool
    ready_by: datetime

    @property
    def needs_approval(self) -> bool:
        return self.after_hours and self.rule.after_hours_approval


ChainStep = tuple[Literal["depends_on", "dependent"], SupportObject]


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """One neighbouring layer to check: its nearest object and the party that checks it."""

    layer: Layer
    object_id: str
    party: str
    relation: Literal["depends_on", "dependent"]


class DependencyGraph:
    """The contract's dependency graph with the questions correlation asks of it.

    - **related**: the object and everything above or below it, transitively;
    - **origin**: the deepest failing dependency — among the failing objects, one that depends on
      no other failing object; ties go to the one most other failing objects depend on, then to
      the lower layer (hardware before os before dbms …), then to the id;
    - **scope**: the business units of the failing objects and of everything above the origin;
    - **component**: the weakly connected component, named by its smallest object id.
    """

    def __init__(self, contract: Contract) -> None:
        ids = [o.id for o in contract.objects]
        self._below = {i: frozenset(contract.dependencies(i)) for i in ids}
        self._above = {i: frozenset(contract.dependents(i)) for i in ids}
        self._layer = {o.id: o.layer for o in contract.objects}
        self._unit = {o.id: o.business_unit for o in contract.objects}
        parent = {i: i for i in ids}

        def find(i: str) -> str:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for obj in contract.objects:
            for dep in obj.depends_on:
                if dep in parent:
                    a, b = find(obj.id), find(dep)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        self._component = {i: find(i) for i in ids}

    def component(self, object_id: str) -> str | None:
        return self._component.get(object_id)

    def related(self, object_id: str) -> frozenset[str]:
        """The object itself and everything above or below it in the graph."""
        if object_id not in self._below:
            return frozenset()
        return self._below[object_id] | self._above[object_id] | {object_id}

    def below(self, object_id: str) -> frozenset[str]:
        return self._below.get(object_id, frozenset())

    def layer(self, object_id: str | None) -> Layer | None:
        return self._layer.get(object_id) if object_id else None

    def origin(self, failing: Iterable[str]) -> str | None:
        known = {o for o in failing if o in self._below}
        if not known:
            return None
        roots = [o for o in known if not (self._below[o] & known)]
        return min(
            roots,
            key=lambda o: (
                -len(self._above[o] & known),
                LAYER_ORDER.get(self._layer[o], len(LAYER_ORDER)),
                o,
            ),
        )

    def scope(self, failing: Iterable[str], origin: str | None) -> list[str]:
        objects = set(failing) | ({origin} if origin else set())
        if origin in self._above:
            objects |= self._above[origin]
        return sorted({self._unit[o] for o in objects if self._unit.get(o)})


class ContractView:
    """Every answer one contract version gives; immutable, built once per version."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.version = contract.version
        self.content_hash = contract.content_hash
        self._objects = {o.id: o for o in contract.objects}
        self._owners: dict[Layer, str] = {a.layer: a.primary for a in reversed(contract.layers)}
        self._calendars: dict[str, BusinessCalendar] = {}
        self._clock_calendars: dict[tuple[str, str | None], TimeCalendar] = {}
        self._policies: dict[
            tuple[str | None, Category, str, datetime], dict[ClockKind, Policy] | None
        ] = {}
        self._excluding = _sla_excluding_windows(contract)
        self.thresholds: dict[ClockKind, tuple[int, ...]] = {
            clock: _percents(
                [
                    *contract.sla.warnings,
                    *(lv.at[clock] for lv in contract.escalation if clock in lv.at),
                ]
            )
            for clock in ClockKind
        }
        """Per clock: the warning fractions and the escalation levels' fractions of that clock
        (so a level at 80 % hears of 80 %, not only of the breach, and a level at 150 % of
        150 %), in whole percent; the breach (100) is always a threshold and not listed."""
        fractions = [
            lv.at[ClockKind.RESPONSE]
            for lv in contract.escalation
            if lv.at.get(ClockKind.RESPONSE, 0) > 0
        ]
        self.ack_fraction = min(fractions, default=DEFAULT_ACK_FRACTION)

    @staticmethod
    def of(contract: Contract) -> ContractView:
        """The view of ``contract``'s version: one per content hash, shared by all callers."""
        return _view(contract)

    # -- objects, parties, duty --------------------------------------------------------------

    def object(self, object_id: str | None) -> SupportObject | None:
        return self._objects.get(object_id) if object_id else None

    def match(self, labels: dict[str, str]) -> Match | None:
        """The object an alert with ``labels`` lands on, the rule that won and the others that
        also held (Alertmanager matchers; host labels compare as hosts)."""
        return self.contract.explain_match(labels)

    def owners(self) -> dict[Layer, str]:
        """Layer -> its primary party (an incident freezes this when it opens)."""
        return dict(self._owners)

    @property
    def coordinator(self) -> str:
        return self.contract.coordinator

    def primary_for(self, layer: Layer | None, owners: dict[Layer, str] | None = None) -> str:
        """Who owns an incident in ``layer``: the layer's primary party (from ``owners`` when an
        incident froze them), else the coordinator — outside the perimeter, or for a layer
        nobody owns, the coordinator takes it so it is never left without an owner."""
        found = (owners if owners is not None else self._owners).get(layer) if layer else None
        return found or self.contract.coordinator

    def owner_of(self, layer: Layer, owners: dict[Layer, str] | None) -> str | None:
        """The party that takes over an incident moved to ``layer``: the owner frozen in the
        incident, else this version's; None if nobody owns the layer (no handover)."""
        return (owners or {}).get(layer) or self._owners.get(layer)

    def on_duty(self, party_id: str, at: datetime) -> tuple[DutyShift, Contact] | None:
        """Who answers for ``party_id`` at ``at``: the first duty shift whose calendar is open."""
        party = self.contract.parties.get(party_id)
        if party is None:
            return None
        for shift in party.duty:
            contact = party.contacts.get(shift.contact)
            if (
                contact is not None
                and self._known(shift.calendar)
                and self.calendar(shift.calendar).is_open(at)
            ):
                return shift, contact
        return None

    def desk_on_duty(self, at: datetime) -> Contact | None:
        """Who accepts tickets for the first line at ``at``: a first-line contact while its own
        hours are open; a first-line party's duty contact. ``None``: the desk is closed."""
        first_line = self.contract.first_line
        if first_line is None:
            return None
        if "/" not in first_line:
            found = self.on_duty(first_line, at)
            return found[1] if found else None
        resolved = self.contract.contact(first_line)
        if resolved is None:
            return None
        party, contact = resolved
        contact_id = first_line.partition("/")[2]
        hours = [contact.hours] if contact.hours else []
        hours += [s.calendar for s in party.duty if s.contact == contact_id and not contact.hours]
        if not hours:
            return contact  # no hours written: it answers whenever (lint BTN108 says so)
        for calendar_id in hours:
            if self._known(calendar_id) and self.calendar(calendar_id).is_open(at):
                return contact
        return None

    # -- time ------------------------------------------------------------------------------

    def _known(self, calendar_id: str) -> bool:
        return self.contract.calendar_spec(calendar_id) is not None

    def calendar(self, calendar_id: str) -> BusinessCalendar:
        found = self._calendars.get(calendar_id)
        if found is None:
            found = self._calendars[calendar_id] = self.contract.business_calendar(calendar_id)
        return found

    def local_calendar(self, object_id: str | None) -> BusinessCalendar:
        """The calendar whose time zone shows an object's local times: its location's period
        calendar, else the SLA's, else the object's, else UTC round the clock."""
        obj = self.object(object_id)
        for calendar_id in (self.contract.period_calendar_of(obj), obj.calendar if obj else None):
            if calendar_id and self._known(calendar_id):
                return self.calendar(calendar_id)
        return self.calendar(ROUND_THE_CLOCK)

    def local(self, instant: datetime, object_id: str | None) -> str:
        """``instant`` on the object's wall clock, e.g. ``Sun 2026-11-29 03:00 Asia/Almaty``."""
        calendar = self.local_calendar(object_id)
        return f"{instant.astimezone(calendar.zone):%a %Y-%m-%d %H:%M} {calendar.spec.timezone}"

    def period(self, at: datetime, object_id: str | None = None) -> Period:
        """Day, night, weekend or holiday at ``at`` under the period calendar of the object's
        location, else the SLA's."""
        calendar_id = self.contract.period_calendar_of(self.object(object_id))
        spec = self.contract.calendar_spec(calendar_id) if calendar_id else None
        if calendar_id is None or spec is None or spec.kind == "24x7":
            return Period.DAY
        return classify(self.calendar(calendar_id), at)

    def clock_start(self, opened_at: datetime, first_alert_at: datetime | None) -> datetime:
        """When the clocks start: registration, or the first alert when the contract says
        ``clock_start: first_alert`` — never more than ``max_backdate`` earlier, never later."""
        sla = self.contract.sla
        if sla.clock_start != "first_alert" or first_alert_at is None:
            return opened_at
        return min(opened_at, max(first_alert_at, opened_at - sla.max_backdate))

    def priority(self, object_id: str | None, category: Category) -> str:
        """From the object's criticality × category; outside the perimeter as critical (the
        coordinator triages at the top)."""
        obj = self.object(object_id)
        return self.contract.priority(obj.criticality if obj else "critical", category)

    def urgency(self, priority: str) -> tuple[timedelta, str]:
        """How urgent ``priority`` is, for comparing two (smaller is more urgent): its shortest
        response target in the SLA matrix, then its name; a priority without targets last."""
        targets = [t.response for t in self.contract.sla.targets if t.priority == priority]
        return (min(targets, default=timedelta.max), priority)

    def more_urgent(self, priority: str, than: str) -> bool:
        return self.urgency(priority) < self.urgency(than)

    def policy(
        self, object_id: str | None, category: Category, priority: str, start: datetime
    ) -> dict[ClockKind, Policy] | None:
        """Each clock's policy for an incident on ``object_id`` whose clocks start at ``start``:
        the target of category × priority in the period of ``start``, on the target's calendar
        or the object's (round the clock outside the perimeter); None without an SLA row, and
        outside the perimeter when the contract says ``sla.outside_perimeter: none``."""
        key = (object_id, category, priority, start)
        if object_id is None and self.contract.sla.outside_perimeter == "none":
            return None  # the contract applies no SLA outside its perimeter
        if key in self._policies:
            found = self._policies[key]
        else:
            found = None
            period = self.period(start, object_id)
            target = self.contract.sla_target(category, priority, period)
            if target is not None:
                calendar = self.contract.target_calendar(target, self.object(object_id))
                found = {
                    ClockKind.RESPONSE: Policy(
                        category, priority, period, target.response, calendar
                    ),
                    ClockKind.RECOVERY: Policy(
                        category, priority, period, target.recovery, calendar
                    ),
                }
            if len(self._policies) >= _CACHE:
                self._policies.clear()
            self._policies[key] = found
        return None if found is None else {**found}

    def clock_calendar(self, calendar_id: str, object_id: str | None) -> TimeCalendar:
        """The calendar a clock counts on: ``calendar_id`` minus the object's approved
        maintenance windows that the contract excludes from SLA time."""
        key = (calendar_id, object_id)
        found = self._clock_calendars.get(key)
        if found is not None:
            return found
        base = self.calendar(calendar_id)
        windows = [w for w, members in self._excluding if object_id in members]
        if not windows:
            found = base
        else:

            def exclusions(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
                return self.sla_exclusions(object_id, start, end)

            found = ExcludingCalendar(base, exclusions)
        self._clock_calendars[key] = found
        return found

    def due(
        self,
        object_id: str | None,
        category: Category,
        priority: str,
        *,
        opened_at: datetime,
        first_alert_at: datetime | None = None,
    ) -> Due | None:
        """The deadlines of an incident registered at ``opened_at`` whose first alert fired at
        ``first_alert_at``: what the router's assignments say, what sla-clock measures and what
        the drill answers. None when the SLA matrix has no row for it."""
        start = self.clock_start(opened_at, first_alert_at)
        policies = self.policy(object_id, category, priority, start)
        if policies is None:
            return None
        response, recovery = policies[ClockKind.RESPONSE], policies[ClockKind.RECOVERY]
        calendar = self.clock_calendar(response.calendar, object_id)
        return Due(
            start=start,
            period=response.period,
            calendar=response.calendar,
            response_target=response.target,
            recovery_target=recovery.target,
            response_due=calendar.add(start, response.target),
            recovery_due=calendar.add(start, recovery.target),
        )

    def ack_due(
        self, object_id: str | None, category: Category, priority: str, at: datetime
    ) -> datetime | None:
        """When an unacknowledged assignment given at ``at`` goes to the backup contacts: the
        response target times ``ack_fraction``, on the clock calendar."""
        policies = self.policy(object_id, category, priority, at)
        if policies is None:
            return None
        response = policies[ClockKind.RESPONSE]
        calendar = self.clock_calendar(response.calendar, object_id)
        return calendar.add(at, response.target * self.ack_fraction)

    # -- suppression ------------------------------------------------------------------------

    def maintenance_at(self, object_id: str, at: datetime) -> MaintenanceWindow | None:
        """A maintenance window covering ``object_id`` at ``at``, approved or not."""
        for window in self.contract.maintenance_windows:
            if object_id in self._members(window) and window.covers(at):
                return window
        return None

    def sla_exclusions(
        self, object_id: str | None, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Intervals in ``[start, end)`` when the object's SLA clocks do not count: its
        approved maintenance windows that the contract marks ``excludes_sla``."""
        return sorted(
            span
            for window, members in self._excluding
            if object_id in members
            for span in window.occurrences(start, end)
        )

    def holding_window(self, object_id: str | None, at: datetime) -> MaintenanceWindow | None:
        """The approved maintenance window in which intake holds a firing alert on the object
        (an unapproved window counts for nothing: a window needs the customer's approval)."""
        if object_id is None:
            return None
        for window in self.contract.maintenance_windows:
            if window.approved_by is None or not window.covers(at):
                continue
            if object_id in self._members(window):
                return window
        return None

    def released_at(self, object_id: str | None, at: datetime) -> datetime | None:
        """When an alert fired at ``at`` reaches an incident, if intake holds it: the end of
        the approved windows covering the object from ``at`` on (back-to-back windows chain);
        None if it is not held."""
        end = None
        t = at
        for _ in range(64):  # back-to-back windows; a bound against a pathological contract
            window = self.holding_window(object_id, t)
            if window is None:
                return end
            ends = [c for o, c in window.occurrences(t, t + timedelta(microseconds=1)) if o <= t]
            if not ends:
                return end
            end = t = max(ends)
        return end

    def _members(self, window: MaintenanceWindow) -> set[str]:
        members = set(window.objects)
        for group in window.groups:
            members.update(self.contract.group_members(group))
        return members

    # -- graph and checks -------------------------------------------------------------------

    @functools.cached_property
    def graph(self) -> DependencyGraph:
        return DependencyGraph(self.contract)

    def chain(self, object_id: str) -> list[ChainStep]:
        """What to check along the dependency chain: everything the object depends on
        (nearest first), then everything that depends on it."""
        out: list[ChainStep] = []
        for relation, ids in (
            ("depends_on", self.contract.dependencies(object_id)),
            ("dependent", self.contract.dependents(object_id)),
        ):
            for other_id in ids:
                other = self.object(other_id)
                if other is not None:
                    out.append((relation, other))  # type: ignore[arg-type]
        return out

    def checks(self, object_id: str) -> list[CheckPlan]:
        """Who checks what when ``object_id`` fails: one check per neighbouring layer along the
        chain, the nearest object of each layer, by that layer's primary party (the drill's
        "who checks each layer"; the router opens them, intake lets their parties report)."""
        obj = self.object(object_id)
        if obj is None:
            return []
        out: list[CheckPlan] = []
        seen = {obj.layer}
        for relation, other in self.chain(object_id):
            party = self.owner_of(other.layer, None)
            if other.layer in seen or party is None:
                continue
            seen.add(other.layer)
            out.append(CheckPlan(other.layer, other.id, party, relation))
        return out

    def engaged_at(self, object_id: str, relation: str, at: datetime) -> datetime | None:
        """When the party checking ``object_id`` for an incident at ``at`` is engaged: at once
        (None), unless the object is a dependent whose own support hours are closed at ``at`` —
        then when they open. A business-hours device group above a failed server is checked
        when its users are back, not in the night (the drill says it, the router chases it)."""
        other = self.object(object_id)
        if relation != "dependent" or other is None or not self._known(other.calendar):
            return None
        hours = self.calendar(other.calendar)
        return None if hours.is_open(at) else hours.next_open(at)

    def nearest_in_layer(self, object_id: str | None, layer: Layer) -> str | None:
        """The nearest object of ``layer`` along the object's chain."""
        if object_id is None:
            return None
        return next((o.id for _, o in self.chain(object_id) if o.layer == layer), None)

    # -- access, pauses, escalation ----------------------------------------------------------

    def access(self, object_id: str, at: datetime) -> AccessAt | None:
        """The object's access rule at ``at``: after hours outside the day period."""
        obj = self.object(object_id)
        rule = self.contract.access_rules.get(obj.access) if obj and obj.access else None
        if obj is None or obj.access is None or rule is None:
            return None
        return AccessAt(
            rule_id=obj.access,
            rule=rule,
            after_hours=self.period(at, object_id) is not Period.DAY,
            ready_by=at + rule.lead_time,
        )

    def approval(self, access: AccessAt) -> str:
        """What work on the object needs at that hour, in words."""
        rule = access.rule
        if access.needs_approval:
            if rule.approver is None:
                return "approval needed, approver not named"
            return (
                f"after-hours work approved by {self.reach(rule.approver)}: approval by"
                f" {rule.approver} needed now (request_access, then {rule.approver} approves and"
                f" {rule.issued_by} grants)"
            )
        if access.after_hours:
            return "after-hours work needs no separate approval"
        return "business hours: no separate approval"

    def reach(self, ref: str) -> str:
        """``party/contact`` as one line: name, channels, party."""
        found = self.contract.contact(ref)
        if found is None:
            return f"{ref} (unknown contact)"
        party, contact = found
        return f"{contact.reach()} — {party.name}"

    def pause_clocks(self, reason_id: str | None) -> tuple[ClockKind, ...]:
        reason = next((r for r in self.contract.pause_reasons if r.id == reason_id), None)
        return tuple(reason.clocks) if reason else ()

    @property
    def levels(self) -> list[EscalationLevel]:
        return sorted(self.contract.escalation, key=lambda lv: lv.level)


def handover_layer(data: object, primary_layer: Layer | None) -> Layer | None:
    """The layer an incident event moves primary ownership to, None if it moves none: the
    probable origin moved to another layer, or a diagnosis found the fault in another layer.
    The router hands over on it and sla-clock labels the clocks' party by it, so both agree."""
    if isinstance(data, OriginMovedV1):
        moved = data.to_layer
    elif (
        isinstance(data, IncidentActionAcceptedV3)
        and data.action == ActionKind.DIAGNOSIS
        and data.fault_found
    ):
        moved = data.layer
    else:
        return None
    return moved if moved is not None and moved != primary_layer else None


_BY_ID: dict[int, tuple[Contract, ContractView]] = {}
_BY_HASH: dict[str, ContractView] = {}


def _view(contract: Contract) -> ContractView:
    """By identity first, then by content hash. Two objects of one version (the file loaded
    twice, or read back from the contract feed) share the view; each keeps its own identity
    entry, which holds the object alive so that its id is not reused while the entry exists."""
    entry = _BY_ID.get(id(contract))
    if entry is not None and entry[0] is contract:
        return entry[1]
    digest = contract.content_hash
    found = _BY_HASH.get(digest)
    if found is None:
        if len(_BY_HASH) >= _VIEWS:
            _BY_HASH.clear()
            _BY_ID.clear()
        found = _BY_HASH[digest] = ContractView(contract)
    if len(_BY_ID) >= 4 * _VIEWS:
        _BY_ID.clear()
    _BY_ID[id(contract)] = (contract, found)
    return found


def _sla_excluding_windows(contract: Contract) -> list[tuple[MaintenanceWindow, set[str]]]:
    out = []
    for window in contract.maintenance_windows:
        if window.excludes_sla and window.approved_by is not None:
            members = set(window.objects)
            for group in window.groups:
                members.update(contract.group_members(group))
            out.append((window, members))
    return out


def _percents(fractions: list[float]) -> tuple[int, ...]:
    """Fractions of a target as sorted whole percents above 0, the breach (100) left out: the
    warnings below it, and the escalation levels past the target above it."""
    return tuple(sorted({p for p in (round(f * 100) for f in fractions) if 0 < p != BREACH}))
