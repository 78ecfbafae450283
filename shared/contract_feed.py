"""The contract topic: publishing a linted contract and following the newest version.

The topic is compacted and every record has the same key, so it keeps the newest contract; a
service reads it to the end before it starts consuming, then follows it while it runs.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contract import Contract, ContractError
from shared.events import (
    ChangeRecordedV1,
    ContractPublishedV1,
    Envelope,
    make_event,
    parse_event,
    stable_id,
)
from shared.kafka import CONTENT_TYPE, aiokafka_kwargs
from shared.settings import Settings
from shared.topics import Topic

log = logging.getLogger(__name__)
KEY = b"contract"  # one contract per deployment: compaction keeps its newest version


def published_event(contract: Contract, *, source: str, now: datetime) -> Envelope:
    return make_event(
        ContractPublishedV1(
            contract_id=contract.id,
            version=contract.version,
            content_hash=contract.content_hash,
            document=contract.model_dump(mode="json"),
        ),
        source=source,
        time=now,
        subject=contract.id,
    )


def contract_from_event(event: Envelope) -> Contract:
    """The contract an event carries, validated, its hash checked; ``ContractError`` if not."""
    data = event.data
    if not isinstance(data, ContractPublishedV1):
        raise ContractError(f"type: {event.type.value} carries no contract")
    try:
        contract = Contract.model_validate(data.document)
    except ValueError as exc:
        raise ContractError(f"document: {exc}") from exc
    if contract.content_hash != data.content_hash:
        raise ContractError(
            f"content_hash: {data.content_hash} announced, {contract.content_hash} received"
        )
    return contract


async def publish_contract(settings: Settings, contract: Contract, *, now: datetime) -> Envelope:
    event = published_event(contract, source="baton contract publish", now=now)
    producer = AIOKafkaProducer(enable_idempotence=True, **aiokafka_kwargs(settings))
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(Topic.CONTRACT),
            event.to_json(),
            key=KEY,
            headers=[("content-type", CONTENT_TYPE.encode()), ("ce_type", event.type.encode())],
        )
        # a publication is a change beside the incidents on every object (ADR 46)
        change = publication_change(contract, event, now)
        await producer.send_and_wait(settings.topic(Topic.CHANGES), change.to_json())
    finally:
        await producer.stop()
    return event


def publication_change(contract: Contract, published: Envelope, now: datetime) -> Envelope:
    """The change record of a contract publication: on every object (``object_id`` None)."""
    record = ChangeRecordedV1(
        change_id=stable_id("contract-change", published.id),
        object_id=None,
        at=now,
        summary=f"contract {contract.id} version {contract.version} published"
        f" ({contract.content_hash[:12]})",
        source="contract",
        by="baton contract publish",
    )
    return make_event(record, source="baton contract publish", time=now, event_id=record.change_id)


async def read_newest(settings: Settings) -> Contract | None:
    """The newest valid contract on the topic, read to its current end; None if it is empty."""
    tp = TopicPartition(settings.topic(Topic.CONTRACT), 0)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **aiokafka_kwargs(settings))
    await consumer.start()
    newest: Contract | None = None
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                for record in records:
                    try:
                        newest = contract_from_event(parse_event(record.value))
                    except ValueError as exc:  # ContractError and schema errors alike
                        log.warning(
                            "unusable contract record skipped",
                            extra={"offset": record.offset, "reason": str(exc)},
                        )
    finally:
        await consumer.stop()
    return newest
