"""Events published straight through aiokafka (``shared.kafka.send_all``, issue 28) arrive as
FastStream's ``publish`` wrote them: in order per key, with the event headers and the current
span's ``traceparent`` on every record, and FastStream's published-messages counter counts
them once the broker has them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from shared.events import AlertAttachedV1, Envelope, make_event
from shared.kafka import Outbox, aiokafka_kwargs, build_broker, publish_event
from shared.topics import Topic
from tests.integration.conftest import Isolated

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


def attached(incident: str, count: int) -> Envelope:
    return make_event(
        AlertAttachedV1(fingerprint="fp", status="firing", count=count, last_seen=NOW),
        source="test",
        time=NOW,
        subject=incident,
        event_id=uuid.uuid4(),
    )


async def test_a_batch_arrives_in_order_with_headers_trace_and_counted(
    isolated: Isolated,
) -> None:
    settings = isolated.settings()
    topic = settings.topic(Topic.INCIDENTS)
    registry, provider = CollectorRegistry(), TracerProvider()
    broker = build_broker(settings, "fastpath", registry, provider)
    await broker.connect()
    events = [attached("inc-a", n) for n in range(1, 6)] + [attached("inc-b", 1)]
    try:
        with provider.get_tracer("test").start_as_current_span("batch") as span:
            outbox = Outbox(broker)
            outbox.extend(topic, events[:5])
            outbox.add(topic, events[5], key="other-key")
            await outbox.flush()
            trace_id = f"{span.get_span_context().trace_id:032x}"
        await publish_event(broker, topic, attached("inc-c", 1))  # no span current
    finally:
        await broker.stop()

    consumer = AIOKafkaConsumer(
        topic, auto_offset_reset="earliest", enable_auto_commit=False, **aiokafka_kwargs(settings)
    )
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < 7:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, f"only {len(records)} of 7 records came back"
            records.extend(r for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    by_id = {dict(r.headers)["ce_id"].decode(): r for r in records}
    for event in events:
        record = by_id[str(event.id)]
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["content-type"] == "application/cloudevents+json"
        assert headers["ce_type"] == event.type.value
        assert headers["traceparent"].split("-")[1] == trace_id
        assert record.value == event.to_json()
    assert by_id[str(events[5].id)].key == b"other-key"
    assert by_id[str(events[0].id)].key == b"inc-a"
    same_key = [r for r in records if r.key == b"inc-a"]
    assert [dict(r.headers)["ce_id"].decode() for r in same_key] == [str(e.id) for e in events[:5]]
    untraced = next(r for r in records if r.key == b"inc-c")
    assert "traceparent" not in dict(untraced.headers)
    counted = registry.get_sample_value(
        "faststream_published_messages_total",
        {"app_name": "fastpath", "broker": "kafka", "destination": topic, "status": "success"},
    )
    assert counted == 7
