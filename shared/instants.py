"""The range of instants Baton accepts from outside.

Every timestamp or month a client sends must fall in [2000-01-01, 2100-01-01) UTC: anything
outside is a mistake (Go's zero time 0001-01-01 sent as a start, a year typed as 9999) that
would otherwise be stored as ``-infinity``, overflow date arithmetic (a 500), or start an SLA
clock in the distant past. Refused with 422 naming the field; Go's zero time keeps its one
documented meaning where a format defines it ("no end yet").
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
RANGE = f"{EARLIEST:%Y-%m-%d} to {LATEST.year - 1}-12-31"


def in_range(value: datetime) -> datetime:
    """``value`` when it is inside the accepted range, else ValueError saying the range."""
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"{value.isoformat()} is outside the accepted range {RANGE}")
    return value


def in_range_or_unset(value: datetime) -> datetime:
    """Like ``in_range``, but Go's zero time (Alertmanager's, Grafana's "no end") passes."""
    return value if value == GO_ZERO_TIME else in_range(value)


Instant = Annotated[AwareDatetime, AfterValidator(in_range)]
"""An aware timestamp inside the accepted range."""

EndInstant = Annotated[AwareDatetime, AfterValidator(in_range_or_unset)]
"""An end timestamp: inside the accepted range, or Go's zero time for "not ended"."""


def known_zone(value: str) -> str:
    """``value`` when it names an IANA time zone, else ValueError saying so."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


TimeZone = Annotated[str, AfterValidator(known_zone)]
"""An IANA time zone's name ("Europe/Berlin")."""


def parse_month(value: str) -> date:
    """The first day of ``YYYY-MM``; ValueError saying why when malformed or out of range."""
    try:
        first = datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"expected YYYY-MM, got {value[:20]!r}") from None
    if not EARLIEST <= first < LATEST:
        raise ValueError(f"{value} is outside the accepted range {EARLIEST:%Y-%m} to 2099-12")
    return first.date()
