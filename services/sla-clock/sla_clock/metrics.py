"""sla-clock's Prometheus metrics.

Counters and the fire-lag histogram are plain; the per-clock remaining time is a collector over
the open clocks held in memory (stopped clocks leave it, so its cardinality is the number of
open clocks), computed at scrape time from each clock's deadline and calendar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.calendar import BusinessCalendar
from shared.events import Clock
from sla_clock.timeline import BREACH, ClockView, Status

FIRE_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


@dataclass(frozen=True, slots=True)
class OpenClock:
    status: Status
    reason: str
    deadline: datetime | None
    target: timedelta
    elapsed: timedelta
    calendar: str
    at_risk_share: float


class OpenClocks(Collector):
    """``baton_sla_remaining_seconds{incident,clock,state,reason}`` and
    ``baton_sla_paused_clocks{clock,reason}``, for open clocks only.

    ``state`` is ``running``, ``at_risk`` (past the first warning threshold), ``breached`` or
    ``paused``; ``reason`` is the pause reason of a paused clock, else empty.
    """

    def __init__(
        self, now: Callable[[], datetime], calendar: Callable[[str], BusinessCalendar]
    ) -> None:
        self._now = now
        self._calendar = calendar
        self.clocks: dict[tuple[str, Clock], OpenClock] = {}

    def update(self, incident_id: str, views: dict[Clock, ClockView]) -> None:
        for clock, view in views.items():
            key = (incident_id, clock)
            if view.status == Status.STOPPED:
                self.clocks.pop(key, None)
                continue
            first = min(view.thresholds, default=BREACH)
            pause = view.open_pause
            self.clocks[key] = OpenClock(
                status=view.status,
                reason=pause.reason if pause else "",
                deadline=view.deadline,
                target=view.policy.target,
                elapsed=view.elapsed,
                calendar=view.policy.calendar,
                at_risk_share=first / 100,
            )

    def remaining(self, item: OpenClock, now: datetime) -> timedelta:
        if item.status != Status.RUNNING or item.deadline is None:
            return item.target - item.elapsed
        cal = self._calendar(item.calendar)
        if now <= item.deadline:
            return cal.elapsed(now, item.deadline)
        return -cal.elapsed(item.deadline, now)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._now()
        remaining = GaugeMetricFamily(
            "baton_sla_remaining_seconds",
            "Business time left on each open SLA clock (negative once breached)",
            labels=["incident", "clock", "state", "reason"],
        )
        paused = GaugeMetricFamily(
            "baton_sla_paused_clocks",
            "Open SLA clocks that are paused, by pause reason",
            labels=["clock", "reason"],
        )
        counts: dict[tuple[str, str], int] = {}
        for (incident, clock), item in list(self.clocks.items()):
            left = self.remaining(item, now)
            state = item.status.value
            if item.status == Status.PAUSED:
                counts[(clock.value, item.reason)] = counts.get((clock.value, item.reason), 0) + 1
            elif left <= timedelta(0):
                state = "breached"
            elif item.target and left <= item.target * (1 - item.at_risk_share):
                state = "at_risk"
            remaining.add_metric([incident, clock.value, state, item.reason], left.total_seconds())
        for (clock_name, reason), n in sorted(counts.items()):
            paused.add_metric([clock_name, reason], n)
        yield remaining
        yield paused


@dataclass
class SlaMetrics:
    started: Counter
    breaches: Counter
    warnings: Counter
    stopped: Counter
    fire_lag: Histogram
    paused_seconds: Counter
    open: OpenClocks


def build_metrics(
    registry: CollectorRegistry,
    now: Callable[[], datetime],
    calendar: Callable[[str], BusinessCalendar],
) -> SlaMetrics:
    open_clocks = OpenClocks(now, calendar)
    registry.register(open_clocks)
    return SlaMetrics(
        started=Counter(
            "baton_sla_clocks_started", "SLA clocks started", ["clock"], registry=registry
        ),
        breaches=Counter(
            "baton_sla_breaches",
            "SLA deadlines breached",
            ["clock", "party", "priority"],
            registry=registry,
        ),
        warnings=Counter(
            "baton_sla_warnings",
            "SLA warning thresholds crossed",
            ["clock", "threshold"],
            registry=registry,
        ),
        stopped=Counter(
            "baton_sla_clocks_stopped",
            "SLA clocks stopped, met or not",
            ["clock", "met"],
            registry=registry,
        ),
        fire_lag=Histogram(
            "baton_sla_fire_lag_seconds",
            "How late a warning or breach fired after its due instant (contract time)",
            buckets=FIRE_LAG_BUCKETS,
            registry=registry,
        ),
        paused_seconds=Counter(
            "baton_sla_paused_seconds",
            "Business time kept off SLA clocks by ended pauses, by reason and invoking party",
            ["clock", "reason", "party"],
            registry=registry,
        ),
        open=open_clocks,
    )
