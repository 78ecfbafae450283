"""Party identity over Kafka comes from the channel: each party writes its own inbox
(``commands.<party>``), and intake acts as the inbox's party whatever the command's ``party``
field says. A contractor that writes ``confirm`` as the customer into its own inbox closes
nothing: the command is refused, recorded and dead-lettered; the customer's own inbox works.
(Kafka's ACLs, which keep a contractor out of other parties' inboxes, are proven on a SASL broker
in test_kafka_acl.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from shared.events import (
    ActionKind,
    DeadLetterV1,
    EventType,
    IncidentActionAcceptedV2,
    PartyActionV1,
    make_event,
)
from shared.topics import inbox_name
from tests.integration.conftest import Isolated, stop_services
from tests.integration.helpers import collect, collect_until, kafka
from tests.integration.test_intake import fixture, start_intake


def command(incident_id: str, action: ActionKind, party: str, actor: str) -> bytes:
    return make_event(
        PartyActionV1(action=action, party=party, actor=actor),
        source=f"contractor:{party}",
        time=datetime.now(UTC),
        subject=incident_id,
    ).to_json()


async def test_a_contractor_cannot_act_as_the_customer_through_its_inbox(
    isolated: Isolated, tmp_path: Path
) -> None:
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    sp = await start_intake(isolated, tmp_path)
    producer = AIOKafkaProducer(**kafka(bootstrap), enable_idempotence=True)
    await producer.start()
    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            body = fixture("generic.json")
            body["alerts"][0] |= {"labels": {"instance": "nowhere"}, "fingerprint": "inbox"}
            assert (await client.post("/v1/alerts", json=body)).status_code == 202
            (opened,) = await collect(bootstrap, f"{prefix}incidents", 1)
            incident = opened.subject or ""
            actions = f"/v1/incidents/{incident}/actions"
            for step in ("acknowledge", "restored"):
                done = {"action": step, "party": "apps", "actor": "duty", "cause": "c"}
                if step == "acknowledge":
                    done.pop("cause")
                assert (await client.post(actions, json=done)).json()["status"] == "accepted"
        key = incident.encode()
        forged = command(incident, ActionKind.CONFIRM, "customer", "forged-via-kafka")
        await producer.send_and_wait(inbox_name(prefix, "apps"), forged, key=key)
        letters = await collect_until(
            bootstrap,
            f"{prefix}deadletter",
            lambda got: any("inbox of apps" in e.data_as(DeadLetterV1).reason for e in got),
        )
        assert any(e.data_as(DeadLetterV1).origin.endswith(".commands.apps") for e in letters)
        real = command(incident, ActionKind.CONFIRM, "customer", "chief.accountant")
        await producer.send_and_wait(inbox_name(prefix, "customer"), real, key=key)
        events = await collect_until(
            bootstrap,
            f"{prefix}incidents",
            lambda got: any(e.type == EventType.INCIDENT_CLOSED for e in got),
            settle=1.0,
        )
    finally:
        await producer.stop()
        stop_services(sp)
    accepted = [e.data for e in events if e.type == EventType.ACTION_ACCEPTED]
    confirms = [a for a in accepted if a.action == ActionKind.CONFIRM]  # type: ignore[attr-defined]
    assert [c.actor for c in confirms] == ["chief.accountant"]  # type: ignore[attr-defined]
    assert sum(e.type == EventType.INCIDENT_CLOSED for e in events) == 1


async def test_a_backdated_inbox_acknowledge_is_dated_when_intake_accepted_it(
    isolated: Isolated, tmp_path: Path
) -> None:
    """The inbox's writer chooses its command's ``time``; the acknowledge happened when intake
    read it (ADR 34): the clock folds that instant, the writer's date is kept as a claim."""
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    sp = await start_intake(isolated, tmp_path)
    producer = AIOKafkaProducer(**kafka(bootstrap), enable_idempotence=True)
    await producer.start()
    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            body = fixture("generic.json")
            body["alerts"][0] |= {"labels": {"instance": "nowhere"}, "fingerprint": "backdated"}
            assert (await client.post("/v1/alerts", json=body)).status_code == 202
        (opened,) = await collect(bootstrap, f"{prefix}incidents", 1)
        incident = opened.subject or ""
        claimed = opened.time - timedelta(hours=1)
        ack = make_event(
            PartyActionV1(action=ActionKind.ACKNOWLEDGE, party="apps", actor="duty"),
            source="contractor:apps",
            time=claimed,
            subject=incident,
        )
        sent = datetime.now(UTC)
        await producer.send_and_wait(
            inbox_name(prefix, "apps"), ack.to_json(), key=incident.encode()
        )
        events = await collect_until(
            bootstrap,
            f"{prefix}incidents",
            lambda got: any(e.type == EventType.ACTION_ACCEPTED for e in got),
        )
    finally:
        await producer.stop()
        stop_services(sp)
    (accepted,) = [
        e.data_as(IncidentActionAcceptedV2) for e in events if e.type == EventType.ACTION_ACCEPTED
    ]
    assert accepted.claimed_at == claimed
    assert accepted.at >= sent - timedelta(seconds=1)  # intake's clock, not the writer's
