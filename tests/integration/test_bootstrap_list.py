"""A bootstrap list of several brokers, as a cluster is given to a service: the first address
may be down, the service reaches the cluster through another one."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from shared.kafka import build_broker
from shared.settings import Settings
from tests.integration.conftest import Infra, free_port


async def test_a_service_broker_bootstraps_from_any_address_of_the_list(infra: Infra) -> None:
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there
    stack: dict[str, Any] = {
        k.removeprefix("BATON_").lower(): v for k, v in infra.kafka_env.items()
    }
    settings = Settings(**{**stack, "kafka_bootstrap": f"{nobody}, {infra.bootstrap}"})
    broker = build_broker(settings, "bootstrap-test", CollectorRegistry(), TracerProvider())

    await broker.start()  # raised KafkaConnectionError while the list went through as one host
    try:
        assert await broker.ping(5.0)
    finally:
        await broker.stop()
