"""The bootstrap setting as the Kafka clients get it."""

from __future__ import annotations

import pytest

from shared.kafka import aiokafka_kwargs, bootstrap_servers
from shared.settings import Settings


def test_a_comma_separated_bootstrap_is_a_list_of_addresses() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:9092, 127.0.0.1:9094,127.0.0.1:9096")

    assert bootstrap_servers(settings) == ["127.0.0.1:9092", "127.0.0.1:9094", "127.0.0.1:9096"]
    assert aiokafka_kwargs(settings)["bootstrap_servers"] == bootstrap_servers(settings)
    assert bootstrap_servers(Settings(kafka_bootstrap="kafka:9092")) == ["kafka:9092"]


def test_an_empty_address_in_the_bootstrap_list_names_the_field() -> None:
    with pytest.raises(ValueError, match="kafka_bootstrap"):
        bootstrap_servers(Settings(kafka_bootstrap="127.0.0.1:9092,,127.0.0.1:9094"))
