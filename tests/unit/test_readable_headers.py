"""Header values that are not UTF-8 reach FastStream's strict parser readable (shared.kafka)."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from shared.kafka import readable_headers


def record(headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=headers,
    )


async def passed_on(message: Any) -> Any:
    async def parse(seen: Any) -> Any:
        return seen

    return await readable_headers(message, parse)


async def test_bad_bytes_become_replacement_characters_and_the_rest_is_kept() -> None:
    bad = record([("format", b"\xffzabbix"), ("ok", "ü".encode())])
    (seen,) = await passed_on((bad,))
    assert [(k, v.decode()) for k, v in seen.headers] == [("format", "\ufffdzabbix"), ("ok", "ü")]
    assert (seen.offset, seen.key, seen.value) == (bad.offset, bad.key, bad.value)


async def test_a_record_with_utf8_headers_is_passed_on_as_it_is() -> None:
    good = record([("format", b"zabbix")])
    assert await passed_on(good) is good
    batch = (good, record([]))
    assert all(a is b for a, b in zip(await passed_on(batch), batch, strict=True))
