"""Durations and schedules in words, the way a contract states them."""

from __future__ import annotations

from datetime import timedelta

from cron_descriptor import ExpressionDescriptor, Options


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def duration_words(value: timedelta, *, business_day: timedelta | None = None) -> str:
    """``timedelta(hours=4)`` -> "4 hours"; ``timedelta(days=1, hours=12)`` -> "1 day 12 hours".

    With ``business_day`` (the length of a working day on a business-hours calendar) the
    duration is counted in business time, as the contract means it: 27 h on a 9-hour day is
    "3 business days", 16 h is "16 business hours".
    """
    total = int(value.total_seconds())
    if total <= 0:
        return "none"
    if business_day is not None:
        day = int(business_day.total_seconds())
        if day and total % day == 0:
            return _plural(total // day, "business day")
        hours, rest = divmod(total, 3600)
        minutes = rest // 60
        parts = [_plural(hours, "business hour")] if hours else []
        if minutes:
            parts.append(
                _plural(minutes, "business minute") if not hours else _plural(minutes, "minute")
            )
        return " ".join(parts) or _plural(total, "second")
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        _plural(n, unit)
        for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"), (seconds, "second"))
        if n
    ]
    return " ".join(parts)


def seconds_words(seconds: float | None) -> str:
    """A measured span (downtime, MTTR) in words, rounded to the minute; "—" when unknown."""
    if seconds is None:
        return "—"
    rounded = round(seconds / 60) * 60
    if rounded == 0:
        return "under a minute" if seconds > 0 else "none"
    return duration_words(timedelta(seconds=rounded))


_CRON_OPTIONS = Options()
_CRON_OPTIONS.use_24hour_time_format = True


def cron_words(expression: str, timezone: str = "") -> str:
    """``"30 2 * * *"`` -> "At 02:30 (Asia/Almaty)"; the raw expression if it cannot be read."""
    try:
        text = str(ExpressionDescriptor(expression, _CRON_OPTIONS).get_description())
    except Exception:  # cron-descriptor raises several types; an unreadable schedule is shown raw
        text = f"cron {expression}"
    return f"{text} ({timezone})" if timezone else text
