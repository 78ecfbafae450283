"""Baton's partitioner answers as aiokafka's default (Kafka's Java client's) for every key: a
record keeps its partition whoever produces it (issue 28 caches the key's hash)."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from shared.kafka import partition_for


def test_each_key_lands_where_the_default_partitioner_puts_it() -> None:
    default = DefaultPartitioner()
    for partitions in ([0], [0, 1, 2], list(range(12))):
        for i in range(500):
            key = f"inc-{i:016x}".encode()
            expected = default(key, partitions, partitions)
            assert partition_for(key, partitions, partitions) == expected
            assert partition_for(key, partitions, partitions) == expected  # cached
    assert partition_for(None, [0, 1, 2], [1]) == 1  # no key: an available partition
