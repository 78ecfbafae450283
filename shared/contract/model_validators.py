"""The contract model's value parsing and helpers: what the YAML schema classes in
``shared.contract.model`` validate with (durations, times of day, business-unit targets, the
skeleton's short forms) and the small pure helpers they answer with (formatting a target, a
business day's length, a dependency closure, one cached calendar per spec)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic_core import PydanticCustomError

from shared.calendar import BusinessCalendar, CalendarSpec

if TYPE_CHECKING:
    from shared.contract.model import WeeklySlot

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")


_BUSINESS = re.compile(r"^\s*(\d+)\s*b([dh])\s*$", re.IGNORECASE)


def parse_duration(value: object) -> object:
    """Accept ``15m``, ``4h``, ``1d 12h`` besides ISO 8601 (``PT15M``) and seconds."""
    if isinstance(value, str) and _BUSINESS.match(value):
        raise PydanticCustomError(
            "business_units",
            "business days/hours (3bd, 4bh) are for SLA targets measured on a business-hours "
            "calendar: name the target's calendar or sla.period_calendar",
        )
    if isinstance(value, str) and value.strip() and not value.lstrip().upper().startswith("P"):
        match = _DURATION.match(value.lower())
        if match and any(match.groups()):
            days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return value


def time_of_day(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 22:00 as the sexagesimal number 1320.
        raise PydanticCustomError("time_unquoted", "write times of day in quotes, e.g. '02:00'")
    return value


def format_duration(value: timedelta) -> str:
    """``timedelta(hours=4, minutes=30)`` -> ``"4h30m"``; for tables and the drill."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s"))
    ]
    text = "".join(p for p in parts if not p.startswith("0"))
    return text or "0m"


def format_target(value: timedelta, business_day: timedelta | None) -> str:
    """An SLA target as contracts write it: on a business-hours calendar (``business_day``, its
    usual open day) in business units — 27 h on a 9-hour day is ``3bd``, 4 h is ``4bh`` — since
    that is what it counts; round the clock (``None``) as ``format_duration``."""
    if business_day is None:
        return format_duration(value)
    total, day = int(value.total_seconds()), int(business_day.total_seconds())
    if day and total and total % day == 0:
        return f"{total // day}bd"
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    return (f"{hours}bh" if hours else "") + (f"{minutes}m" if minutes else "") or "0m"


def sla_from_list(value: object) -> object:
    """The walking skeleton wrote ``sla:`` as a bare list of targets."""
    return {"targets": value} if isinstance(value, list) else value


def _minute_of(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def business_day_length(spec: CalendarSpec) -> timedelta | None:
    """The usual (most common) length of an open day of a business-hours calendar."""
    if spec.kind == "24x7":
        return None
    lengths: dict[int, int] = {}
    for hours in spec.weekly.values():
        if hours:
            minutes = sum(_minute_of(b) - _minute_of(a) for a, b in hours)
            lengths[minutes] = lengths.get(minutes, 0) + 1
    if not lengths:
        return None
    return timedelta(minutes=max(lengths, key=lambda m: lengths[m]))


SITE_HOURS = "site"
"""A target's ``calendar: site``: the business hours of the object's site — its location's
period calendar, else the SLA's (ADR 22). What ``3bd``/``4bh`` without a calendar count on."""


def business_targets(data: object) -> object:
    """``3bd`` / ``4bh`` in an SLA target: business days (of the usual open-day length) and
    business hours of the target's calendar, else of the object's site (``calendar: site``: its
    location's period calendar, else the SLA's) — and the target is then measured on that
    calendar, so "4 business hours" on a 24/7 object counts office hours, at the hub the hub's.
    A day's length is read from the named calendar, for ``site`` from the SLA's period one."""
    if not isinstance(data, dict):
        return data
    sla = sla_from_list(data.get("sla"))
    if not isinstance(sla, dict) or not isinstance(sla.get("targets"), list):
        return data
    specs = {c.get("id"): c for c in data.get("calendars") or [] if isinstance(c, dict)}
    targets = []
    for target in sla["targets"]:
        if not isinstance(target, dict) or not any(
            isinstance(target.get(k), str) and _BUSINESS.match(target[k])
            for k in ("response", "recovery")
        ):
            targets.append(target)
            continue
        calendar_id = target.get("calendar") or SITE_HOURS
        length_of = sla.get("period_calendar") if calendar_id == SITE_HOURS else calendar_id
        if calendar_id == SITE_HOURS and SITE_HOURS in specs:
            length_of = SITE_HOURS  # a calendar the contract itself calls "site"
        try:
            spec = CalendarSpec.model_validate(specs[length_of])
        except (KeyError, ValueError):
            targets.append(target)  # the field validator names the problem
            continue
        day = business_day_length(spec)
        if day is None:
            targets.append(target)
            continue
        converted = dict(target, calendar=calendar_id)
        for key in ("response", "recovery"):
            found = _BUSINESS.match(str(target.get(key, "")))
            if found:
                count, unit = int(found[1]), found[2].lower()
                converted[key] = day * count if unit == "d" else timedelta(hours=count)
        targets.append(converted)
    return dict(data, sla=dict(sla, targets=targets))


def layers_from_mapping(value: object) -> object:
    """Accept ``{layer: party}`` (the skeleton's form) besides the list of assignments."""
    if isinstance(value, dict):
        return [
            {"layer": layer, **(party if isinstance(party, dict) else {"primary": party})}
            for layer, party in value.items()
        ]
    return value


def closure(start: str, step: Callable[[str], Iterable[str]]) -> list[str]:
    seen: list[str] = []
    frontier = list(step(start))
    while frontier:
        nxt: list[str] = []
        for item in frontier:
            if item != start and item not in seen:
                seen.append(item)
                nxt.extend(step(item))
        frontier = nxt
    return seen


@functools.lru_cache(maxsize=256)
def cached_calendar(spec_json: str) -> BusinessCalendar:
    """One calendar (with its holiday and day caches) per distinct spec, shared by every
    contract version that has the same spec."""
    return BusinessCalendar(CalendarSpec.model_validate_json(spec_json))


def weekly_occurrences(
    slot: WeeklySlot, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """A weekly window's intervals that overlap ``[start, end)``, in time order."""
    zone = ZoneInfo(slot.timezone)
    first = start.astimezone(zone).date() - timedelta(days=slot.duration.days + 1)
    out = []
    for offset in range((end.astimezone(zone).date() - first).days + 1):
        day = first + timedelta(days=offset)
        if day.strftime("%a").lower() not in slot.days:
            continue
        opens = datetime.combine(day, slot.start, tzinfo=zone)
        closes = opens + slot.duration
        if opens < end and start < closes:
            out.append((opens, closes))
    return out


def weekly_covers(slot: WeeklySlot, at: datetime) -> bool:
    """Whether a weekly window is open at ``at``."""
    zone = ZoneInfo(slot.timezone)
    local = at.astimezone(zone)
    for back in range(slot.duration.days + 2):
        day = local.date() - timedelta(days=back)
        if day.strftime("%a").lower() not in slot.days:
            continue
        opens = datetime.combine(day, slot.start, tzinfo=zone)
        if opens <= at < opens + slot.duration:
            return True
    return False
