"""Time and policy as one contract version answers them: calendars, the period of an instant,
when the clocks start, each clock's policy and an incident's deadlines — the same for the
router's assignments, sla-clock's clocks and the drill.

Every question takes the object it is about, even where today's contracts answer the same for
every object (the period calendar, the local time zone): per-location calendars change the
answers here, not the callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.calendar import (
    TWENTY_FOUR_SEVEN,
    BusinessCalendar,
    CalendarSpec,
    ExcludingCalendar,
    TimeCalendar,
)
from shared.contract.model import Contract, SlaTarget, SupportObject
from shared.contract.model_validators import SITE_HOURS
from shared.contract.terms import Period, classify
from shared.contract.windows import Windows
from shared.events import Category, ClockKind

ROUND_THE_CLOCK = "24x7"
_CACHE = 65536


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


class Timing:
    """Calendars, periods, the start rule, policies and deadlines (with their caches: the
    contract of one version never changes, so what depends on it alone is looked up once)."""

    def __init__(self, contract: Contract, windows: Windows) -> None:
        self._contract = contract
        self._objects = {o.id: o for o in contract.objects}
        self._windows = windows
        # Contract.calendar_spec's answers, without its scan of the list on every question
        self._specs: dict[str, CalendarSpec] = {
            TWENTY_FOUR_SEVEN.id: TWENTY_FOUR_SEVEN,
            **{c.id: c for c in reversed(contract.calendars)},
        }
        self._calendars: dict[str, BusinessCalendar] = {}
        self._local_calendars: dict[str | None, BusinessCalendar] = {}
        self._clock_calendars: dict[tuple[str, str | None], TimeCalendar] = {}
        self._policies: dict[
            tuple[str | None, Category, str, datetime], dict[ClockKind, Policy] | None
        ] = {}

    def _object(self, object_id: str | None) -> SupportObject | None:
        return self._objects.get(object_id) if object_id else None

    def period_calendar_of(self, obj: SupportObject | None) -> str | None:
        """The calendar that classifies instants for ``obj``: its location's period calendar,
        else the SLA's."""
        contract = self._contract
        location = contract.locations.get(obj.location) if obj and obj.location else None
        if location is not None and location.period_calendar is not None:
            return location.period_calendar
        return contract.sla.period_calendar

    def target_calendar(self, target: SlaTarget, obj: SupportObject | None) -> str:
        """The calendar a target counts on for ``obj``: the target's own; ``site`` = the
        business hours of the object's site (its location's period calendar, else the SLA's);
        none = the object's support hours (round the clock outside the perimeter)."""
        if target.calendar == SITE_HOURS and not self.known(SITE_HOURS):
            return self.period_calendar_of(obj) or (obj.calendar if obj else ROUND_THE_CLOCK)
        return target.calendar or (obj.calendar if obj else ROUND_THE_CLOCK)

    def known(self, calendar_id: str) -> bool:
        return calendar_id in self._specs

    def calendar(self, calendar_id: str) -> BusinessCalendar:
        found = self._calendars.get(calendar_id)
        if found is None:
            found = self._calendars[calendar_id] = self._contract.business_calendar(calendar_id)
        return found

    def local_calendar(self, object_id: str | None) -> BusinessCalendar:
        """The calendar whose time zone shows an object's local times: its location's period
        calendar, else the SLA's, else the object's, else UTC round the clock."""
        found = self._local_calendars.get(object_id)
        if found is None:
            found = self._local_calendar(object_id)
            if object_id is None or object_id in self._objects:  # the contract's: bounded
                self._local_calendars[object_id] = found
        return found

    def _local_calendar(self, object_id: str | None) -> BusinessCalendar:
        obj = self._object(object_id)
        for calendar_id in (self.period_calendar_of(obj), obj.calendar if obj else None):
            if calendar_id and self.known(calendar_id):
                return self.calendar(calendar_id)
        return self.calendar(ROUND_THE_CLOCK)

    def local(self, instant: datetime, object_id: str | None) -> str:
        """``instant`` on the object's wall clock, e.g. ``Sun 2026-11-29 03:00 Asia/Almaty``."""
        calendar = self.local_calendar(object_id)
        return f"{instant.astimezone(calendar.zone):%a %Y-%m-%d %H:%M} {calendar.spec.timezone}"

    def period(self, at: datetime, object_id: str | None = None) -> Period:
        """Day, night, weekend or holiday at ``at`` under the period calendar of the object's
        location, else the SLA's."""
        calendar_id = self.period_calendar_of(self._object(object_id))
        spec = self._specs.get(calendar_id) if calendar_id else None
        if calendar_id is None or spec is None or spec.kind == "24x7":
            return Period.DAY
        return classify(self.calendar(calendar_id), at)

    def clock_start(self, opened_at: datetime, first_alert_at: datetime | None) -> datetime:
        """When the clocks start: registration, or the first alert when the contract says
        ``clock_start: first_alert`` — never more than ``max_backdate`` earlier, never later."""
        sla = self._contract.sla
        if sla.clock_start != "first_alert" or first_alert_at is None:
            return opened_at
        return min(opened_at, max(first_alert_at, opened_at - sla.max_backdate))

    def priority(self, object_id: str | None, category: Category) -> str:
        """From the object's criticality × category; outside the perimeter as critical (the
        coordinator triages at the top)."""
        obj = self._object(object_id)
        return self._contract.priority(obj.criticality if obj else "critical", category)

    def urgency(self, priority: str) -> tuple[timedelta, str]:
        """How urgent ``priority`` is, for comparing two (smaller is more urgent): its shortest
        response target in the SLA matrix, then its name; a priority without targets last."""
        targets = [t.response for t in self._contract.sla.targets if t.priority == priority]
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
        if object_id is None and self._contract.sla.outside_perimeter == "none":
            return None  # the contract applies no SLA outside its perimeter
        if key in self._policies:
            found = self._policies[key]
        else:
            found = None
            period = self.period(start, object_id)
            target = self._contract.sla_target(category, priority, period)
            if target is not None:
                calendar = self.target_calendar(target, self._object(object_id))
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
        if not self._windows.excludes_sla(object_id):
            found = base
        else:

            def exclusions(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
                return self._windows.sla_exclusions(object_id, start, end)

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
        self,
        object_id: str | None,
        category: Category,
        priority: str,
        at: datetime,
        fraction: float,
    ) -> datetime | None:
        """When an unacknowledged assignment given at ``at`` goes to the backup contacts: the
        response target times ``fraction``, on the clock calendar."""
        policies = self.policy(object_id, category, priority, at)
        if policies is None:
            return None
        response = policies[ClockKind.RESPONSE]
        calendar = self.clock_calendar(response.calendar, object_id)
        return calendar.add(at, response.target * fraction)

    def pause_clocks(self, reason_id: str | None) -> tuple[ClockKind, ...]:
        """The clocks a pause for ``reason_id`` stops (none for a reason the contract lacks)."""
        reason = next((r for r in self._contract.pause_reasons if r.id == reason_id), None)
        return tuple(reason.clocks) if reason else ()
