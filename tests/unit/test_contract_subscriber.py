"""The contract subscriber every service has, driven in process by FastStream's test broker: the
handler logic (adopt a newer contract, dead-letter a bad one by field) needs no real Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from faststream.kafka import TestKafkaBroker

from shared.contract import Contract, load_contract
from shared.contract_feed import published_event
from shared.service import Runtime, Service, create_app
from shared.settings import Settings
from shared.topics import Topic

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "examples" / "minimal" / "contract.yaml"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@dataclass
class Harness:
    runtime: Runtime
    broker: Any
    settings: Settings
    dead: list[dict[str, Any]]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(
        topic_prefix="t.", group_prefix="t.", contract_path=MINIMAL, otel_exporter="none"
    )
    app = create_app("testsvc", Service(), schema="testsvc", migrations=tmp_path, settings=settings)
    runtime: Runtime = app.state.runtime
    dead: list[dict[str, Any]] = []

    @runtime.broker.subscriber(settings.topic(Topic.DEADLETTER))
    async def on_dead(body: bytes) -> None:
        dead.append(orjson.loads(body))

    async with TestKafkaBroker(runtime.broker) as broker:
        yield Harness(runtime, broker, settings, dead)


def _newer(contract: Contract) -> Contract:
    return contract.model_copy(update={"version": contract.version + ".1"})


async def test_a_newer_published_contract_is_adopted(harness: Harness) -> None:
    newer = _newer(load_contract(MINIMAL))
    event = published_event(newer, source="test", now=NOW)

    await harness.broker.publish(
        event.to_json(), topic=harness.settings.topic(Topic.CONTRACT), key=b"contract"
    )

    assert harness.runtime.contract.content_hash == newer.content_hash
    assert harness.dead == []


async def test_a_contract_whose_hash_does_not_match_is_dead_lettered_by_field(
    harness: Harness,
) -> None:
    before = harness.runtime.contract.content_hash
    event = published_event(_newer(load_contract(MINIMAL)), source="test", now=NOW)
    body = orjson.loads(event.to_json())
    body["data"]["content_hash"] = "sha256:" + "0" * 64

    await harness.broker.publish(
        orjson.dumps(body), topic=harness.settings.topic(Topic.CONTRACT), key=b"contract"
    )

    assert harness.runtime.contract.content_hash == before
    (letter,) = harness.dead
    assert "content_hash" in str(letter)


async def test_a_malformed_message_is_dead_lettered_and_the_contract_kept(
    harness: Harness,
) -> None:
    before = harness.runtime.contract.content_hash

    await harness.broker.publish(b"{not json", topic=harness.settings.topic(Topic.CONTRACT))

    assert harness.runtime.contract.content_hash == before
    assert len(harness.dead) == 1
