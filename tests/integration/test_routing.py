"""Routing and escalation on the real broker and database (issue 5's "Done when").

The router runs as a real process on the test's own topics and database with the minimal
contract; the test plays intake and sla-clock by writing their events to the incidents and sla
topics, so what is checked is the router alone: assignments, the diagnostic route, handover,
escalation, the backup call, the per-party topics, and a replay from the start changing nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from shared.events import (
    ActionKind,
    AssignmentEscalatedV3,
    AssignmentIssuedV3,
    CheckClosedV1,
    CheckOpenedV2,
    Envelope,
    EventType,
    HandoverV2,
    Layer,
    stable_id,
)
from tests import factories
from tests.factories import accepted, payloads
from tests.integration.conftest import Fleet, Isolated
from tests.integration.helpers import (
    QUICK_REBALANCE,
    alertmanager_payload,
    collect,
    kafka,
    read_topic,
    wait_consumed,
)

# minimal contract: pg-main (dbms, osdb) <- acc-app (application, apps) <- bank-exchange;
# pg-main -> os-db-01 (os, osdb) -> srv-db-01 (hardware, hw); coordinator apps
ACK_AFTER = timedelta(minutes=12)  # 0.8 (level 2's response threshold) x 15 min (P1 response)
BACKUP_MARGIN = timedelta(seconds=3)  # how long the router has to take an acknowledgement


def opened(incident: str, at: datetime) -> Envelope:
    return factories.opened(
        incident,
        at,
        summary="PostgreSQL main instance is down",
        fingerprint="am:pg-down",
        event_id=stable_id("test-open", incident),
    )


def action(incident: str, kind: ActionKind, party: str, **fields: Any) -> Envelope:
    """``party``'s duty engineer did ``kind`` on ``incident`` now (a new command, a new event);
    ``fields`` are the action's own (``layer``, ``fault_found``)."""
    return accepted(incident, kind, datetime.now(UTC), party=party, actor="duty", **fields)


async def publish(bootstrap: str, topic: str, *events: Envelope) -> None:
    producer = AIOKafkaProducer(**kafka(bootstrap), enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, event.to_json(), key=event.key())
    finally:
        await producer.stop()


def router_reads(prefix: str, group_prefix: str | None = None) -> dict[str, str]:
    """The router's consumer groups and their topics (for ``wait_consumed``)."""
    groups = group_prefix or prefix
    return {f"{groups}router": f"{prefix}incidents", f"{groups}router-sla": f"{prefix}sla"}


async def timers_all_fired(dsn: str, timeout: float = 60) -> None:
    """Wait until no acknowledgement timer that is due is still unfired: the router has called
    every backup that fell due (a timer is marked fired in the transaction that published its
    call, so every call is on its topics by then)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(timeout):
            while True:
                pending = await conn.fetchval(
                    "SELECT count(*) FROM router.ack_timers"
                    " WHERE fired_at IS NULL AND due_at <= now()"
                )
                if not pending:
                    return
                await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def routes(dsn: str) -> dict[str, tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT incident_id, primary_party, coordinator FROM router.routes")
    finally:
        await conn.close()
    return {r["incident_id"]: (r["primary_party"], r["coordinator"]) for r in rows}


def of_type(events: list[Envelope], kind: EventType) -> list[Envelope]:
    return [e for e in events if e.type == kind]


async def test_database_incident_checks_neighbours_hands_over_and_replays_to_nothing(
    isolated: Isolated, fleet: Fleet
) -> None:
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    incident = f"inc-{uuid.uuid4().hex[:12]}"
    await fleet.started("first", ["router"])
    await publish(bootstrap, f"{prefix}incidents", opened(incident, datetime.now(UTC)))

    # the DBMS party and the coordinator; checks for every neighbouring layer
    first = await collect(bootstrap, f"{prefix}assignments", 6)
    issued = {a.role.value: a for a in payloads(first, AssignmentIssuedV3)}
    primary = issued["primary"]
    assert primary.party == "osdb"
    assert issued["coordinator"].party == "apps"
    assert primary.on_duty is not None
    assert primary.on_duty.contact == "duty"
    assert primary.deadlines is not None
    assert primary.deadlines.response_target == timedelta(minutes=15)
    assert primary.access is not None
    assert primary.access.rule == "remote-vpn"
    checks = {c.layer: c.party for c in payloads(first, CheckOpenedV2)}
    assert checks == {
        Layer.OS: "osdb",
        Layer.HARDWARE: "hw",
        Layer.APPLICATION: "apps",
        Layer.INTEGRATION: "apps",
    }

    # the application finds nothing; the hardware party finds the fault
    await publish(
        bootstrap,
        f"{prefix}incidents",
        action(incident, ActionKind.ACKNOWLEDGE, "osdb"),
        action(incident, ActionKind.DIAGNOSIS, "apps", layer=Layer.APPLICATION, fault_found=False),
        action(incident, ActionKind.DIAGNOSIS, "hw", layer=Layer.HARDWARE, fault_found=True),
    )
    every = await collect(bootstrap, f"{prefix}assignments", 10)
    await wait_consumed(bootstrap, router_reads(prefix))  # all it will write is out
    (handover,) = payloads(every, HandoverV2)
    assert (handover.from_party, handover.to_party) == ("osdb", "hw")
    assert handover.coordinator == "apps"
    new_owner = payloads(every, AssignmentIssuedV3)[-1]
    assert (new_owner.party, new_owner.role.value, new_owner.object_id) == (
        "hw",
        "primary",
        "srv-db-01",
    )
    results = {c.layer: c.fault_found for c in payloads(every, CheckClosedV1)}
    assert results == {Layer.APPLICATION: False, Layer.HARDWARE: True}
    assert (await routes(isolated.dsn))[incident] == ("hw", "apps")

    # each party's own topic: only what concerns it; the customer's stays empty
    shared = await read_topic(bootstrap, f"{prefix}assignments")
    hw_topic = await read_topic(bootstrap, f"{prefix}assignments.hw")
    assert {e.type for e in hw_topic} == {
        EventType.CHECK_OPENED,
        EventType.CHECK_CLOSED,
        EventType.HANDOVER,
        EventType.ASSIGNMENT_ISSUED,
    }
    assert all(
        getattr(e.data, "party", None) == "hw" or e.type == EventType.HANDOVER for e in hw_topic
    )
    assert await read_topic(bootstrap, f"{prefix}assignments.customer") == []
    apps_topic = await read_topic(bootstrap, f"{prefix}assignments.apps")
    assert {e.id for e in apps_topic} == {e.id for e in shared}  # the coordinator sees all

    # replay: the same router on the same database, a new consumer group from the start
    fleet.stop()
    await fleet.started("replay", ["router"], {"BATON_GROUP_PREFIX": f"{prefix}replay."})
    await wait_consumed(bootstrap, router_reads(prefix, f"{prefix}replay."))
    after = await read_topic(bootstrap, f"{prefix}assignments")
    assert [e.id for e in after] == [e.id for e in shared], "a replay published again"
    assert await read_topic(bootstrap, f"{prefix}assignments.hw") == hw_topic


async def test_escalation_levels_fire_once_and_unacknowledged_parties_get_their_backups(
    isolated: Isolated, fleet: Fleet
) -> None:
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    incident = f"inc-{uuid.uuid4().hex[:12]}"
    await fleet.started("router", ["router"], {"BATON_ROUTER_TICK_SECONDS": "0.5"})
    # opened long enough ago that the backup calls fall due a few seconds from now, once
    # the router has handled the opening and osdb's acknowledgement (checked below)
    start = datetime.now(UTC) - ACK_AFTER + BACKUP_MARGIN
    await publish(
        bootstrap,
        f"{prefix}incidents",
        opened(incident, start),
        action(incident, ActionKind.ACKNOWLEDGE, "osdb"),
    )
    await wait_consumed(bootstrap, router_reads(prefix))
    assert datetime.now(UTC) < start + ACK_AFTER, (
        f"the router took over {BACKUP_MARGIN} to route and take the acknowledgement:"
        " too slow for this test (osdb's backup would have fallen due first)"
    )
    now = datetime.now(UTC)
    warning = factories.sla_warning(
        incident,
        now,
        deadline=start + timedelta(minutes=15),
        event_id=stable_id("warning", incident, 80),
    )
    breach = factories.sla_breached(incident, now, event_id=stable_id("breach", incident))
    await publish(bootstrap, f"{prefix}sla", warning, warning, breach)
    # level 2 once (warning, its redelivery and the breach all reach it); the backups of
    # apps (coordinator) and hw (hardware check), who did not react; none for osdb
    await collect(bootstrap, f"{prefix}assignments", 9, timeout=60)
    # every input handled and every due timer fired (osdb's too, had the acknowledgement
    # not removed it), then the router stopped: nothing more can come
    await wait_consumed(bootstrap, router_reads(prefix))
    await timers_all_fired(isolated.dsn)
    fleet.stop()
    events = await read_topic(bootstrap, f"{prefix}assignments")
    escalations = payloads(events, AssignmentEscalatedV3)
    assert sorted((d.reason.value, d.level or 0, d.party or "") for d in escalations) == [
        ("sla_warning", 2, ""),
        ("unacknowledged", 0, "apps"),
        ("unacknowledged", 0, "hw"),
    ]
    backup = next(d for d in escalations if d.party == "apps")
    assert [c.contact for c in backup.contacts] == ["manager"]
    customer = await read_topic(bootstrap, f"{prefix}assignments.customer")
    assert [e.type for e in customer] == [EventType.ASSIGNMENT_ESCALATED]  # emergency approver


async def test_through_intake_a_diagnosis_over_http_hands_the_incident_over(
    isolated: Isolated, fleet: Fleet
) -> None:
    """The same route with the real intake in front: alert in, diagnosis as a party action."""
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    sp = await fleet.started("services", ["intake", "router"])
    async with httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client:
        response = await client.post(
            f"{sp.urls['intake']}/v1/alerts/alertmanager",
            json=alertmanager_payload(datetime.now(UTC)),
        )
        assert response.status_code == 202, response.text
        first = await collect(bootstrap, f"{prefix}assignments", 6)
        incident = first[0].subject
        checks = {c.layer: c.party for c in payloads(first, CheckOpenedV2)}
        assert checks[Layer.HARDWARE] == "hw"
        assert checks[Layer.APPLICATION] == "apps"
        found = {
            "action": "diagnosis",
            "party": "hw",
            "actor": "night.engineer",
            "layer": "hardware",
            "fault_found": True,
            "note": "RAID controller failed",
        }
        actions = f"{sp.urls['intake']}/v1/incidents/{incident}/actions"
        diagnosis = await client.post(actions, json=found)
        assert diagnosis.status_code == 202, diagnosis.text
        every = await collect(bootstrap, f"{prefix}assignments", 9)
    fleet.stop()
    (handover,) = payloads(every, HandoverV2)
    assert (handover.from_party, handover.to_party, handover.coordinator) == ("osdb", "hw", "apps")
    assert "hw:night.engineer" in handover.reason


async def test_two_routers_ticking_on_one_database_call_each_backup_once(
    isolated: Isolated, fleet: Fleet
) -> None:
    """Scale-out: both instances' ticks see the same due timers; the fence lets one fire each."""
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    # QUICK_REBALANCE: the instance that joins its groups first hears of the second within 1 s
    env = {**QUICK_REBALANCE, "BATON_ROUTER_TICK_SECONDS": "0.1"}
    fleet.start("a", ["router"], env)
    fleet.start("b", ["router"], env)  # a port of its own (conftest)
    await fleet.healthy()
    start = datetime.now(UTC) - ACK_AFTER - timedelta(minutes=1)  # every timer already due
    incidents = [f"inc-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    await publish(bootstrap, f"{prefix}incidents", *(opened(i, start) for i in incidents))
    # per incident: 6 routing events and the backups of osdb, apps and hw
    await collect(bootstrap, f"{prefix}assignments", 9 * len(incidents), timeout=60)
    # every timer fired, both instances stopped: a second firing by either would be out
    await wait_consumed(bootstrap, router_reads(prefix))
    await timers_all_fired(isolated.dsn)
    fleet.stop()
    events = await read_topic(bootstrap, f"{prefix}assignments")
    backups = [e for e in events if e.type == EventType.ASSIGNMENT_ESCALATED]
    assert len(backups) == 3 * len(incidents)
    assert len({e.id for e in backups}) == len(backups), "a backup call was published twice"
