"""Bad input: a clear 4xx naming the field, the payload kept in the dead-letter topic."""

from __future__ import annotations

import httpx
from aiokafka import AIOKafkaProducer

from shared.events import DeadLetterV1
from tests.integration.conftest import Isolated, ServiceProcs
from tests.integration.helpers import collect


async def test_malformed_input_is_refused_by_field_and_kept(
    isolated: Isolated, services: ServiceProcs
) -> None:
    bad_webhook = (
        b'{"version": "4", "groupKey": "g", "status": "firing", "alerts": [{"status": "on fire"}]}'
    )
    async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
        response = await client.post(
            f"{services.urls['intake']}/v1/alerts/alertmanager",
            content=bad_webhook,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422
        fields = {f["field"] for f in response.json()["fields"]}
        assert "alerts.0.status" in fields
        assert "alerts.0.labels" in fields
        # a party's token (checked before the body is read), then a body that is not JSON
        token = next(iter(isolated.credentials().parties.values()))
        not_json = await client.post(
            f"{services.urls['intake']}/v1/incidents/inc-x/actions",
            content=b"{nope",
            headers={"authorization": f"Bearer {token}"},
        )
        assert not_json.status_code == 422
        assert (await client.get(f"{services.urls['intake']}/healthz")).status_code == 200

    producer = AIOKafkaProducer(**isolated.infra.kafka)
    await producer.start()
    try:  # garbage on a topic a service reads: dead-lettered, the consumer keeps going
        await producer.send_and_wait(f"{isolated.prefix}incidents", b"\x00garbage", key=b"k")
    finally:
        await producer.stop()

    letters = await collect(isolated.infra.bootstrap, f"{isolated.prefix}deadletter", 5)
    kept = [e.data for e in letters if isinstance(e.data, DeadLetterV1)]
    by_origin = {d.origin: d for d in kept}
    assert by_origin["/v1/alerts/alertmanager"].payload == bad_webhook.decode()
    assert "alerts.0.status" in by_origin["/v1/alerts/alertmanager"].reason
    assert by_origin["/v1/incidents/inc-x/actions"].payload == "{nope"
    incidents_origin = f"kafka:{isolated.prefix}incidents"
    # router, sla-clock and reporting all read the incidents topic: each keeps the garbage
    assert sum(1 for d in kept if d.origin == incidents_origin) == 3
    assert len(kept) == 5
