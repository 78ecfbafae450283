"""The contract appendix in words: parties, contacts, calendars, durations as the contract
means them (business hours and days on a business-hours calendar)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

from shared.calendar import CalendarSpec
from shared.contract.model import Contract
from shared.contract.model_validators import SITE_HOURS
from shared.documents.words import duration_words

if TYPE_CHECKING:
    pass


DAY_NAMES = {
    "mon": "Mon",
    "tue": "Tue",
    "wed": "Wed",
    "thu": "Thu",
    "fri": "Fri",
    "sat": "Sat",
    "sun": "Sun",
}


# --------------------------------------------------------------------------- words


def party_name(contract: Contract, party_id: str | None) -> str:
    if party_id is None:
        return "—"
    party = contract.parties.get(party_id)
    return party.name if party else f"{party_id} (unknown)"


def first_line_words(contract: Contract) -> str:
    """The first line as written: a party, or one of its contacts in its own hours (the
    coordinator accepts while they are closed)."""
    named = contract.contact(contract.first_line) if contract.first_line else None
    if named is None or contract.intake == contract.coordinator:
        return party_name(contract, contract.intake)
    party, contact = named
    hours = contact.hours or next(
        (
            s.calendar
            for s in party.duty
            if f"{contract.first_line_party}/{s.contact}" == contract.first_line
        ),
        None,
    )
    when = f", {calendar_words(contract, hours)}" if hours else ", round the clock"
    coordinator = party_name(contract, contract.coordinator)
    return f"{contact.name} ({party.name}{when}; otherwise {coordinator})"


def contact_words(contract: Contract, ref: str | None) -> str:
    if ref is None:
        return "—"
    found = contract.contact(ref)
    if found is None:
        return f"{ref} (unknown)"
    party, contact = found
    role = f", {contact.role}" if contact.role else ""
    return f"{contact.name}{role} ({party.name})"


def hours_words(spec: CalendarSpec) -> str:
    """``Mon–Fri 09:00–18:00, Sat 10:00–21:00`` — consecutive days with equal hours joined."""
    runs: list[tuple[list[str], str]] = []
    for day in DAY_NAMES:
        hours = spec.weekly.get(day)  # type: ignore[call-overload]
        if not hours:
            continue
        text = ", ".join(f"{a}–{b}" for a, b in hours)
        if runs and runs[-1][1] == text and _next_day(runs[-1][0][-1]) == day:
            runs[-1][0].append(day)
        else:
            runs.append(([day], text))
    return ", ".join(
        (DAY_NAMES[d[0]] if len(d) == 1 else f"{DAY_NAMES[d[0]]}–{DAY_NAMES[d[-1]]}") + f" {h}"
        for d, h in runs
    )


def _next_day(day: str) -> str:
    keys = list(DAY_NAMES)
    return keys[(keys.index(day) + 1) % 7]


def calendar_words(contract: Contract, calendar_id: str) -> str:
    spec = contract.calendar_spec(calendar_id)
    if spec is None and calendar_id == SITE_HOURS:
        fallback = contract.sla.period_calendar
        usual = f", else {calendar_words(contract, fallback)}" if fallback else ""
        return f"business hours of each object's site (its period calendar, see Sites{usual})"
    if spec is None:
        return f"{calendar_id} (unknown calendar)"
    if spec.kind == "24x7":
        return "24/7"
    holidays = ", closed on public holidays" if spec.holidays_country else ""
    return f"{hours_words(spec)} ({spec.timezone}){holidays}"


def business_day(contract: Contract, calendar_id: str | None) -> timedelta | None:
    """The usual length of an open day on a business-hours calendar; None for 24/7."""
    if calendar_id == SITE_HOURS and contract.calendar_spec(SITE_HOURS) is None:
        calendar_id = contract.sla.period_calendar  # what ``3bd`` at a site was converted with
    spec = contract.calendar_spec(calendar_id) if calendar_id else None
    if spec is None or spec.kind == "24x7":
        return None
    lengths = Counter(
        sum(
            (_minutes(b) - _minutes(a) for a, b in hours),
            0,
        )
        for hours in spec.weekly.values()
        if hours
    )
    if not lengths:
        return None
    minutes, _ = lengths.most_common(1)[0]
    return timedelta(minutes=minutes)


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def duration_text(contract: Contract, value: timedelta, calendar_id: str | None) -> str:
    return duration_words(value, business_day=business_day(contract, calendar_id))
