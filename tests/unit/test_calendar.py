"""Business-time arithmetic: hand-worked tables, then properties checked by hypothesis.

Hand-worked expectations are written in local wall time with the UTC reading in a comment;
Europe/Berlin is UTC+1 (CET) in winter and UTC+2 (CEST) in summer, Asia/Almaty is UTC+6 until
2024-03-01 and UTC+5 from then on (no DST; the one-off change repeats 23:00–24:00 of 2024-02-29).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.calendar import (
    TWENTY_FOUR_SEVEN,
    WEEKDAYS,
    BusinessCalendar,
    CalendarSpec,
    ExcludingCalendar,
)

BERLIN = ZoneInfo("Europe/Berlin")
ALMATY = ZoneInfo("Asia/Almaty")
WORKWEEK = ("mon", "tue", "wed", "thu", "fri")


def berlin_office(**extra: object) -> BusinessCalendar:
    """Mon–Fri 09:00–18:00 Europe/Berlin with German public holidays."""
    return BusinessCalendar(
        CalendarSpec.model_validate(
            {
                "id": "berlin-office",
                "kind": "business_hours",
                "timezone": "Europe/Berlin",
                "weekly": {day: ["09:00-18:00"] for day in WORKWEEK},
                "holidays_country": "DE",
                **extra,
            }
        )
    )


def almaty_office() -> BusinessCalendar:
    """Mon–Fri 09:00–13:00 and 14:00–18:00 Asia/Almaty, Kazakh public holidays, and the working
    Saturday 2024-05-04 (worked with Wednesday's hours; it paid for the 2024-05-08 day off)."""
    return BusinessCalendar(
        CalendarSpec(
            id="almaty-office",
            kind="business_hours",
            timezone="Asia/Almaty",
            weekly={day: [("09:00", "13:00"), ("14:00", "18:00")] for day in WORKWEEK},
            holidays_country="KZ",
            moved_working_days={date(2024, 5, 4): "wed"},
        )
    )


def round_the_clock(zone: str, **weekly: list[str]) -> BusinessCalendar:
    """A business_hours calendar open 00:00–24:00 every day unless a day is overridden: the
    wall-clock day then shows its real length (23/24/25 hours)."""
    hours: dict[str, list[str]] = {day: ["00:00-24:00"] for day in WEEKDAYS}
    hours.update(weekly)
    return BusinessCalendar(
        CalendarSpec.model_validate(
            {"id": "clock", "kind": "business_hours", "timezone": zone, "weekly": hours}
        )
    )


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- hand-worked tables -----------------------------------------------------------------------


def test_friday_evening_plus_one_hour_is_monday_morning() -> None:
    cal = berlin_office()
    # Fri 2024-06-14 17:30 CEST: 30 min left on Friday, weekend closed, 30 min more from Monday
    # 09:00 -> Mon 2024-06-17 09:30 CEST = 07:30 UTC.
    result = cal.add(at(BERLIN, 2024, 6, 14, 17, 30), timedelta(hours=1))
    assert result == utc(2024, 6, 17, 7, 30)
    assert result.tzinfo is UTC
    assert cal.elapsed(at(BERLIN, 2024, 6, 14, 17, 30), result) == timedelta(hours=1)


def test_night_is_skipped() -> None:
    cal = berlin_office()
    # Tue 2024-06-11 22:00 CEST is closed; next opening Wed 09:00 CEST (07:00 UTC); +2 h -> 11:00.
    night = at(BERLIN, 2024, 6, 11, 22, 0)
    assert not cal.is_open(night)
    assert cal.next_open(night) == utc(2024, 6, 12, 7, 0)
    assert cal.elapsed(night, at(BERLIN, 2024, 6, 12, 9, 0)) == timedelta(0)
    assert cal.add(night, timedelta(hours=2)) == utc(2024, 6, 12, 9, 0)
    # zero duration does not move, even at night
    assert cal.add(night, timedelta(0)) == night


def test_open_interval_is_half_open_and_ends_on_the_close() -> None:
    cal = berlin_office()
    assert cal.is_open(at(BERLIN, 2024, 6, 12, 9, 0))
    assert not cal.is_open(at(BERLIN, 2024, 6, 12, 18, 0))
    # 09:00 + 9 h ends exactly at the 18:00 close (16:00 UTC), not at Thursday's opening.
    assert cal.add(at(BERLIN, 2024, 6, 12, 9, 0), timedelta(hours=9)) == utc(2024, 6, 12, 16, 0)
    assert cal.next_close(at(BERLIN, 2024, 6, 12, 10, 0)) == utc(2024, 6, 12, 16, 0)
    assert cal.next_close(at(BERLIN, 2024, 6, 12, 20, 0)) == utc(2024, 6, 13, 16, 0)


def test_german_public_holiday() -> None:
    assert holidays.country_holidays("DE", years=2024).get(date(2024, 10, 3)) == (
        "German Unity Day"
    )
    cal = berlin_office()
    assert cal.holiday_name(date(2024, 10, 3)) == "German Unity Day"
    assert cal.hours_on(date(2024, 10, 3)) == ()
    assert not cal.is_open(at(BERLIN, 2024, 10, 3, 12, 0))
    # Wed 2024-10-02 17:00 + 2 h: 1 h Wednesday, Thursday is the holiday, 1 h Friday from 09:00
    # -> Fri 2024-10-04 10:00 CEST = 08:00 UTC.
    assert cal.add(at(BERLIN, 2024, 10, 2, 17, 0), timedelta(hours=2)) == utc(2024, 10, 4, 8, 0)


def test_kazakh_public_holiday_and_lunch_break() -> None:
    assert holidays.country_holidays("KZ", years=2024).get(date(2024, 12, 16)) == (
        "Independence Day"
    )
    cal = almaty_office()
    # Fri 2024-12-13 12:30 +05 + 2 h: 30 min to 13:00, lunch, 14:00–15:30 -> 15:30 +05 = 10:30 UTC.
    assert cal.add(at(ALMATY, 2024, 12, 13, 12, 30), timedelta(hours=2)) == utc(
        2024, 12, 13, 10, 30
    )
    # Fri 17:00 + 2 h: 1 h Friday, weekend, Mon 2024-12-16 Independence Day, 1 h Tuesday
    # -> Tue 2024-12-17 10:00 +05 = 05:00 UTC.
    assert cal.add(at(ALMATY, 2024, 12, 13, 17, 0), timedelta(hours=2)) == utc(2024, 12, 17, 5, 0)


def test_extra_contract_holiday() -> None:
    cal = berlin_office(extra_holidays=[date(2024, 12, 24), date(2024, 12, 31)])
    assert cal.holiday_name(date(2024, 12, 24)) == "contract holiday"
    # Mon 2024-12-23 17:00 CET + 3 h: 1 h Monday; Tue 24 contract holiday; Wed 25 and Thu 26
    # public holidays; 2 h Friday from 09:00 -> Fri 2024-12-27 11:00 CET = 10:00 UTC.
    assert cal.add(at(BERLIN, 2024, 12, 23, 17, 0), timedelta(hours=3)) == utc(2024, 12, 27, 10, 0)
    # without the contract holiday Tuesday counts: 1 h Mon + 2 h Tue -> Tue 11:00 CET
    assert berlin_office().add(at(BERLIN, 2024, 12, 23, 17, 0), timedelta(hours=3)) == utc(
        2024, 12, 24, 10, 0
    )


def test_moved_working_saturday() -> None:
    kz = holidays.country_holidays("KZ", years=2024)
    assert date(2024, 5, 8) in kz  # the day off the Saturday paid for
    cal = almaty_office()
    assert cal.hours_on(date(2024, 5, 4)) == (("09:00", "13:00"), ("14:00", "18:00"))
    assert cal.is_open(at(ALMATY, 2024, 5, 4, 10, 0))
    assert not cal.is_open(at(ALMATY, 2024, 5, 11, 10, 0))  # an ordinary Saturday
    # Fri 2024-05-03 17:00 +05 + 2 h: 1 h Friday, then Saturday from 09:00 -> 10:00 +05.
    assert cal.add(at(ALMATY, 2024, 5, 3, 17, 0), timedelta(hours=2)) == utc(2024, 5, 4, 5, 0)
    # Week of 6 May: Tue 7 (Defender's Day), Wed 8 (day off), Thu 9 (Victory Day) are closed;
    # Mon and Fri are 8 h each.
    assert cal.elapsed(at(ALMATY, 2024, 5, 6), at(ALMATY, 2024, 5, 11)) == timedelta(hours=16)


def test_berlin_spring_forward_day_has_23_hours() -> None:
    cal = round_the_clock("Europe/Berlin", sun=["01:00-04:00"])
    clock = round_the_clock("Europe/Berlin")
    # 2024-03-31: 02:00 CET jumps to 03:00 CEST. Local midnight to midnight is 23 real hours.
    assert clock.elapsed(at(BERLIN, 2024, 3, 31), at(BERLIN, 2024, 4, 1)) == timedelta(hours=23)
    # 00:00 CET (23:00 UTC Sat) + 12 real hours -> 11:00 UTC = 13:00 CEST (the wall clock
    # skipped an hour, so it shows 13:00, not 12:00).
    assert clock.add(at(BERLIN, 2024, 3, 31), timedelta(hours=12)) == utc(2024, 3, 31, 11, 0)
    # 01:00 CET (00:00 UTC) to 04:00 CEST (02:00 UTC): 3 wall hours, 2 real hours.
    assert cal.elapsed(at(BERLIN, 2024, 3, 31), at(BERLIN, 2024, 4, 1)) == timedelta(hours=2)
    assert list(cal.periods(at(BERLIN, 2024, 3, 31), at(BERLIN, 2024, 4, 1))) == [
        (utc(2024, 3, 31, 0, 0), utc(2024, 3, 31, 2, 0))
    ]


def test_berlin_spring_forward_nonexistent_hours() -> None:
    # 02:00–03:00 does not exist on 2024-03-31: the interval is empty, Sunday is closed.
    empty = round_the_clock("Europe/Berlin", sun=["02:00-03:00"])
    assert empty.elapsed(at(BERLIN, 2024, 3, 31), at(BERLIN, 2024, 4, 1)) == timedelta(0)
    # ... but a week later the same interval is one real hour (01:00–02:00 UTC in CEST).
    assert empty.elapsed(at(BERLIN, 2024, 4, 7), at(BERLIN, 2024, 4, 8)) == timedelta(hours=1)
    # 02:30–04:00 opens at the jump (03:00 CEST = 01:00 UTC) and closes at 04:00 CEST (02:00 UTC).
    late = round_the_clock("Europe/Berlin", sun=["02:30-04:00"])
    assert list(late.periods(at(BERLIN, 2024, 3, 31), at(BERLIN, 2024, 4, 1))) == [
        (utc(2024, 3, 31, 1, 0), utc(2024, 3, 31, 2, 0))
    ]
    assert not late.is_open(utc(2024, 3, 31, 0, 59))
    assert late.is_open(utc(2024, 3, 31, 1, 0))


def test_berlin_fall_back_day_has_25_hours() -> None:
    clock = round_the_clock("Europe/Berlin")
    # 2024-10-27: 03:00 CEST falls back to 02:00 CET, 02:00–03:00 is lived twice.
    assert clock.elapsed(at(BERLIN, 2024, 10, 27), at(BERLIN, 2024, 10, 28)) == timedelta(hours=25)
    # 00:00 CEST (22:00 UTC Sat) + 12 h -> 10:00 UTC = 11:00 CET.
    assert clock.add(at(BERLIN, 2024, 10, 27), timedelta(hours=12)) == utc(2024, 10, 27, 10, 0)
    # 01:00 CEST (23:00 UTC Sat) to 04:00 CET (03:00 UTC): 3 wall hours, 4 real hours.
    wide = round_the_clock("Europe/Berlin", sun=["01:00-04:00"])
    assert wide.elapsed(at(BERLIN, 2024, 10, 27), at(BERLIN, 2024, 10, 28)) == timedelta(hours=4)
    # 02:00–03:00 covers both passes of the repeated hour: 00:00–02:00 UTC.
    twice = round_the_clock("Europe/Berlin", sun=["02:00-03:00"])
    assert list(twice.periods(at(BERLIN, 2024, 10, 27), at(BERLIN, 2024, 10, 28))) == [
        (utc(2024, 10, 27, 0, 0), utc(2024, 10, 27, 2, 0))
    ]
    # 02:30–04:00 opens at the first 02:30 (CEST, 00:30 UTC) and closes at 04:00 CET (03:00
    # UTC) in one piece, so the repeated 02:00–02:30 CET inside it is open too.
    late = round_the_clock("Europe/Berlin", sun=["02:30-04:00"])
    assert list(late.periods(at(BERLIN, 2024, 10, 27), at(BERLIN, 2024, 10, 28))) == [
        (utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 3, 0))
    ]
    assert late.is_open(utc(2024, 10, 27, 1, 15))  # 02:15 CET, second pass


def test_office_hours_on_dst_dates_stay_wall_clock_hours() -> None:
    daily = round_the_clock("Europe/Berlin", **{day: ["09:00-18:00"] for day in WEEKDAYS})
    # Sat 2024-03-30 09:00 CET = 08:00 UTC; Sun 2024-03-31 09:00 CEST = 07:00 UTC; both 9 h.
    assert daily.next_open(at(BERLIN, 2024, 3, 30, 0, 0)) == utc(2024, 3, 30, 8, 0)
    assert daily.next_open(at(BERLIN, 2024, 3, 31, 0, 0)) == utc(2024, 3, 31, 7, 0)
    for day in (date(2024, 3, 31), date(2024, 10, 27)):
        start = datetime.combine(day, datetime.min.time(), BERLIN)
        assert daily.elapsed(start, start + timedelta(days=1)) == timedelta(hours=9)


def test_almaty_has_no_dst() -> None:
    clock = round_the_clock("Asia/Almaty")
    for day in (date(2024, 3, 31), date(2024, 10, 27), date(2025, 3, 30)):
        start = datetime.combine(day, datetime.min.time(), ALMATY)
        assert clock.elapsed(start, start + timedelta(days=1)) == timedelta(hours=24)
    office = almaty_office()
    # Tue 2024-06-11 22:00 +05 -> opens Wed 09:00 +05 = 04:00 UTC.
    assert office.next_open(at(ALMATY, 2024, 6, 11, 22, 0)) == utc(2024, 6, 12, 4, 0)


def test_almaty_2024_offset_change_repeats_an_hour_before_midnight() -> None:
    # Needs tzdata 2024a or later (the system zoneinfo): +06 -> +05 at 2024-03-01 00:00.
    assert at(ALMATY, 2024, 3, 1, 12, 0).utcoffset() == timedelta(hours=5), "tzdata too old"
    clock = round_the_clock("Asia/Almaty")
    # 2024-02-29 00:00 +06 (Feb 28 18:00 UTC) to 2024-03-01 00:00 +05 (Feb 29 19:00 UTC): 25 h,
    # with the day boundary falling after the repeated 23:00–24:00.
    feb29 = (utc(2024, 2, 28, 18, 0), utc(2024, 2, 29, 19, 0))
    assert clock.elapsed(*feb29) == timedelta(hours=25)
    assert clock.hours_on(date(2024, 2, 29)) == (("00:00", "24:00"),)


def test_havana_changes_at_midnight_without_double_counting() -> None:
    full = round_the_clock("America/Havana")
    saturday_only = round_the_clock(
        "America/Havana", **{day: [] for day in WEEKDAYS if day != "sat"}
    )
    # 2024-11-03: 01:00 CDT (-4) falls back to 00:00 CST (-5), so Sunday 00:00 happens twice
    # (04:00 and 05:00 UTC). Saturday 00:00–24:00 runs from Sat 00:00 CDT (04:00 UTC) to the
    # *last* Sunday 00:00 (05:00 UTC): 25 h.
    assert list(saturday_only.periods(utc(2024, 11, 1), utc(2024, 11, 5))) == [
        (utc(2024, 11, 2, 4, 0), utc(2024, 11, 3, 5, 0))
    ]
    # Sunday opens at the *first* 00:00 (04:00 UTC) and runs to Mon 00:00 CST (05:00 UTC): 25 h,
    # overlapping Saturday by an hour. Sat + Sun together: Sat 04:00 UTC -> Mon 05:00 UTC = 49 h,
    # not 50: the shared hour counts once.
    assert full.elapsed(utc(2024, 11, 2, 4, 0), utc(2024, 11, 4, 5, 0)) == timedelta(hours=49)
    # 2024-03-10: 00:00 CST jumps to 01:00 CDT. Saturday ends and Sunday starts at the jump
    # (05:00 UTC); Sunday is 23 h.
    havana = ZoneInfo("America/Havana")
    assert list(saturday_only.periods(utc(2024, 3, 8), utc(2024, 3, 12))) == [
        (utc(2024, 3, 9, 5, 0), utc(2024, 3, 10, 5, 0))
    ]
    assert full.elapsed(at(havana, 2024, 3, 10), at(havana, 2024, 3, 11)) == timedelta(hours=23)


def test_24x7_is_plain_time() -> None:
    cal = BusinessCalendar(TWENTY_FOUR_SEVEN)
    start = at(BERLIN, 2024, 3, 30, 23, 0)  # 22:00 UTC, the night before spring-forward
    assert cal.is_open(start)
    # real time, not wall time: 2 days later is 22:00 UTC = 00:00 CEST, not 23:00 CEST
    assert cal.add(start, timedelta(days=2)) == utc(2024, 4, 1, 22, 0)
    # 23:00 CET + 5 wall hours is 05:00 CEST: only 4 real hours, and 24x7 counts real time
    assert cal.elapsed(start, start + timedelta(hours=5)) == timedelta(hours=4)
    assert cal.holiday_name(date(2024, 12, 25)) is None
    with pytest.raises(ValueError, match="does not close"):
        cal.next_close(start)


def test_weeks_of_business_time_are_cheap() -> None:
    cal = berlin_office()
    start = at(BERLIN, 2024, 1, 1, 0, 0)
    # 45 h a week; 52 weeks of business time crosses into 2025 and back out via elapsed.
    end = cal.add(start, timedelta(hours=45 * 52))
    assert end.year == 2025
    assert cal.elapsed(start, end) == timedelta(hours=45 * 52)


def test_calendar_closed_for_years_raises_instead_of_looping() -> None:
    mondays = [date(2024, 1, 1) + timedelta(weeks=n) for n in range(52 * 5)]
    cal = BusinessCalendar(
        CalendarSpec(
            id="never",
            kind="business_hours",
            timezone="UTC",
            weekly={"mon": [("09:00", "10:00")]},
            extra_holidays=mondays,
        )
    )
    with pytest.raises(ValueError, match="no open hours"):
        cal.add(utc(2024, 1, 1), timedelta(hours=1))


@pytest.mark.parametrize(
    "method", ["is_open", "next_open", "next_close", "add", "elapsed", "periods"]
)
def test_naive_inputs_are_rejected_by_name(method: str) -> None:
    cal = berlin_office()
    naive = datetime(2024, 6, 12, 10, 0)
    aware = at(BERLIN, 2024, 6, 12, 10, 0)
    calls: dict[str, Callable[[], object]] = {
        "is_open": lambda: cal.is_open(naive),
        "next_open": lambda: cal.next_open(naive),
        "next_close": lambda: cal.next_close(naive),
        "add": lambda: cal.add(naive, timedelta(hours=1)),
        "elapsed": lambda: cal.elapsed(aware, naive),
        "periods": lambda: list(cal.periods(naive, aware)),
    }
    name = {"elapsed": "end", "periods": "start", "add": "start"}.get(method, "t")
    with pytest.raises(ValueError, match=f"^{name} must be a timezone-aware"):
        calls[method]()


def test_negative_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="duration"):
        berlin_office().add(at(BERLIN, 2024, 6, 12, 10, 0), timedelta(seconds=-1))


# --- spec validation --------------------------------------------------------------------------

GOOD: dict[str, object] = {
    "id": "x",
    "kind": "business_hours",
    "timezone": "Europe/Berlin",
    "weekly": {"mon": ["09:00-18:00"]},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Europe/Berln"}, "timezone"),
        ({"weekly": {"mon": ["18:00-09:00"]}}, r"weekly\.mon\[0\].*cross midnight"),
        ({"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}}, r"weekly\.mon\[1\]: overlaps"),
        ({"weekly": {"mon": ["9:00-12:00"]}}, r"weekly\.mon\[0\].*HH:MM"),
        ({"weekly": {"mon": ["24:00-24:00"]}}, "24:00 is allowed only as an end"),
        ({"weekly": {"mon": ["09:00-24:30"]}}, "out of range"),
        ({"weekly": {"monday": ["09:00-10:00"]}}, "weekly.monday"),
        ({"weekly": {"mon": []}}, "no open interval"),
        ({"holidays_country": "XX"}, "holidays_country"),
        ({"holidays_country": "DE", "holidays_subdiv": "ZZ"}, "holidays_subdiv"),
        ({"holidays_subdiv": "BY"}, "holidays_subdiv: set without holidays_country"),
        ({"moved_working_days": {"2024-05-04": "sat"}}, r"moved_working_days\.2024-05-04"),
        (
            {"extra_holidays": ["2024-05-04"], "moved_working_days": {"2024-05-04": "mon"}},
            "also listed in extra_holidays",
        ),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_specs_name_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CalendarSpec.model_validate({**GOOD, **change})


def test_good_spec_forms() -> None:
    spec = CalendarSpec.model_validate(
        {
            **GOOD,
            "weekly": {"mon": ["09:00-12:00", ["12:00", "18:00"]], "sat": ["20:00-24:00"]},
            "holidays_country": "DE",
            "holidays_subdiv": "BY",
        }
    )
    cal = BusinessCalendar(spec)
    assert cal.hours_on(date(2024, 6, 10)) == (("09:00", "18:00"),)  # touching ones merge
    assert cal.holiday_name(date(2024, 1, 6)) == "Epiphany"  # Bavaria only
    # a 24x7 calendar ignores hours entirely, so it may carry none
    assert CalendarSpec(id="ops", kind="24x7", timezone="Asia/Almaty").weekly == {}
    with pytest.raises(ValidationError):
        spec.id = "y"  # type: ignore[misc]


# --- properties -------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "Asia/Almaty",
    "America/Havana",  # DST changes at midnight: a repeated and a missing 00:00
    "America/Santiago",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/New_York",
]

FIXED_SPECS = [
    berlin_office().spec,
    almaty_office().spec,
    round_the_clock("Europe/Berlin").spec,
    round_the_clock("America/Havana", sat=["20:00-24:00"], sun=["00:00-02:00"]).spec,
    round_the_clock(
        "Europe/Berlin", **{day: [] for day in WEEKDAYS if day != "sun"}, sun=["02:15-02:45"]
    ).spec,
]


@st.composite
def random_specs(draw: st.DrawFn) -> CalendarSpec:
    weekly: dict[str, list[tuple[str, str]]] = {}
    for day in WEEKDAYS:
        points = sorted(draw(st.sets(st.integers(0, 48), max_size=6)))
        pairs = list(zip(points[::2], points[1::2], strict=False))
        weekly[day] = [
            (f"{a // 2:02d}:{a % 2 * 30:02d}", f"{b // 2:02d}:{b % 2 * 30:02d}") for a, b in pairs
        ]
    if not any(weekly.values()):
        weekly["wed"] = [("10:00", "11:30")]
    worked = [day for day in WEEKDAYS if weekly[day]]
    moved = draw(
        st.dictionaries(
            st.dates(date(2023, 1, 1), date(2026, 12, 31)), st.sampled_from(worked), max_size=3
        )
    )
    extra = draw(st.lists(st.dates(date(2023, 1, 1), date(2026, 12, 31)), max_size=5))
    return CalendarSpec(
        id="random",
        kind="business_hours",
        timezone=draw(st.sampled_from(ZONES)),
        weekly=weekly,
        holidays_country=draw(st.sampled_from([None, "DE", "KZ"])),
        extra_holidays=[d for d in extra if d not in moved],
        moved_working_days=moved,
    )


calendars = st.one_of(st.sampled_from(FIXED_SPECS), random_specs()).map(BusinessCalendar)


def _offset_changes() -> list[datetime]:
    """Noon UTC of each day on which one of ZONES changes its offset (DST and one-off changes)."""
    changes: list[datetime] = []
    noon = utc(2023, 6, 1, 12, 0)
    while noon < utc(2025, 12, 31):
        following = noon + timedelta(days=1)
        changes.extend(
            noon
            for zone in map(ZoneInfo, ZONES)
            if noon.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset()
        )
        noon = following
    return changes


anywhen = st.datetimes(
    min_value=datetime(2023, 6, 1),
    max_value=datetime(2025, 12, 31),
    timezones=st.sampled_from([UTC, BERLIN, ALMATY]),
)
# Whole minutes within 1.5 days of an offset change, so DST edges are hit exactly and often.
near_a_change = st.builds(
    lambda noon, minutes: noon + timedelta(minutes=minutes),
    st.sampled_from(_offset_changes()),
    st.integers(-36 * 60, 36 * 60),
)
instants = st.one_of(anywhen, near_a_change)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars, instants, durations)
def test_elapsed_inverts_add_from_any_start(
    cal: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    end = cal.add(start, duration)
    assert cal.elapsed(start, end) == duration
    assert end - start >= duration  # business time never outruns real time


@PROPERTY
@given(calendars, instants, durations)
def test_elapsed_inverts_add_from_an_open_start(
    cal: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    opened = cal.next_open(start)
    assert cal.is_open(opened)
    assert cal.elapsed(start, opened) == timedelta(0)
    assert cal.elapsed(opened, cal.add(opened, duration)) == duration


@PROPERTY
@given(calendars, instants, durations, durations)
def test_add_is_monotonic_in_duration(
    cal: BusinessCalendar, start: datetime, d1: timedelta, d2: timedelta
) -> None:
    short, long = sorted((d1, d2))
    assert cal.add(start, short) <= cal.add(start, long)
    # compare in UTC: Python never calls an ambiguous wall time equal to one in another zone
    assert cal.add(start, timedelta(0)) == start.astimezone(UTC)


@PROPERTY
@given(calendars, instants, st.lists(durations, min_size=2, max_size=2))
def test_elapsed_is_additive(cal: BusinessCalendar, a: datetime, gaps: list[timedelta]) -> None:
    # aware arithmetic in a zone is wall-clock arithmetic; go through UTC to keep a <= b <= c
    b = a.astimezone(UTC) + gaps[0]
    c = b + gaps[1]
    assert cal.elapsed(a, c) == cal.elapsed(a, b) + cal.elapsed(b, c)
    assert cal.elapsed(c, a) == timedelta(0)
    assert sum((hi - lo for lo, hi in cal.periods(a, c)), timedelta(0)) == cal.elapsed(a, c)


@PROPERTY
@given(
    calendars,
    instants,
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3)),
)
def test_add_lands_in_or_at_the_end_of_an_open_period(
    cal: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    end = cal.add(start, duration)
    assert cal.is_open(end) or cal.is_open(end - timedelta(microseconds=1))
    assert cal.is_open(end - timedelta(microseconds=1))


@PROPERTY
@given(calendars, instants)
def test_open_agrees_with_the_wall_clock(cal: BusinessCalendar, t: datetime) -> None:
    """Oracle: away from repeated (ambiguous) wall times, open means the local wall-clock time
    lies in one of the day's intervals, after holidays and moved working days."""
    zone = ZoneInfo(cal.spec.timezone)
    local = t.astimezone(zone)
    assert cal.is_open(t) == (cal.next_open(t) == t.astimezone(UTC))
    if local.replace(fold=1 - local.fold).astimezone(UTC) != local.astimezone(UTC):
        return  # ambiguous reading: the oracle cannot say which pass it is
    spec = cal.spec
    day = local.date()
    weekday = spec.moved_working_days.get(day)
    if weekday is None:
        country = (
            holidays.country_holidays(spec.holidays_country, years=day.year)
            if spec.holidays_country
            else {}
        )
        closed = day in spec.extra_holidays or day in country
        weekday = None if closed else WEEKDAYS[day.weekday()]
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    hours = spec.weekly.get(weekday, []) if weekday else []

    def minutes(text: str) -> int:
        return int(text[:2]) * 60 + int(text[3:])

    expected = any(minutes(lo) * 60 <= seconds < minutes(hi) * 60 for lo, hi in hours)
    assert cal.is_open(t) == expected


@settings(max_examples=60, deadline=None)
@given(instants, durations, instants)
def test_24x7_is_plain_addition(start: datetime, duration: timedelta, other: datetime) -> None:
    cal = BusinessCalendar(TWENTY_FOUR_SEVEN)
    real_start = start.astimezone(UTC)  # aware + timedelta in a zone would be wall-clock time
    assert cal.add(start, duration) == real_start + duration
    assert cal.elapsed(start, other) == max(other.astimezone(UTC) - real_start, timedelta(0))
    assert cal.is_open(other)


def test_excluding_calendar_skips_its_intervals_once() -> None:
    base = BusinessCalendar(CalendarSpec(id="24x7", kind="24x7"))
    t = datetime(2026, 11, 24, 0, tzinfo=UTC)
    windows = [
        (t + timedelta(hours=2), t + timedelta(hours=4)),
        (t + timedelta(hours=3), t + timedelta(hours=5)),
    ]  # overlapping: 02:00–05:00
    cal = ExcludingCalendar(base, lambda s, e: [w for w in windows if w[0] < e and s < w[1]])
    assert cal.add(t + timedelta(hours=1), timedelta(hours=2)) == t + timedelta(hours=6)
    assert cal.elapsed(t, t + timedelta(hours=6)) == timedelta(hours=3)
    assert cal.add(t + timedelta(hours=3), timedelta(0)) == t + timedelta(hours=3)
    for start_h, hours in [(0, 1), (1, 3), (2, 1), (4, 2), (6, 1)]:
        start = t + timedelta(hours=start_h)
        assert cal.elapsed(start, cal.add(start, timedelta(hours=hours))) == timedelta(hours=hours)
