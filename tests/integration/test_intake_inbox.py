"""Party identity over Kafka comes from the channel: each party writes its own inbox
(``commands.<party>``), and intake acts as the inbox's party whatever the command's ``party``
field says. A contractor that writes ``confirm`` as the customer into its own inbox closes
nothing: the command is refused, recorded and dead-lettered; the customer's own inbox works.
(Kafka's ACLs, which keep a contractor out of other parties' inboxes, are proven on a SASL broker
in test_kafka_acl.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from shared.events import (
    ActionKind,
    DeadLetterV1,
    Envelope,
    EventType,
    IncidentActionAcceptedV3,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    PartyActionV2,
    make_event,
    stable_id,
)
from shared.topics import inbox_name
from tests.integration.conftest import Isolated, stop_services
from tests.integration.helpers import collect, collect_until, kafka
from tests.integration.test_intake import fixture, start_intake


def command(incident_id: str, action: ActionKind, party: str, actor: str) -> bytes:
    return make_event(
        PartyActionV2(action=action, party=party, actor=actor),
        source=f"contractor:{party}",
        time=datetime.now(UTC),
        subject=incident_id,
    ).to_json()


@dataclass
class World:
    """A running intake with one incident open (an alert outside the perimeter: the coordinator,
    apps, owns it), an HTTP client with the parties' tokens and a producer for the inboxes."""

    bootstrap: str
    prefix: str
    client: httpx.AsyncClient
    producer: AIOKafkaProducer
    opened: Envelope

    @property
    def incident(self) -> str:
        return self.opened.subject or ""

    async def to_inbox(self, party: str, command: bytes) -> None:
        await self.producer.send_and_wait(
            inbox_name(self.prefix, party), command, key=self.incident.encode()
        )

    async def incidents_until(self, done: Callable[[list[Envelope]], bool]) -> list[Envelope]:
        return await collect_until(self.bootstrap, f"{self.prefix}incidents", done, settle=1.0)

    async def letters_until(self, text: str) -> list[DeadLetterV1]:
        found = await collect_until(
            self.bootstrap,
            f"{self.prefix}deadletter",
            lambda got: any(text in e.data_as(DeadLetterV1).reason for e in got),
        )
        return [e.data_as(DeadLetterV1) for e in found]


@asynccontextmanager
async def one_incident(isolated: Isolated, tmp: Path, fingerprint: str) -> AsyncIterator[World]:
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    sp = await start_intake(isolated, tmp)
    producer = AIOKafkaProducer(**kafka(bootstrap), enable_idempotence=True)
    await producer.start()
    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            body = fixture("generic.json")
            body["alerts"][0] |= {"labels": {"instance": "nowhere"}, "fingerprint": fingerprint}
            assert (await client.post("/v1/alerts", json=body)).status_code == 202
            (opened,) = await collect(bootstrap, f"{prefix}incidents", 1)
            yield World(bootstrap, prefix, client, producer, opened)
    finally:
        await producer.stop()
        stop_services(sp)


async def test_a_contractor_cannot_act_as_the_customer_through_its_inbox(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with one_incident(isolated, tmp_path, "inbox") as world:
        actions = f"/v1/incidents/{world.incident}/actions"
        for step in ("acknowledge", "restored"):
            done = {"action": step, "party": "apps", "actor": "duty", "cause": "c"}
            if step == "acknowledge":
                done.pop("cause")
            assert (await world.client.post(actions, json=done)).json()["status"] == "accepted"
        forged = command(world.incident, ActionKind.CONFIRM, "customer", "forged-via-kafka")
        await world.to_inbox("apps", forged)
        letters = await world.letters_until("inbox of apps")
        assert any(letter.origin.endswith(".commands.apps") for letter in letters)
        real = command(world.incident, ActionKind.CONFIRM, "customer", "chief.accountant")
        await world.to_inbox("customer", real)
        events = await world.incidents_until(
            lambda got: any(e.type == EventType.INCIDENT_CLOSED for e in got)
        )
    accepted = [e.data for e in events if e.type == EventType.ACTION_ACCEPTED]
    confirms = [a for a in accepted if a.action == ActionKind.CONFIRM]  # type: ignore[attr-defined]
    assert [c.actor for c in confirms] == ["chief.accountant"]  # type: ignore[attr-defined]
    assert sum(e.type == EventType.INCIDENT_CLOSED for e in events) == 1


async def test_a_backdated_inbox_acknowledge_is_dated_when_intake_accepted_it(
    isolated: Isolated, tmp_path: Path
) -> None:
    """The inbox's writer chooses its command's ``time``; the acknowledge happened when intake
    read it (ADR 34): the clock folds that instant, the writer's date is kept as a claim."""
    async with one_incident(isolated, tmp_path, "backdated") as world:
        claimed = world.opened.time - timedelta(hours=1)
        ack = make_event(
            PartyActionV2(action=ActionKind.ACKNOWLEDGE, party="apps", actor="duty"),
            source="contractor:apps",
            time=claimed,
            subject=world.incident,
        )
        sent = datetime.now(UTC)
        await world.to_inbox("apps", ack.to_json())
        events = await world.incidents_until(
            lambda got: any(e.type == EventType.ACTION_ACCEPTED for e in got)
        )
    (accepted,) = [
        e.data_as(IncidentActionAcceptedV3) for e in events if e.type == EventType.ACTION_ACCEPTED
    ]
    assert accepted.claimed_at == claimed
    assert accepted.at >= sent - timedelta(seconds=1)  # intake's clock, not the writer's


async def test_an_inbox_command_cannot_take_the_id_of_another_partys_request(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Issue 25: the HTTP id of an ``Idempotency-Key`` is predictable; a contractor wrote a
    command with that id into its own inbox first, and the coordinator's reclassify was answered
    with the contractor's verdict and never applied. An inbox command's id is its channel's own
    now (ADR 36): the coordinator's reclassify is applied."""
    async with one_incident(isolated, tmp_path, "pre-empt") as world:
        key = "reclassify-1"
        target = "P2" if world.opened.data_as(IncidentOpenedV1).priority == "P1" else "P1"
        predicted = stable_id("action", "apps", world.incident, key)
        squatter = make_event(
            PartyActionV2(action=ActionKind.NOTE, party="osdb", actor="squatter", note="x"),
            source="contractor:osdb",
            time=datetime.now(UTC),
            subject=world.incident,
            event_id=predicted,
        )
        await world.to_inbox("osdb", squatter.to_json())
        # osdb has no part in this incident: answered as for an unknown incident, recorded
        # apart from its timeline (a dead letter), decided before the coordinator acts
        letters = await world.letters_until("osdb has no part")
        assert any(letter.origin.endswith(".commands.osdb") for letter in letters)
        reclassify = {
            "action": "reclassify",
            "party": "apps",
            "actor": "coordinator",
            "priority": target,
            "note": "the whole accounting department",
        }
        answer = await world.client.post(
            f"/v1/incidents/{world.incident}/actions",
            json=reclassify,
            headers={"idempotency-key": key},
        )
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"command_id": str(predicted), "status": "accepted"}
        events = await world.incidents_until(
            lambda got: any(e.type == EventType.INCIDENT_RECLASSIFIED for e in got)
        )
    (reclassified,) = [e for e in events if e.type == EventType.INCIDENT_RECLASSIFIED]
    assert not any(e.type == EventType.ACTION_REFUSED for e in events)  # not in its timeline
    assert reclassified.data_as(IncidentReclassifiedV1).priority == target
