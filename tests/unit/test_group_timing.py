"""Consumer-group session and heartbeat: one pair of settings, taken by every group subscriber of
every service (how soon a killed instance's partitions move, how soon a joining one is let in)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from intake.app import build_app as intake_app
from pydantic import ValidationError
from reporting.app import build_app as reporting_app
from router.app import build_app as router_app
from sla_clock.app import build_app as sla_clock_app

from shared.kafka import group_timing
from shared.settings import Settings


def test_the_defaults_are_aiokafkas_and_a_heartbeat_must_fit_three_times_in_the_session() -> None:
    defaults = {"session_timeout_ms": 10_000, "heartbeat_interval_ms": 3_000}
    assert group_timing(Settings()) == defaults
    assert group_timing(
        Settings(kafka_session_timeout_ms=6_000, kafka_heartbeat_interval_ms=1_000)
    ) == {"session_timeout_ms": 6_000, "heartbeat_interval_ms": 1_000}
    with pytest.raises(ValidationError, match="kafka_heartbeat_interval_ms"):
        Settings(kafka_session_timeout_ms=6_000, kafka_heartbeat_interval_ms=2_500)


@pytest.mark.parametrize(
    "build",
    [intake_app, router_app, sla_clock_app, reporting_app],
    ids=["intake", "router", "sla-clock", "reporting"],
)
def test_every_group_subscriber_of_every_service_takes_them(
    build: Callable[[], FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_KAFKA_SESSION_TIMEOUT_MS", "7000")
    monkeypatch.setenv("BATON_KAFKA_HEARTBEAT_INTERVAL_MS", "700")
    broker = build().state.runtime.broker
    groups = [s for s in broker.subscribers if getattr(s, "group_id", None)]
    assert groups  # every service consumes in a group
    for subscriber in groups:
        args = subscriber._connection_args
        timing = (args["session_timeout_ms"], args["heartbeat_interval_ms"])
        assert timing == (7000, 700), subscriber.group_id
