"""sla-clock on the real broker and database, with contract time running fast.

The sla-clock process gets the test-only settings ``BATON_SLA_TEST_NOW/_ANCHOR/_SPEED``: its
"now" is ``test_now + (real - anchor) * speed``. The anchor lies a few real seconds ahead, so the
process is up before contract time reaches the scenario. The test writes the incident events
itself (it plays intake, the one writer of the incidents topic) and reads the sla topic.

The contract is the unit tests' one (``tests/unit/test_sla_timeline.py``) with Monday
2026-10-26 declared a contract holiday on the ``office`` calendar.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaProducer
from sla_clock.decide import apply, timers
from sla_clock.timeline import IncidentRecord, Rules, fold

from shared.contract import Contract, load_contract
from shared.db import create_pool, migrate
from shared.events import (
    ActionKind,
    Category,
    ClockKind,
    Envelope,
    EventType,
    IncidentActionAcceptedV1,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    Layer,
    SlaClockRecomputedV1,
    SlaClockResumedV1,
    make_event,
    stable_id,
)
from tests.integration.conftest import (
    Isolated,
    ServiceProcs,
    isolated_slice,
    start_services,
    stop_services,
    wait_healthy,
)
from tests.integration.helpers import collect_until, kafka
from tests.unit.test_sla_timeline import build_contract

ROOT = Path(__file__).resolve().parents[2]
H = timedelta(hours=1)
M = timedelta(minutes=1)
FIRES = (EventType.SLA_WARNING, EventType.SLA_BREACHED)


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# --------------------------------------------------------------------------- helpers


def write_contract(folder: Path) -> tuple[Path, Contract]:
    doc = build_contract().model_dump(mode="json")
    office = next(c for c in doc["calendars"] if c["id"] == "office")
    office["extra_holidays"] = ["2026-10-26"]
    path = folder / "sla-contract.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(doc))  # JSON is YAML
    return path, load_contract(path)


def with_env(isolated: Isolated, **env: str) -> Isolated:
    return replace(isolated, env={**isolated.env, **env})


def fast_time(contract_path: Path, start: datetime, anchor: float, speed: float) -> dict[str, str]:
    return {
        "BATON_CONTRACT_PATH": str(contract_path),
        "BATON_SLA_TEST_NOW": start.isoformat(),
        "BATON_SLA_TEST_ANCHOR": datetime.fromtimestamp(anchor, UTC).isoformat(),
        "BATON_SLA_TEST_SPEED": str(speed),
        "BATON_SLA_TICK_SECONDS": "0.05",
    }


def contract_now(start: datetime, anchor: float, speed: float) -> datetime:
    return start + timedelta(seconds=(time.time() - anchor) * speed)


async def publish(bootstrap: str, topic: str, events: Iterable[Envelope]) -> None:
    producer = AIOKafkaProducer(**kafka(bootstrap), enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            await producer.send(topic, event.to_json(), key=event.key())
        await producer.flush()
    finally:
        await producer.stop()


def opened(
    incident: str, obj: str, layer: Layer, category: Category, prio: str, at: datetime
) -> Envelope:
    return make_event(
        IncidentOpenedV1(
            object_id=obj,
            layer=layer,
            category=category,
            priority=prio,
            summary="test",
            opened_at=at,
            first_alert_at=at,
            fingerprints=[incident],
        ),
        source="intake",
        time=at,
        subject=incident,
        event_id=stable_id("test-open", incident),
    )


def accepted(incident: str, kind: ActionKind, at: datetime, **extra: Any) -> Envelope:
    return make_event(
        IncidentActionAcceptedV1.model_validate(
            {
                "action": kind,
                "party": "osdb",
                "actor": "eng",
                "at": at,
                "command_id": stable_id("test-cmd", incident, kind, at),
                **extra,
            }
        ),
        source="intake",
        time=at,
        subject=incident,
        event_id=stable_id("test-action", incident, kind, at),
    )


def reclassified(incident: str, prio: str, at: datetime) -> Envelope:
    return make_event(
        IncidentReclassifiedV1(
            priority=prio, category=Category.OUTAGE, reason="scope", by="apps:m"
        ),
        source="intake",
        time=at,
        subject=incident,
        event_id=stable_id("test-reclass", incident, prio, at),
    )


def key(e: Envelope) -> tuple[str, str | None, str, int | None]:
    data = e.data
    return (e.type.value, e.subject, data.clock.value, getattr(data, "threshold", None))  # type: ignore[attr-defined]


def predicted(
    contract: Contract, events: list[Envelope], until: datetime
) -> set[tuple[str, str | None, str, int | None]]:
    """What the pure core says the sla topic holds once contract time reached ``until``."""
    rules = Rules(contract)
    records: dict[str, IncidentRecord | None] = {}
    out: set[tuple[str, str | None, str, int | None]] = set()
    for event in events:
        subject = event.subject or ""
        record, emitted = apply(records.get(subject), event, rules, until)
        records[subject] = record
        out.update(key(e) for e in emitted)
    for record in records.values():
        assert record is not None
        for t in timers(record, fold(record, rules), rules):
            if t.due <= until:
                kind = EventType.SLA_BREACHED if t.threshold == 100 else EventType.SLA_WARNING
                out.add(
                    (
                        kind.value,
                        t.incident_id,
                        t.clock.value,
                        None if t.threshold == 100 else t.threshold,
                    )
                )
    return out


# --------------------------------------------------------------------------- (a) a fast week


async def test_days_of_contract_time_fire_each_threshold_once_at_its_instant(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Fri 23 Oct 17:00 CEST to Tue 27 Oct: a night, a weekend, the fall-back DST change
    (Sun 25 Oct), a contract holiday (Mon 26 Oct), a pause across all of them and a
    reclassification during the pause; every instant below is worked out by hand."""
    contract_path, _ = write_contract(tmp_path)
    start = utc(10, 23, 15)  # Fri 17:00 CEST
    speed = 8000.0
    anchor = time.time() + 8
    env = fast_time(contract_path, start, anchor, speed)
    a, b, c = (f"inc-{n}-{uuid.uuid4().hex[:6]}" for n in "abc")
    events = [
        # A: degradation P3 on the office calendar (Mon–Fri 09–18 Berlin, Mon 26 off), 2h / 8h
        opened(a, "acc-app", Layer.APPLICATION, Category.DEGRADATION, "P3", start),
        # B: integration issue P3 on the extended calendar (daily 08–20 Berlin), 1h / 4h,
        # acknowledged at 17:20 CEST: response met with 40 min to spare, before any warning
        opened(b, "bank-exchange", Layer.INTEGRATION, Category.INTEGRATION_ISSUE, "P3", start),
        accepted(b, ActionKind.ACKNOWLEDGE, start + 20 * M),
        # C: outage P1 round the clock, 15m / 4h; recovery paused at 16:00Z for no access,
        # raised... lowered to P2 (8h) on Saturday while paused, resumed Mon 08:00Z
        opened(c, "pg-main", Layer.DBMS, Category.OUTAGE, "P1", start),
        accepted(c, ActionKind.PAUSE, start + H, pause_reason="no-access", evidence=["req 7"]),
        reclassified(c, "P2", utc(10, 24, 12)),
        accepted(c, ActionKind.RESUME, utc(10, 26, 8), pause_reason="no-access"),
    ]
    expected_fire = {
        # A response (2h): 1h on Friday to the 18:00 CEST close; Mon holiday; Tue 09:00 CET = 08:00Z
        (a, "response", 50): utc(10, 23, 16),  # 60 min: exactly the Friday close
        (a, "response", 75): utc(10, 27, 8, 30),
        (a, "response", 80): utc(10, 27, 8, 36),  # escalation level 2 of the contract
        (a, "response", 90): utc(10, 27, 8, 48),
        (a, "response", 100): utc(10, 27, 9),
        # A recovery (8h): 1h Friday + 3h/5h/6h12m/7h on Tuesday from 08:00Z
        (a, "recovery", 50): utc(10, 27, 11),
        (a, "recovery", 75): utc(10, 27, 13),
        (a, "recovery", 90): utc(10, 27, 14, 12),
        (a, "recovery", 100): utc(10, 27, 15),
        # B recovery (4h): 3h to the 20:00 CEST close (18:00Z), Sat 08:00 CEST = 06:00Z + 1h
        (b, "recovery", 50): utc(10, 23, 17),
        (b, "recovery", 75): utc(10, 23, 18),
        (b, "recovery", 90): utc(10, 24, 6, 36),
        (b, "recovery", 100): utc(10, 24, 7),
        # C response (15m at P1, fired long before the reclassification: never again)
        (c, "response", 50): start + timedelta(minutes=7, seconds=30),
        (c, "response", 75): start + timedelta(minutes=11, seconds=15),
        (c, "response", 80): start + 12 * M,
        (c, "response", 90): start + timedelta(minutes=13, seconds=30),
        (c, "response", 100): start + 15 * M,
        # C recovery at P2 (8h): 1h before the pause, then from Mon 08:00Z: 4h/6h/7h12m/8h
        (c, "recovery", 50): utc(10, 26, 11),
        (c, "recovery", 75): utc(10, 26, 13),
        (c, "recovery", 90): utc(10, 26, 14, 12),
        (c, "recovery", 100): utc(10, 26, 15),
    }
    until = utc(10, 27, 15, 30)
    # everything up to the reclassification goes in up front (facts may be dated ahead); the
    # reclassification rewrites the past, so it goes in once C's response breach has fired
    held_back = events[5:]  # the reclassification (and the resume that follows it)
    del events[5:]
    await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", events)
    sp = start_services(with_env(isolated, **env), tmp_path / "run", ["sla-clock"])
    try:
        await wait_healthy(sp)
        sla = f"{isolated.prefix}sla"

        def c_response_breached(got: list[Envelope]) -> bool:
            return any(
                e.type == EventType.SLA_BREACHED and e.subject == c and e.data.clock == "response"  # type: ignore[attr-defined]
                for e in got
            )

        await collect_until(isolated.infra.bootstrap, sla, c_response_breached, 30, settle=0)
        await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", held_back)
        real_wait = (until - contract_now(start, anchor, speed)).total_seconds() / speed + 30
        fired = await collect_until(
            isolated.infra.bootstrap,
            sla,
            lambda got: sum(e.type in FIRES for e in got) >= len(expected_fire),
            timeout=real_wait,
            settle=2.0,
        )
        metrics = await _metrics(sp)
    finally:
        stop_services(sp)
    fires = [e for e in fired if e.type in FIRES]
    by_key: dict[tuple[str, str, int], list[Envelope]] = {}
    for e in fires:
        th = getattr(e.data, "threshold", 100)
        by_key.setdefault((e.subject or "", e.data.clock.value, th), []).append(e)  # type: ignore[attr-defined]
    assert set(by_key) == set(expected_fire)
    lag_bound = timedelta(seconds=5 * speed)  # five real seconds of contract time (a busy CI)
    for k, due in expected_fire.items():
        (event,) = {e.id: e for e in by_key[k]}.values()  # one id per clock and threshold
        detected = event.data.detected_at  # type: ignore[attr-defined]
        assert due <= detected <= due + lag_bound, (k, due, detected)
        if k[2] == 100:
            assert event.data.deadline == due, k  # type: ignore[attr-defined]
    # B's response stopped in time; C's clocks were recomputed under P2 while paused
    stopped = [e for e in fired if e.type == EventType.SLA_CLOCK_STOPPED]
    assert [(e.subject, e.data.met, e.data.margin) for e in stopped] == [(b, True, 40 * M)]  # type: ignore[attr-defined]
    recomputed = {e.data.clock: e.data for e in fired if isinstance(e.data, SlaClockRecomputedV1)}
    assert recomputed[ClockKind.RECOVERY].target == 8 * H
    assert (recomputed[ClockKind.RECOVERY].elapsed, recomputed[ClockKind.RECOVERY].deadline) == (
        H,
        None,
    )
    resumed = [e.data for e in fired if isinstance(e.data, SlaClockResumedV1)]
    assert [(r.deadline, r.paused) for r in resumed] == [
        (utc(10, 26, 15), utc(10, 26, 8) - (start + H))
    ]
    # pause time per reason and per party: Fri 16:00Z to Mon 08:00Z round the clock = 64h
    conn = await asyncpg.connect(isolated.dsn, server_settings={"search_path": "sla_clock"})
    try:
        row = await conn.fetchrow(
            "SELECT paused_by_reason, paused_by_party FROM clocks WHERE incident_id = $1"
            " AND clock = 'recovery'",
            c,
        )
    finally:
        await conn.close()
    assert row is not None
    assert orjson.loads(row["paused_by_reason"]) == {"no-access": 64 * 3600}
    assert orjson.loads(row["paused_by_party"]) == {"osdb": 64 * 3600}
    assert (
        'baton_sla_paused_seconds_total{clock="recovery",party="osdb",reason="no-access"} 230400.0'
        in metrics
    )
    assert "baton_sla_fire_lag_seconds_count" in metrics
    assert 'baton_sla_breaches_total{clock="recovery",party="apps",priority="P3"} 2.0' in metrics


async def _metrics(sp: ServiceProcs) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{sp.urls['sla-clock']}/metrics")).text


# --------------------------------------------------------------------------- (b) kill -9


STORM = 60


def storm_events(start: datetime, run: str) -> list[Envelope]:
    """STORM P1 outages opened over the two contract hours after ``start``; a third
    acknowledged, a third paused and resumed, some restored — so warnings, breaches, stops and
    pauses interleave with the kill. Facts are dated ahead of the clock when published, so both
    runs see every fact before its thresholds fall due."""
    events = []
    for i in range(STORM):
        inc = f"inc-storm-{run}-{i}"
        at = start + i * 2 * H / STORM
        events.append(opened(inc, "pg-main", Layer.DBMS, Category.OUTAGE, "P1", at))
        if i % 3 == 0:
            events.append(accepted(inc, ActionKind.ACKNOWLEDGE, at + 10 * M))
        if i % 3 == 1:
            events.append(
                accepted(
                    inc, ActionKind.PAUSE, at + 30 * M, pause_reason="no-access", evidence=["r"]
                )
            )
            events.append(accepted(inc, ActionKind.RESUME, at + 90 * M, pause_reason="no-access"))
        if i % 10 == 0:
            events.append(accepted(inc, ActionKind.RESTORED, at + 2 * H))
    return events


async def test_kill_9_during_a_storm_fires_exactly_what_an_unkilled_run_fires(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Two sla-clock processes on two slices get the same storm; one is killed (-9) mid-storm,
    down while thresholds fall due, and restarted. Both must end with the same events, each
    warning and breach under one id, and everything the pure core predicts."""
    contract_path, contract = write_contract(tmp_path)
    start = utc(12, 2, 12)
    speed = 900.0  # 15 contract minutes per real second
    run = uuid.uuid4().hex[:6]
    events = storm_events(start, run)
    half = next(i for i, e in enumerate(events) if e.subject == f"inc-storm-{run}-{STORM // 2}")
    until = start + 8 * H  # every threshold of every incident is due by then
    expected = predicted(contract, events, until)
    expected_fires = {k for k in expected if k[0] in {t.value for t in FIRES}}
    async with isolated_slice(isolated.infra) as reference:
        anchor = time.time() + 6
        env = fast_time(contract_path, start, anchor, speed)
        killed, calm = with_env(isolated, **env), with_env(reference, **env)
        first = start_services(killed, tmp_path / "first", ["sla-clock"])
        ref = start_services(calm, tmp_path / "reference", ["sla-clock"])
        second: ServiceProcs | None = None
        try:
            await wait_healthy(first)
            await wait_healthy(ref)
            for target in (killed, calm):
                await publish(target.infra.bootstrap, f"{target.prefix}incidents", events[:half])
            # contract time reaches start + 7.5 min: the first response warnings fire now; the
            # second half opens from start + 60 min, well after it is read
            await asyncio.sleep(max(0.0, anchor + 0.5 - time.time()))
            for target in (killed, calm):
                await publish(target.infra.bootstrap, f"{target.prefix}incidents", events[half:])
            first.procs["sla-clock"].send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.procs["sla-clock"].wait, 30)
            await asyncio.sleep(2)  # thresholds fall due while it is down
            second = start_services(killed, tmp_path / "second", ["sla-clock"])
            await wait_healthy(second)
            wait = (until - contract_now(start, anchor, speed)).total_seconds() / speed + 40

            def complete(got: list[Envelope]) -> bool:
                return expected_fires <= {key(e) for e in got}

            after_kill, unkilled = await asyncio.gather(
                collect_until(
                    isolated.infra.bootstrap, f"{killed.prefix}sla", complete, wait, settle=2.0
                ),
                collect_until(
                    reference.infra.bootstrap, f"{calm.prefix}sla", complete, wait, settle=2.0
                ),
            )
        finally:
            stop_services(first)
            stop_services(ref)
            if second:
                stop_services(second)
    outcome = []
    for got in (after_kill, unkilled):
        ids: dict[tuple[str, str | None, str, int | None], set[uuid.UUID]] = {}
        for e in got:
            ids.setdefault(key(e), set()).add(e.id)
        # nothing doubled: one id per (type, incident, clock, threshold); a repeat published
        # before the killed transaction committed carries the same id (consumers drop it)
        assert {k: v for k, v in ids.items() if len(v) > 1} == {}
        # nothing missed and nothing extra: exactly what the pure core predicts
        assert set(ids) == expected, (expected - set(ids), set(ids) - expected)
        outcome.append({k: next(iter(v)) for k, v in ids.items()})
    assert outcome[0] == outcome[1]
    # the run that was not killed published every event exactly once
    assert len(unkilled) == len({e.id for e in unkilled})
    repeats = len(after_kill) - len({e.id for e in after_kill})
    print(f"storm: {len(expected)} events, {len(expected_fires)} fires, {repeats} repeated ids")
    assert len(expected_fires) > STORM  # the comparison covers a real storm of fires


# --------------------------------------------------------------------------- (c) scale-out


def fired_count(metrics: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(("baton_sla_warnings_total{", "baton_sla_breaches_total{")):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_a_second_instance_joining_and_leaving_shares_the_work_and_doubles_nothing(
    isolated: Isolated, tmp_path: Path
) -> None:
    """One consumer group, one database: instance B joins mid-storm (a rebalance hands it
    partitions and their timers) and leaves again (they move back). Every threshold fires
    once, both instances fired some, and nothing is published twice."""
    contract_path, contract = write_contract(tmp_path)
    start = utc(12, 2, 12)
    speed = 900.0
    run = uuid.uuid4().hex[:6]
    events = storm_events(start, run)
    half = next(i for i, e in enumerate(events) if e.subject == f"inc-storm-{run}-{STORM // 2}")
    until = start + 8 * H
    expected = predicted(contract, events, until)
    expected_fires = {k for k in expected if k[0] in {t.value for t in FIRES}}
    anchor = time.time() + 6
    env = with_env(isolated, **fast_time(contract_path, start, anchor, speed))
    a = start_services(env, tmp_path / "a", ["sla-clock"])
    b: ServiceProcs | None = None
    try:
        await wait_healthy(a)
        await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", events[:half])
        b = start_services(env, tmp_path / "b", ["sla-clock"])
        await wait_healthy(b)
        await asyncio.sleep(max(0.0, anchor + 0.5 - time.time()))
        await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", events[half:])
        await asyncio.sleep(max(0.0, anchor + 9 - time.time()))  # B fires its share meanwhile
        b_fired = fired_count(await _metrics(b))
        stop_services(b)  # graceful leave: its partitions go back to A
        wait = (until - contract_now(start, anchor, speed)).total_seconds() / speed + 40
        got = await collect_until(
            isolated.infra.bootstrap,
            f"{isolated.prefix}sla",
            lambda got: expected_fires <= {key(e) for e in got},
            wait,
            settle=2.0,
        )
        a_fired = fired_count(await _metrics(a))
    finally:
        stop_services(a)
        if b:
            stop_services(b)
    assert {key(e) for e in got} == expected
    assert len(got) == len({e.id for e in got}) == len(expected)  # nothing published twice
    # both did part of the work (B's count is read just before it leaves, so it is a floor)
    assert b_fired > 0
    assert 0 < a_fired <= len(expected_fires) - b_fired
    print(f"scale-out: A fired {a_fired:.0f}, B fired {b_fired:.0f} of {len(expected_fires)}")


# --------------------------------------------------------------------------- upgrade


async def test_clocks_of_the_walking_skeleton_keep_their_breach_after_the_upgrade(
    isolated: Isolated, tmp_path: Path
) -> None:
    migrations = ROOT / "services" / "sla-clock" / "sla_clock" / "migrations"
    old = tmp_path / "old"
    old.mkdir()
    (old / "001_init.sql").write_text((migrations / "001_init.sql").read_text())
    pool = await create_pool(isolated.dsn, "sla_clock")
    try:
        await migrate(pool, old)
        deadline = utc(12, 2, 12)
        rows = [  # running, running and already breached, stopped
            ("inc-old-1", "recovery", None, False),
            ("inc-old-2", "recovery", None, True),
            ("inc-old-3", "response", deadline, False),
        ]
        for incident, clock, stopped, breached in rows:
            await pool.execute(
                "INSERT INTO clocks(incident_id, clock, started_at, target, deadline, calendar,"
                " priority, party, stopped_at, met, breached) VALUES ($1, $2, $3, $4, $3, '24x7',"
                " 'P1', 'osdb', $5, $6, $7)",
                incident,
                clock,
                deadline,
                H,
                stopped,
                None if stopped is None else True,
                breached,
            )
        await migrate(pool, migrations)
        timers_after = {
            r["incident_id"]: (r["threshold"], r["due"], r["fired_at"] is not None, r["part"])
            for r in await pool.fetch("SELECT * FROM timers")
        }
        status = {
            r["incident_id"]: r["status"]
            for r in await pool.fetch("SELECT incident_id, status FROM clocks")
        }
    finally:
        await pool.close()
    assert timers_after == {
        "inc-old-1": (100, deadline, False, -1),
        "inc-old-2": (100, deadline, True, -1),
    }
    assert status == {"inc-old-1": "running", "inc-old-2": "running", "inc-old-3": "stopped"}
