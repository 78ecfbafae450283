"""A clock that runs contract time as a test says — for tests and simulations only.

``BATON_SLA_TEST_CLOCK`` names a JSON file ``{"now": ISO, "anchor": ISO, "speed": S}``: the
process's "now" is ``now + (real - anchor) * speed`` — contract time ``now`` at the real instant
``anchor``, running ``speed`` contract seconds per real second (0: it stands still). The test
rewrites the file (atomically: write aside, then rename) to start, stop, speed up or jump
contract time; the process reads it again whenever it was replaced, and its time never runs
backwards. Processes given the same file agree on the time, so a test can kill one and start
another mid-run. Production leaves it unset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from shared.clock import Clock
from shared.settings import Settings

log = logging.getLogger("sla-clock.testclock")


@dataclass(frozen=True, slots=True)
class Pace:
    now: datetime
    anchor: datetime
    speed: float

    @classmethod
    def parse(cls, raw: bytes) -> Pace:
        doc = orjson.loads(raw)
        pace = cls(
            now=datetime.fromisoformat(doc["now"]),
            anchor=datetime.fromisoformat(doc["anchor"]),
            speed=float(doc["speed"]),
        )
        if pace.now.tzinfo is None or pace.anchor.tzinfo is None:
            raise ValueError("now and anchor need a UTC offset")
        if pace.speed < 0:
            raise ValueError("speed must be 0 or more")
        return pace

    def at(self, real: datetime) -> datetime:
        return self.now + (real - self.anchor) * self.speed


class ScaledClock:
    def __init__(self, real: Clock, path: Path) -> None:
        self._real = real
        self._path = path
        self._stamp: tuple[int, int, int] | None = None
        try:
            self._pace = Pace.parse(path.read_bytes())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"sla_test_clock: {path}: {exc}") from exc
        self._last: datetime | None = None

    def now(self) -> datetime:
        self._reload()
        now = self._pace.at(self._real.now())
        if self._last is not None and now < self._last:
            now = self._last  # slowed or stopped a moment after this process read it: no rewind
        self._last = now
        return now

    def _reload(self) -> None:
        try:
            st = self._path.stat()
        except OSError:
            stamp = None  # replaced this instant, or removed: keep the pace it had
        else:
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp is None or stamp == self._stamp:
            return
        self._stamp = stamp  # a file that does not parse is reported once, not on every call
        try:
            pace = Pace.parse(self._path.read_bytes())
        except (OSError, ValueError, KeyError, TypeError):
            log.exception("sla_test_clock: unreadable; contract time runs on as it was")
            return
        if pace != self._pace:
            log.info(
                "test clock moved",
                extra={
                    "now": pace.now.isoformat(),
                    "anchor": pace.anchor.isoformat(),
                    "speed": pace.speed,
                },
            )
            self._pace = pace


def clock_from(settings: Settings, real: Clock) -> Clock:
    """The real clock, or the test's clock when the test-only setting names its file."""
    if settings.sla_test_clock is None:
        return real
    return ScaledClock(real, settings.sla_test_clock)
