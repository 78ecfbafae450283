"""Business-time arithmetic: when is a contract calendar open, and how much open time passes.

A ``CalendarSpec`` is the contract's description of a calendar (validated data); a
``BusinessCalendar`` built from it answers questions about instants. Everything here is pure: no
clock is read, "now" is always passed in, and every answer is an aware datetime in UTC.

Semantics, fixed once so the SLA clock, the router and the drill agree:

* **Open set.** A ``24x7`` calendar is always open and business time equals real time. A
  ``business_hours`` calendar is open during its weekly wall-clock intervals, in its own time zone,
  on local dates that are not holidays. A *moved working day* is worked with the hours of the
  weekday it names, even when it is also a public holiday (the contract's explicit word wins over
  the ``holidays`` package). Intervals are half-open: ``09:00–18:00`` is open at 09:00 and closed at
  18:00.
* **DST.** Hours are wall-clock hours: on a change date ``09:00–18:00`` is still 09:00–18:00 local,
  and ``00:00–24:00`` is 23 or 25 real hours. Business time is always counted in real (UTC)
  time inside the open intervals. An interval opens at the *first* instant its start time shows
  on the wall clock and closes at the *last* instant its end time shows, so an interval that
  touches a repeated (fall-back) hour covers it whole, never in two fragments. A wall time that
  does not exist (spring-forward gap) is mapped to the transition instant, so ``02:00–03:00`` on
  the Europe/Berlin spring-forward date is empty and ``02:30–04:00`` is open 03:00–04:00 local.
  Intervals that meet or overlap after this mapping (also across midnight) are merged.
* **Arithmetic.** ``add(start, d)`` is the instant at which ``d`` of business time has elapsed
  since ``start``; counting begins at the next opening if ``start`` is closed, and ``add(start,
  timedelta(0))`` is ``start`` itself (no movement), so that ``elapsed(s, add(s, d)) == d`` holds
  for every ``s`` and ``d``. If the duration runs out exactly at a closing instant, ``add``
  returns that closing instant, not the next opening. ``elapsed(start, end)`` is the open time
  inside ``[start, end)`` and is zero when ``end <= start``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Literal, Protocol, get_args
from zoneinfo import ZoneInfo

import holidays
from pydantic import BeforeValidator, Field, field_validator, model_validator

from shared.instants import TimeZone
from shared.model import Model

__all__ = [
    "TWENTY_FOUR_SEVEN",
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarSpec",
    "Hours",
    "Weekday",
    "holidays_data_version",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)


@functools.cache
def holidays_data_version() -> str:
    """The ``holidays`` package's version, pinned in the lock file: its data decide which days
    are public holidays, hence deadlines, so the contract hash includes it."""
    return importlib.metadata.version("holidays")  # parses the package's metadata: ~3 ms


_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_MINUTES_PER_DAY = 24 * 60
# How many consecutive local days without any open time ``_spans`` tolerates before it decides
# the calendar is closed for good. A valid spec opens every week, so this bound is only reached
# with pathological holiday lists; it turns a would-be endless loop into a clear error.
_MAX_CLOSED_DAYS = 3 * 366
_DAY_CACHE_LIMIT = 8192


def _split_shorthand(value: object) -> object:
    """Accept ``"09:00-18:00"`` as shorthand for ``["09:00", "18:00"]`` (YAML-friendly)."""
    if isinstance(value, str) and "-" in value:
        start, _, end = value.partition("-")
        return (start.strip(), end.strip())
    return value


Hours = Annotated[tuple[str, str], BeforeValidator(_split_shorthand)]
"""One open interval of a day, local wall-clock ``(start "HH:MM", end "HH:MM")``; end may be
``"24:00"``. Written in YAML either as ``["09:00", "18:00"]`` or as ``"09:00-18:00"``."""


def _minutes(text: str, *, where: str, is_end: bool) -> int:
    match = _HHMM.match(text)
    if match is None:
        raise ValueError(f"{where}: {text!r} is not a time of day in HH:MM form")
    value = int(match.group(1)) * 60 + int(match.group(2))
    if value > _MINUTES_PER_DAY or (value == _MINUTES_PER_DAY and not is_end):
        raise ValueError(f"{where}: {text!r} is out of range (24:00 is allowed only as an end)")
    return value


class CalendarSpec(Model):
    """A contract calendar, as written in the contract files.

    ``weekly`` maps weekday keys (``mon`` … ``sun``) to the day's open intervals; a missing or
    empty day is closed. ``holidays_country``/``holidays_subdiv`` name the public-holiday set of
    the ``holidays`` package (ISO 3166-1 alpha-2 code and its subdivision code);
    ``extra_holidays`` adds contract-specific days off; ``moved_working_days`` lists dates that
    are worked although they are weekends or holidays, each with the weekday whose hours apply
    (Kazakhstan's working Saturday 2024-05-04 that paid for the 2024-05-08 day off, for
    example). A ``24x7`` calendar ignores hours and holidays.
    """

    id: str = Field(min_length=1)
    kind: Literal["24x7", "business_hours"]
    timezone: TimeZone = "UTC"
    weekly: dict[Weekday, list[Hours]] = Field(default_factory=dict)
    holidays_country: str | None = None
    holidays_subdiv: str | None = None
    extra_holidays: list[date] = Field(default_factory=list)
    moved_working_days: dict[date, Weekday] = Field(default_factory=dict)

    @field_validator("weekly")
    @classmethod
    def _well_formed_hours(cls, value: dict[Weekday, list[Hours]]) -> dict[Weekday, list[Hours]]:
        for day, intervals in value.items():
            previous_end = -1
            bounds: list[tuple[int, int, str]] = []
            for index, (start, end) in enumerate(intervals):
                where = f"weekly.{day}[{index}]"
                bounds.append(
                    (
                        _minutes(start, where=where, is_end=False),
                        _minutes(end, where=where, is_end=True),
                        where,
                    )
                )
            for lo, hi, where in sorted(bounds):
                if lo >= hi:
                    raise ValueError(
                        f"{where}: start must be before end (an interval cannot cross midnight;"
                        " split it into '..-24:00' and the next day's '00:00-..')"
                    )
                if lo < previous_end:
                    raise ValueError(f"{where}: overlaps another interval of {day}")
                previous_end = hi
        return value

    @model_validator(mode="after")
    def _coherent(self) -> CalendarSpec:
        if self.kind == "24x7":
            return self
        if not any(self.weekly.get(day) for day in WEEKDAYS):
            raise ValueError(
                f"weekly: business_hours calendar {self.id!r} has no open interval in the week"
            )
        if self.holidays_subdiv is not None and self.holidays_country is None:
            raise ValueError("holidays_subdiv: set without holidays_country")
        if self.holidays_country is not None:
            try:
                holidays.country_holidays(self.holidays_country, subdiv=self.holidays_subdiv)
            except NotImplementedError as exc:
                field = "holidays_subdiv" if "subdivision" in str(exc) else "holidays_country"
                raise ValueError(f"{field}: {exc} in the holidays package") from exc
        for day, weekday in self.moved_working_days.items():
            if not self.weekly.get(weekday):
                raise ValueError(
                    f"moved_working_days.{day.isoformat()}: {weekday} has no hours to work by"
                )
            if day in self.extra_holidays:
                raise ValueError(
                    f"moved_working_days.{day.isoformat()}: also listed in extra_holidays"
                )
        return self


TWENTY_FOUR_SEVEN = CalendarSpec(id="24x7", kind="24x7")
"""The always-open calendar, for objects whose contract says 24/7 without naming a calendar."""


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


_Span = tuple[datetime, datetime]


class BusinessCalendar:
    """Answers "is it open", "when does it open", "add business time", "how much elapsed".

    Built once per ``CalendarSpec``; holiday sets are computed once per year and each local day's
    open spans once per date. Inputs must be timezone-aware; outputs are aware UTC datetimes.
    """

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.zone: tzinfo = ZoneInfo(spec.timezone)
        self._always_open = spec.kind == "24x7"
        self._weekly: dict[int, tuple[tuple[int, int], ...]] = {
            WEEKDAYS.index(day): _merge_minutes(
                [
                    (
                        _minutes(start, where=day, is_end=False),
                        _minutes(end, where=day, is_end=True),
                    )
                    for start, end in intervals
                ]
            )
            for day, intervals in spec.weekly.items()
        }
        self._extra_holidays = frozenset(spec.extra_holidays)
        self._holiday_years: dict[int, dict[date, str]] = {}
        self._day_spans: dict[date, tuple[_Span, ...]] = {}

    @property
    def id(self) -> str:
        return self.spec.id

    # -- days ---------------------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        """The reason ``day`` (a local date) is a day off, or ``None`` for a normal day.

        A moved working day is never a holiday; a ``24x7`` calendar has no holidays.
        """
        if self._always_open or day in self.spec.moved_working_days:
            return None
        if day in self._extra_holidays:
            return "contract holiday"
        if self.spec.holidays_country is None:
            return None
        year = self._holiday_years.get(day.year)
        if year is None:
            found = holidays.country_holidays(
                self.spec.holidays_country, subdiv=self.spec.holidays_subdiv, years=day.year
            )
            year = {d: str(name) for d, name in found.items()}
            self._holiday_years[day.year] = year
        return year.get(day)

    def hours_on(self, day: date) -> tuple[tuple[str, str], ...]:
        """The local wall-clock hours of ``day`` as ``("HH:MM", "HH:MM")`` pairs, after holidays
        and moved working days; adjacent intervals are merged, ``()`` means closed all day."""
        return tuple((_hhmm(lo), _hhmm(hi)) for lo, hi in self._minutes_on(day))

    def _minutes_on(self, day: date) -> tuple[tuple[int, int], ...]:
        if self._always_open:
            return ((0, _MINUTES_PER_DAY),)
        moved = self.spec.moved_working_days.get(day)
        if moved is not None:
            return self._weekly.get(WEEKDAYS.index(moved), ())
        if self.holiday_name(day) is not None:
            return ()
        return self._weekly.get(day.weekday(), ())

    def _spans_of_day(self, day: date) -> tuple[_Span, ...]:
        cached = self._day_spans.get(day)
        if cached is not None:
            return cached
        spans = []
        for lo, hi in self._minutes_on(day):
            opens = self._instant(day, lo, latest=False)
            closes = self._instant(day, hi, latest=True)
            if opens < closes:
                spans.append((opens, closes))
        result = tuple(spans)
        if len(self._day_spans) >= _DAY_CACHE_LIMIT:
            self._day_spans.clear()
        self._day_spans[day] = result
        return result

    def _instant(self, day: date, minute: int, *, latest: bool) -> datetime:
        """The UTC instant at which the wall clock of ``day`` shows ``minute`` (see module doc)."""
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        first = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        lo, hi = min(first, second), max(first, second)
        if self._wall(lo) == wall:  # exists (once, or twice when ambiguous)
            return hi if latest and self._wall(hi) == wall else lo
        # Nonexistent wall time: find the transition, the first second whose wall time is later.
        # zoneinfo's fold rule puts it between the two readings; transitions fall on whole
        # seconds, so a bisection over seconds is exact and takes under 20 steps.
        low, high = 0, int((hi - lo).total_seconds())
        while low < high:
            mid = (low + high) // 2
            if self._wall(lo + timedelta(seconds=mid)) > wall:
                high = mid
            else:
                low = mid + 1
        return lo + timedelta(seconds=low)

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def _spans(self, after: datetime) -> Iterator[_Span]:
        """Disjoint open spans in time order that end after ``after`` (UTC). Never ends.

        Spans of consecutive days may touch (a 24:00 close meets the next day's 00:00 open);
        where a DST edge makes them overlap, the later one is clipped, so no time counts twice.
        """
        day = after.astimezone(self.zone).date() - timedelta(days=1)
        cursor = after
        closed_days = 0
        while True:
            spans = self._spans_of_day(day)
            day += timedelta(days=1)
            closed_days = 0 if spans else closed_days + 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise ValueError(
                    f"calendar {self.id!r} has no open hours for {_MAX_CLOSED_DAYS} days"
                    f" after {after.isoformat()}"
                )
            for opens, closes in spans:
                if closes > cursor:
                    yield (max(opens, cursor), closes)
                    cursor = closes

    # -- public arithmetic --------------------------------------------------------------------

    def is_open(self, t: datetime) -> bool:
        """Whether the calendar is open at instant ``t``."""
        at = _require_aware(t, "t")
        if self._always_open:
            return True
        local = at.astimezone(self.zone).date()
        return any(
            opens <= at < closes
            for offset in (-1, 0, 1)
            for opens, closes in self._spans_of_day(local + timedelta(days=offset))
        )

    def next_open(self, t: datetime) -> datetime:
        """``t`` itself (in UTC) if open, else the next instant at which the calendar opens."""
        at = _require_aware(t, "t")
        if self._always_open:
            return at
        opens, _ = next(self._spans(at))
        return max(opens, at)

    def next_close(self, t: datetime) -> datetime:
        """The end of the open period that contains ``t``, or of the next one if ``t`` is closed.

        Periods that meet at midnight are one period. Raises ``ValueError`` for a calendar that
        does not close within a year (a ``24x7`` calendar never does).
        """
        at = _require_aware(t, "t")
        horizon = at + timedelta(days=366)
        if not self._always_open:
            spans = self._spans(at)
            _, closes = next(spans)
            for opens, later in spans:
                if opens > closes or closes >= horizon:
                    break
                closes = later
            if closes < horizon:
                return closes
        raise ValueError(f"calendar {self.id!r} does not close within a year of {at.isoformat()}")

    def periods(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open periods inside ``[start, end)``, clipped to it, in order, in UTC.

        Periods are maximal: two that meet (18:00 close, 18:00 open; midnight) are one.
        """
        lo = _require_aware(start, "start")
        hi = _require_aware(end, "end")
        if hi <= lo:
            return
        if self._always_open:
            yield (lo, hi)
            return
        current: _Span | None = None
        for opens, closes in self._spans(lo):
            if opens >= hi:
                break
            if current is not None and opens == current[1]:
                current = (current[0], closes)
                continue
            if current is not None:
                yield (current[0], min(current[1], hi))
            current = (opens, closes)
        if current is not None:
            yield (current[0], min(current[1], hi))

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time inside ``[start, end)``; zero when ``end <= start``."""
        total = timedelta(0)
        for opens, closes in self.periods(start, end):
            total += closes - opens
        return total

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of business time has elapsed since ``start``.

        Counting starts at ``start`` if open, else at the next opening; a zero duration returns
        ``start`` unchanged (in UTC). A negative duration is rejected.
        """
        at = _require_aware(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if self._always_open or not duration:
            return at + duration
        remaining = duration
        for opens, closes in self._spans(at):
            begin = max(opens, at)
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: _spans never ends")  # pragma: no cover


def _merge_minutes(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class TimeCalendar(Protocol):
    """What SLA arithmetic needs of a calendar: ``BusinessCalendar`` or ``ExcludingCalendar``."""

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


Exclusions = Callable[[datetime, datetime], Iterable[tuple[datetime, datetime]]]


class ExcludingCalendar:
    """A business calendar minus intervals that do not count (approved maintenance windows
    that the contract excludes from SLA time). Same ``add``/``elapsed`` contract as
    ``BusinessCalendar``; ``exclusions(start, end)`` yields the intervals overlapping a span."""

    def __init__(self, base: BusinessCalendar, exclusions: Exclusions) -> None:
        self.base = base
        self.exclusions = exclusions
        self.zone = base.zone

    @property
    def id(self) -> str:
        return self.base.id

    def _excluded(self, start: datetime, end: datetime) -> timedelta:
        """Business time inside the exclusions between ``start`` and ``end`` (merged)."""
        total = timedelta(0)
        reach = start
        for opens, closes in sorted(self.exclusions(start, end)):
            lo, hi = max(opens, reach, start), min(closes, end)
            if lo < hi:  # overlapping exclusions count once
                total += self.base.elapsed(lo, hi)
                reach = hi
        return total

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return timedelta(0)
        return self.base.elapsed(start, end) - self._excluded(start, end)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Walk forward: each step's excluded time is added again until a step loses none."""
        if duration <= timedelta(0):
            return self.base.add(start, duration)
        at, left = start, duration
        while True:
            candidate = self.base.add(at, left)
            lost = self._excluded(at, candidate)
            if lost <= timedelta(0):
                return candidate
            at, left = candidate, lost
