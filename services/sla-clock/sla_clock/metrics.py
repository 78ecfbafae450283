"""sla-clock's Prometheus metrics.

Counters and the fire-lag histogram are plain. The open clocks are held in memory (stopped
clocks leave) and exported only as aggregates computed at scrape time, never one series per
incident: the number of series is bounded by the contract (clocks × states × priorities ×
parties, and a fixed set of remaining-time buckets), not by how many incidents are open. Which
incident is closest to breach is a question for reporting's read API, not for Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.calendar import BusinessCalendar
from shared.events import ClockKind
from sla_clock.timeline import BREACH, ClockState, ClockView

FIRE_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)
REMAINING_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("breached", timedelta(0)),
    ("15m", timedelta(minutes=15)),
    ("1h", timedelta(hours=1)),
    ("4h", timedelta(hours=4)),
    ("1d", timedelta(days=1)),
    ("later", None),
)
"""Running clocks by business time left: each clock counts in the first bucket it fits."""


def at_risk(thresholds: tuple[int, ...]) -> float:
    """The share of its target at which a clock counts as at risk: its first warning (not an
    escalation level past the breach), else the breach."""
    return min((t for t in thresholds if t < BREACH), default=BREACH) / 100


@dataclass(frozen=True, slots=True)
class OpenClock:
    status: ClockState
    reason: str
    deadline: datetime | None
    target: timedelta
    elapsed: timedelta
    calendar: str
    at_risk_share: float
    priority: str = ""
    party: str = ""
    part: int = 0
    """The incidents-topic partition of its incident: the instance owning it counts it."""


def bucket_of(left: timedelta) -> str:
    for name, upper in REMAINING_BUCKETS:
        if upper is None or left <= upper:
            return name
    raise AssertionError("the last bucket is open-ended")


class OpenClocks(Collector):
    """Aggregates over the open clocks, by contract-bounded labels only:

    * ``baton_sla_open_clocks{clock,state,priority,party}`` — how many, where ``state`` is
      ``running``, ``at_risk`` (past the first warning threshold), ``breached`` or ``paused``;
    * ``baton_sla_remaining_seconds_min{clock,priority,party}`` — the business time left on
      the closest running clock (negative once breached);
    * ``baton_sla_open_clocks_remaining{clock,bucket}`` — running clocks by time left;
    * ``baton_sla_paused_clocks{clock,reason}`` — paused clocks by pause reason.
    """

    def __init__(
        self, now: Callable[[], datetime], calendar: Callable[[str], BusinessCalendar]
    ) -> None:
        self._now = now
        self._calendar = calendar
        self.clocks: dict[tuple[str, ClockKind], OpenClock] = {}

    def update(
        self,
        incident_id: str,
        views: dict[ClockKind, ClockView],
        *,
        priority: str = "",
        party: str = "",
        part: int = 0,
    ) -> None:
        for clock, view in views.items():
            key = (incident_id, clock)
            if view.status == ClockState.STOPPED:
                self.clocks.pop(key, None)
                continue
            pause = view.open_pause
            self.clocks[key] = OpenClock(
                status=view.status,
                reason=pause.reason if pause else "",
                deadline=view.deadline,
                target=view.policy.target,
                elapsed=view.elapsed,
                calendar=view.policy.calendar,
                at_risk_share=at_risk(view.thresholds),
                priority=priority,
                party=party,
                part=part,
            )

    def drop(self, partitions: Collection[int]) -> None:
        """Forget the clocks of ``partitions`` (revoked: another instance counts them now)."""
        self.clocks = {k: c for k, c in self.clocks.items() if c.part not in partitions}

    def remaining(self, item: OpenClock, now: datetime) -> timedelta:
        if item.status != ClockState.RUNNING or item.deadline is None:
            return item.target - item.elapsed
        business = self._calendar(item.calendar)
        if now <= item.deadline:
            return business.elapsed(now, item.deadline)
        return -business.elapsed(item.deadline, now)

    def state_of(self, item: OpenClock, left: timedelta) -> str:
        if item.status == ClockState.PAUSED:
            return "paused"
        if left <= timedelta(0):
            return "breached"
        if item.target and left <= item.target * (1 - item.at_risk_share):
            return "at_risk"
        return item.status.value

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._now()
        counts: dict[tuple[str, ...], int] = {}
        closest: dict[tuple[str, ...], float] = {}
        buckets: dict[tuple[str, ...], int] = {
            (c.value, name): 0 for c in ClockKind for name, _ in REMAINING_BUCKETS
        }
        paused: dict[tuple[str, ...], int] = {}
        for (_, clock), item in list(self.clocks.items()):
            left = self.remaining(item, now)
            state = self.state_of(item, left)
            group = (clock.value, item.priority, item.party)
            key = (clock.value, state, item.priority, item.party)
            counts[key] = counts.get(key, 0) + 1
            if state == "paused":
                paused[(clock.value, item.reason)] = paused.get((clock.value, item.reason), 0) + 1
                continue
            seconds = left.total_seconds()
            closest[group] = min(closest.get(group, seconds), seconds)
            buckets[(clock.value, bucket_of(left))] += 1
        yield _family(
            "baton_sla_open_clocks",
            "Open SLA clocks by clock, state, priority and primary party",
            ["clock", "state", "priority", "party"],
            counts,
        )
        yield _family(
            "baton_sla_remaining_seconds_min",
            "Business time left on the closest running SLA clock (negative once breached)",
            ["clock", "priority", "party"],
            closest,
        )
        yield _family(
            "baton_sla_open_clocks_remaining",
            "Running SLA clocks by business time left (breached, up to 15m, 1h, 4h, 1d, later)",
            ["clock", "bucket"],
            buckets,
        )
        yield _family(
            "baton_sla_paused_clocks",
            "Open SLA clocks that are paused, by pause reason",
            ["clock", "reason"],
            paused,
        )


def _family(
    name: str, documentation: str, labels: list[str], values: Mapping[tuple[str, ...], float]
) -> GaugeMetricFamily:
    """A gauge family with one sample per key of ``values`` (the label values, in order)."""
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


@dataclass
class SlaMetrics:
    started: Counter
    breaches: Counter
    warnings: Counter
    stopped: Counter
    fire_lag: Histogram
    paused_seconds: Counter
    open: OpenClocks
    updates: Counter


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
        updates=Counter(
            "baton_sla_update_timers",
            "Customer updates the coordinator was reminded of (reminder) or did not give in"
            " time (overdue), by coordinator and priority (ADR 47)",
            ["kind", "coordinator", "priority"],
            registry=registry,
        ),
    )
