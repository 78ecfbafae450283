"""A clock that runs contract time faster than real time — for tests and simulations only.

``BATON_SLA_TEST_NOW``/``BATON_SLA_TEST_ANCHOR``/``BATON_SLA_TEST_SPEED`` give sla-clock a "now"
of ``test_now + (real - anchor) * speed``. Two processes given the same three values agree on
the time, so a test can kill one and start another mid-run. Production leaves them unset.
"""

from __future__ import annotations

from datetime import datetime

from shared.clock import Clock
from shared.settings import Settings


class ScaledClock:
    def __init__(self, real: Clock, start: datetime, anchor: datetime, speed: float) -> None:
        self._real = real
        self._start = start
        self._anchor = anchor
        self._speed = speed

    def now(self) -> datetime:
        return self._start + (self._real.now() - self._anchor) * self._speed


def clock_from(settings: Settings, real: Clock) -> Clock:
    """The real clock, or a scaled one when the test-only settings ask for it."""
    if settings.sla_test_now is None:
        return real
    anchor = settings.sla_test_anchor or real.now()
    return ScaledClock(real, settings.sla_test_now, anchor, settings.sla_test_speed)
