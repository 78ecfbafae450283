"""The storm the benchmark sends: its size, its repeats and its cascades."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from baton.scenarios import STORM_PER_WEBHOOK, cascades, storm_webhooks
from baton.stack import EXAMPLE_CONTRACT
from shared.contract import Contract, load_contract


def test_storm_is_n_alerts_ten_per_webhook_95_percent_repeats_cascading() -> None:
    contract = load_contract(EXAMPLE_CONTRACT)
    bodies = storm_webhooks(contract, "r", 2000, datetime(2026, 11, 27, tzinfo=UTC))
    alerts = [a for b in bodies for a in b["alerts"]]
    assert len(alerts) == 2000
    assert all(len(b["alerts"]) == STORM_PER_WEBHOOK for b in bodies)
    assert len({a["fingerprint"] for a in alerts}) == 100  # 95 % repeats
    # every alert names a contract object, and a wave starts at its origin
    objects = [contract.match_alert(a["labels"]) for a in alerts]
    assert all(o is not None for o in objects)
    first = cascades(contract)[0]
    assert [o.id for o in objects[: len(first)] if o] == first
    origin = contract.object(first[0])
    assert origin is not None
    assert all(first[0] in _closure(contract, o) for o in first[1:])


def _closure(contract: Contract, object_id: str) -> set[str]:
    seen: set[str] = set()
    todo = [object_id]
    while todo:
        obj = contract.object(todo.pop())
        for dep in obj.depends_on if obj else []:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_the_sla_clock_bench_starts_its_process_on_the_same_kafka_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bench's sla-clock process must authenticate as the bench does (the default stack
    refuses a client without SASL)."""
    from sla_clock.bench import kafka_env

    from shared.kafka import aiokafka_kwargs
    from shared.settings import Settings

    settings = Settings(
        kafka_bootstrap="127.0.0.1:1,127.0.0.1:2",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="admin",
        kafka_sasl_password=SecretStr("s3cret"),
    )
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)
    for name, value in kafka_env(settings).items():
        monkeypatch.setenv(name, value)

    assert aiokafka_kwargs(Settings()) == aiokafka_kwargs(settings)
