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


def test_remaining_time_is_business_time_and_stopped_clocks_leave_the_gauge() -> None:
    opened = utc(2026, 12, 4, 8)  # Fri 09:00 CET, office calendar: recovery 8h, response 2h
    clock = FixedClock(utc(2026, 12, 4, 16))  # Fri 17:00 CET
    registry = CollectorRegistry()
    metrics = build_metrics(registry, clock.now, RULES.calendar)
    paused = record(Category.DEGRADATION, opened, pause(utc(2026, 12, 4, 14)))
    metrics.open.update("inc-1", fold(paused, RULES))
    text = generate_latest(registry).decode()
    # response (2h) breached at 11:00 CET: 6h of business time late at 17:00
    assert (
        'baton_sla_remaining_seconds{clock="response",incident="inc-1",reason="",'
        'state="breached"} -21600.0' in text
    )
    # recovery paused at 15:00 CET after 6h: 2h left, whatever the hour
    assert (
        'baton_sla_remaining_seconds{clock="recovery",incident="inc-1",reason="no-access",'
        'state="paused"} 7200.0' in text
    )
    assert 'baton_sla_paused_clocks{clock="recovery",reason="no-access"} 1.0' in text
    # over the weekend the running response clock's lateness does not grow
    clock.set(utc(2026, 12, 6, 12))
    assert 'state="breached"} -25200.0' in generate_latest(registry).decode()  # + Fri 17–18
    acked = paused.with_fact(
        paused.facts[0].model_copy(update={"kind": "acknowledge", "at": utc(2026, 12, 4, 15)})
    )
    metrics.open.update("inc-1", fold(acked, RULES))
    text = generate_latest(registry).decode()
    assert 'clock="response",incident="inc-1"' not in text
    assert 'clock="recovery",incident="inc-1"' in text


def test_at_risk_after_the_first_warning_threshold() -> None:
    opened = utc(2026, 12, 2, 10)  # outage P1 round the clock: recovery 4h, warning at 50 %
    clock = FixedClock(opened + 2 * H + timedelta(minutes=1))
    registry = CollectorRegistry()
    metrics = build_metrics(registry, clock.now, RULES.calendar)
    metrics.open.update("inc-2", fold(record(Category.OUTAGE, opened), RULES))
    text = generate_latest(registry).decode()
    assert 'clock="recovery",incident="inc-2",reason="",state="at_risk"} 7140.0' in text
