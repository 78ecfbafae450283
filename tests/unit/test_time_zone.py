"""One time zone check (``shared.instants.TimeZone``) for calendars, sites, schedules and weekly
maintenance windows: each refuses a name that is not an IANA zone and names the field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from shared.calendar import CalendarSpec
from shared.contract.model import Location, Schedule, WeeklySlot


def test_an_iana_zone_is_kept_as_written() -> None:
    spec = CalendarSpec(id="office", kind="24x7", timezone="Asia/Novosibirsk")
    assert spec.timezone == "Asia/Novosibirsk"
    assert Location(name="HQ").timezone is None


@pytest.mark.parametrize(
    "build",
    [
        lambda zone: CalendarSpec(id="office", kind="24x7", timezone=zone),
        lambda zone: Location(name="HQ", timezone=zone),
        lambda zone: Schedule(cron="0 2 * * *", timezone=zone),
        lambda zone: WeeklySlot(days=["sun"], start="02:00", duration="PT2H", timezone=zone),
    ],
    ids=["calendar", "site", "schedule", "maintenance-window"],
)
@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd"])
def test_a_zone_that_is_not_iana_is_refused_naming_the_field(
    build: Callable[[str], object], zone: str
) -> None:
    with pytest.raises(ValidationError, match=r"timezone\n.*unknown IANA time zone"):
        build(zone)
