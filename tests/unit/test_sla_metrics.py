"""sla-clock's metrics: remaining time per open clock, paused clocks by reason."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from sla_clock.metrics import build_metrics
from sla_clock.timeline import fold

from shared.clock import FixedClock
from shared.events import Category
from tests.unit.test_sla_timeline import RULES, pause, record, utc

H = timedelta(hours=1)


def test_remaining_time_is_business_time_and_stopped_clocks_leave_the_gauges() -> None:
    opened = utc(2026, 12, 4, 8)  # Fri 09:00 CET, office calendar: recovery 8h, response 2h
    clock = FixedClock(utc(2026, 12, 4, 16))  # Fri 17:00 CET
    registry = CollectorRegistry()
    metrics = build_metrics(registry, clock.now, RULES.view.calendar)
    paused = record(Category.DEGRADATION, opened, pause(utc(2026, 12, 4, 14)))
    metrics.open.update("inc-1", fold(paused, RULES), priority="P3", party="osdb")
    text = generate_latest(registry).decode()
    # response (2h) breached at 11:00 CET: 6h of business time late at 17:00
    assert (
        'baton_sla_remaining_seconds_min{clock="response",party="osdb",priority="P3"} -21600.0'
        in text
    )
    assert (
        'baton_sla_open_clocks{clock="response",party="osdb",priority="P3",state="breached"} 1.0'
        in text
    )
    assert 'baton_sla_open_clocks_remaining{bucket="breached",clock="response"} 1.0' in text
    # recovery paused at 15:00 CET: counted as paused, by reason, not among the running
    assert (
        'baton_sla_open_clocks{clock="recovery",party="osdb",priority="P3",state="paused"} 1.0'
        in text
    )
    assert 'baton_sla_paused_clocks{clock="recovery",reason="no-access"} 1.0' in text
    assert 'baton_sla_remaining_seconds_min{clock="recovery"' not in text
    # over the weekend the running response clock's lateness does not grow
    clock.set(utc(2026, 12, 6, 12))
    assert 'priority="P3"} -25200.0' in generate_latest(registry).decode()  # + Fri 17–18
    acked = paused.with_fact(
        paused.facts[0].model_copy(update={"kind": "acknowledge", "at": utc(2026, 12, 4, 15)})
    )
    metrics.open.update("inc-1", fold(acked, RULES), priority="P3", party="osdb")
    text = generate_latest(registry).decode()
    assert 'baton_sla_open_clocks{clock="response"' not in text
    assert 'baton_sla_open_clocks{clock="recovery"' in text


def test_at_risk_after_the_first_warning_threshold() -> None:
    opened = utc(2026, 12, 2, 10)  # outage P1 round the clock: recovery 4h, warning at 50 %
    clock = FixedClock(opened + 2 * H + timedelta(minutes=1))
    registry = CollectorRegistry()
    metrics = build_metrics(registry, clock.now, RULES.view.calendar)
    metrics.open.update(
        "inc-2", fold(record(Category.OUTAGE, opened), RULES), priority="P1", party="osdb"
    )
    text = generate_latest(registry).decode()
    assert 'baton_sla_open_clocks{clock="recovery",party="osdb",priority="P1",state="at_risk"}' in (
        text
    )
    assert (
        'baton_sla_remaining_seconds_min{clock="recovery",party="osdb",priority="P1"} 7140.0'
        in (text)
    )
    assert 'baton_sla_open_clocks_remaining{bucket="4h",clock="recovery"} 1.0' in text


def series(registry: CollectorRegistry) -> list[str]:
    return [
        line
        for line in generate_latest(registry).decode().splitlines()
        if line.startswith("baton_sla_") and not line.startswith("#")
    ]


def test_series_count_does_not_grow_with_open_incidents() -> None:
    """60 or 2,000 open incidents over the same parties, priorities and states: the same
    series, whose number the contract bounds (it was one series per incident and clock)."""
    opened = utc(2026, 12, 2, 10)
    counts = []
    for n in (60, 2000):
        clock = FixedClock(opened + 2 * H)
        registry = CollectorRegistry()
        metrics = build_metrics(registry, clock.now, RULES.view.calendar)
        categories = [Category.OUTAGE, Category.DEGRADATION]
        for i in range(n):
            rec = record(categories[i % 2], opened - (i % 10) * H)
            party = ("osdb", "apps", "net")[i % 3]
            metrics.open.update(f"inc-{i}", fold(rec, RULES), priority=rec.priority, party=party)
        lines = series(registry)
        assert not any("incident=" in line for line in lines)
        counts.append(len(lines))
    assert counts[0] == counts[1]
    # clocks × states × priorities × parties, plus minima, buckets and pauses: far below n
    assert counts[1] < 80, counts


def test_a_revoked_partitions_clocks_leave_this_instances_gauges() -> None:
    """With two instances each counts the clocks of the partitions it owns (ADR 67)."""
    opened = utc(2026, 12, 4, 8)
    registry = CollectorRegistry()
    metrics = build_metrics(registry, FixedClock(utc(2026, 12, 4, 9)).now, RULES.view.calendar)
    views = fold(record(Category.DEGRADATION, opened), RULES)
    metrics.open.update("inc-0", views, priority="P3", party="osdb", part=0)
    metrics.open.update("inc-1", views, priority="P3", party="osdb", part=1)
    metrics.open.drop([1])
    text = generate_latest(registry).decode()
    assert (
        'baton_sla_open_clocks{clock="recovery",party="osdb",priority="P3",state="running"} 1.0'
        in text
    )
    assert {incident for incident, _ in metrics.open.clocks} == {"inc-0"}
