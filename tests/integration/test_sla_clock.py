"""sla-clock on the real broker and database, with contract time moved by the test.

The sla-clock process reads its time from a file the test writes (the test-only setting
``BATON_SLA_TEST_CLOCK``; ``ContractClock`` below): contract time stands still while a process
starts, runs fast, or jumps from one instant to the next. The test writes the incident events
itself (it plays intake, the one writer of the incidents topic) and reads the sla topic.

The contract is the unit tests' one (``tests/unit/test_sla_timeline.py``) with Monday
2026-10-26 declared a contract holiday on the ``office`` calendar.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sla_clock.decide import apply, fire, timers
from sla_clock.timeline import IncidentRecord, Rules, fold

from shared.contract import Contract, load_contract
from shared.contract.view import ContractView
from shared.db import create_pool, migrate
from shared.events import (
    ActionKind,
    Category,
    ClockKind,
    Envelope,
    EventType,
    Layer,
    SlaClockRecomputedV1,
    SlaClockResumedV1,
    parse_event,
    stable_id,
)
from tests import factories
from tests.integration.conftest import Isolated, ServiceProcs, started, stop_services
from tests.integration.helpers import QUICK_REBALANCE, kafka, polled, timers_fired, wait_consumed
from tests.unit.test_sla_timeline import H, M, build_contract

FIRES = (EventType.SLA_WARNING, EventType.SLA_BREACHED)
Key = tuple[str, str | None, str, int | None]
"""An sla event as the pure core predicts it: (type, incident, clock, threshold)."""


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# --------------------------------------------------------------------------- helpers


class ContractClock:
    """The file sla-clock reads its time from (``BATON_SLA_TEST_CLOCK``, test-only): contract time
    ``now`` at the real instant ``anchor``, running ``speed`` contract seconds per real second
    (0: it stands still). Every change is kept here as a segment too, so a real instant (a
    record's timestamp) maps back to the contract time the services had then."""

    def __init__(self, folder: Path, at: datetime) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "contract-clock.json"
        self._segments: list[tuple[float, datetime, float]] = []  # (anchor, now, speed)
        self._write(time.time(), at, 0.0)

    def env(self) -> dict[str, str]:
        return {"BATON_SLA_TEST_CLOCK": str(self.path)}

    def at(self, real: float) -> datetime:
        """Contract time at the real instant ``real`` (seconds since the epoch)."""
        anchor, now, speed = self._segments[0]
        for segment in self._segments:
            if segment[0] <= real:
                anchor, now, speed = segment
        return now + timedelta(seconds=(real - anchor) * speed)

    def now(self) -> datetime:
        return self.at(time.time())

    def run(self, speed: float, at: datetime | None = None) -> None:
        """From this real instant on, contract time runs at ``speed`` — from ``at`` when given
        (a jump ahead), else from where it is."""
        real = time.time()
        current = self.at(real)
        assert at is None or at >= current, f"contract time never runs back: {at} < {current}"
        self._write(real, current if at is None else at, speed)

    def stand(self, at: datetime) -> None:
        """Contract time jumps to ``at`` and stands there."""
        self.run(0.0, at)

    def _write(self, real: float, now: datetime, speed: float) -> None:
        doc = {
            "now": now.isoformat(),
            "anchor": datetime.fromtimestamp(real, UTC).isoformat(),
            "speed": speed,
        }
        aside = self.path.with_suffix(".new")
        aside.write_bytes(orjson.dumps(doc))
        os.replace(aside, self.path)  # atomic: a process never reads half a file
        self._segments.append((real, now, speed))


UPDATE_CADENCE = frozenset({EventType.UPDATE_DUE, EventType.UPDATE_OVERDUE})
"""The update cadence's events (ADR 47, ``test_update_cadence``): not what the clock tests
here count, so their reader leaves them out."""


class TopicReader:
    """Reads one topic from its start for as long as a test needs it, without a consumer group
    (nothing to join per look): ``records`` holds everything read so far; ``events()`` the
    records as events, but for the types in ``skip``."""

    def __init__(
        self, bootstrap: str, topic: str, skip: frozenset[EventType] = UPDATE_CADENCE
    ) -> None:
        self.topic = topic
        self.skip = skip
        self.consumer = AIOKafkaConsumer(
            topic, **kafka(bootstrap), auto_offset_reset="earliest", enable_auto_commit=False
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self._events: list[Envelope] = []

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    def events(self) -> list[Envelope]:
        """The records read so far as Baton events (but the skipped types)."""
        self._events.extend(parse_event(r.value) for r in self.records[len(self._events) :])
        return [e for e in self._events if e.type not in self.skip]

    async def _read(self) -> None:
        for batch in (await self.consumer.getmany(timeout_ms=200)).values():
            self.records.extend(batch)

    async def until(self, done: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """Read on until ``done()`` holds; fail naming ``what`` did not arrive in time."""
        try:
            async with asyncio.timeout(timeout):
                while not done():
                    await self._read()
        except TimeoutError:
            raise AssertionError(
                f"{self.topic}: {what} not there in {timeout} s ({len(self.records)} records)"
            ) from None

    async def to_end(self, timeout: float = 60) -> None:
        """Read every record the topic holds at this moment."""
        ends: dict[TopicPartition, int] = {}
        try:
            async with asyncio.timeout(timeout):
                while not (parts := self.consumer.partitions_for_topic(self.topic)):
                    await self._read()  # the topic's metadata is not in yet
                tps = [TopicPartition(self.topic, p) for p in parts]
                ends = await self.consumer.end_offsets(tps)
                pending = dict(ends)
                while pending:
                    await self._read()
                    for tp, end in list(pending.items()):
                        if (
                            tp in self.consumer.assignment()
                            and await self.consumer.position(tp) >= end
                        ):
                            del pending[tp]
        except TimeoutError:
            raise AssertionError(f"{self.topic}: not read to its end {ends}") from None


async def group_members(isolated: Isolated, service_group: str, count: int) -> None:
    """Wait until the consumer group ``prefix + service_group`` is stable with ``count`` members,
    each holding partitions: the instances own their share before contract time moves."""
    group = f"{isolated.prefix}{service_group}"
    admin = AIOKafkaAdminClient(**kafka(isolated.infra.bootstrap))
    await admin.start()
    seen: list[Any] = [None]

    async def stable() -> bool:
        (response,) = await admin.describe_consumer_groups([group])
        _, _, state, _, _, members, *_ = seen[0] = response.groups[0]
        return state == "Stable" and len(members) == count

    try:
        await polled(stable, lambda: f"group {group} not stable with {count} members: {seen[0]}")
    finally:
        await admin.close()


async def consumed(isolated: Isolated, timeout: float = 60) -> None:
    """sla-clock's group committed the end of the incidents topic: every fact is handled, its
    clock events published and its timers stored."""
    await wait_consumed(
        isolated.infra.bootstrap,
        {f"{isolated.prefix}sla-clock": f"{isolated.prefix}incidents"},
        timeout,
    )


async def all_due_fired(isolated: Isolated, until: datetime, timeout: float = 60) -> None:
    """Every incident fact handled and every timer due by ``until`` fired. Publishing comes
    before both commits and contract time stands at ``until``, so from here on nothing more is
    published: the sla topic read to its end is the whole outcome, with no settle time."""
    await consumed(isolated, timeout)
    await timers_fired(isolated.dsn, "sla_clock.timers", until, timeout)


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


def sla_clock_env(
    isolated: Isolated, contract_path: Path, clock: ContractClock, **env: str
) -> Isolated:
    return with_env(
        isolated,
        BATON_CONTRACT_PATH=str(contract_path),
        BATON_SLA_TICK_SECONDS="0.05",
        **clock.env(),
        **env,
    )


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
    return factories.opened(
        incident,
        at,
        object_id=obj,
        layer=layer,
        category=category,
        priority=prio,
        summary="test",
        fingerprint=incident,
        event_id=stable_id("test-open", incident),
    )


def accepted(incident: str, kind: ActionKind, at: datetime, **extra: Any) -> Envelope:
    return factories.accepted(
        incident,
        kind,
        at,
        command_id=stable_id("test-cmd", incident, kind, at),
        event_id=stable_id("test-action", incident, kind, at),
        **extra,
    )


def reclassified(incident: str, prio: str, at: datetime) -> Envelope:
    return factories.reclassified(
        incident,
        at,
        priority=prio,
        reason="scope",
        by="apps:m",
        event_id=stable_id("test-reclass", incident, prio, at),
    )


def key(e: Envelope) -> Key:
    data = e.data
    return (e.type.value, e.subject, data.clock.value, getattr(data, "threshold", None))  # type: ignore[attr-defined]


def predicted(
    contract: Contract, events: list[Envelope], until: datetime
) -> dict[Key, tuple[uuid.UUID, datetime | None]]:
    """What the pure core — the code an unkilled sla-clock runs — says the sla topic holds once
    contract time reached ``until``: each event's key and id, and for a warning or breach the
    instant it falls due."""
    rules = Rules(ContractView.of(contract))
    records: dict[str, IncidentRecord | None] = {}
    out: dict[Key, tuple[uuid.UUID, datetime | None]] = {}
    for event in events:
        subject = event.subject or ""
        record, emitted = apply(records.get(subject), event, rules, until)
        records[subject] = record
        out.update((key(e), (e.id, None)) for e in emitted)
    for record in records.values():
        assert record is not None
        for t in timers(record, fold(record, rules), rules):
            if t.due <= until:
                e = fire(t, until)
                out[key(e)] = (e.id, t.due)
    return out


def is_fire(k: Key) -> bool:
    return k[0] in {t.value for t in FIRES}


# --------------------------------------------------------------------------- (a) a fast week


async def test_days_of_contract_time_fire_each_threshold_once_at_its_instant(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Fri 23 Oct 17:00 CEST to Tue 27 Oct: a night, a weekend, the fall-back DST change
    (Sun 25 Oct), a contract holiday (Mon 26 Oct), a pause across all of them and a
    reclassification during the pause; every instant below is worked out by hand.

    Contract time jumps from one of those instants to the next and stands there until what falls
    due then has arrived, so each warning and breach must carry exactly its instant: one fired
    early would carry an earlier one, one fired late would not arrive at its instant."""
    contract_path, _ = write_contract(tmp_path)
    start = utc(10, 23, 15)  # Fri 17:00 CEST
    clock = ContractClock(tmp_path, start)
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
    sp = await started(
        sla_clock_env(isolated, contract_path, clock), tmp_path / "run", ["sla-clock"]
    )
    try:
        async with TopicReader(isolated.infra.bootstrap, f"{isolated.prefix}sla") as sla:

            def fired() -> set[tuple[str, str, int]]:
                return {
                    (e.subject or "", e.data.clock.value, getattr(e.data, "threshold", 100))  # type: ignore[attr-defined]
                    for e in sla.events()
                    if e.type in FIRES
                }

            for instant in sorted({*expected_fire.values(), until}):
                clock.stand(instant)
                now_due = {k for k, at in expected_fire.items() if at <= instant}

                def arrived(now_due: set[tuple[str, str, int]] = now_due) -> bool:
                    return now_due <= fired()

                await sla.until(arrived, f"what falls due at {instant}")
                if instant == expected_fire[(c, "response", 100)]:
                    await publish(
                        isolated.infra.bootstrap, f"{isolated.prefix}incidents", held_back
                    )
                    await sla.until(
                        lambda: any(isinstance(e.data, SlaClockResumedV1) for e in sla.events()),
                        "C's clocks resumed under P2",
                    )
            await all_due_fired(isolated, until)
            await sla.to_end()
            got = sla.events()
        metrics = await _metrics(sp)
    finally:
        stop_services(sp)
    fires = [e for e in got if e.type in FIRES]
    by_key: dict[tuple[str, str, int], list[Envelope]] = {}
    for e in fires:
        th = getattr(e.data, "threshold", 100)
        by_key.setdefault((e.subject or "", e.data.clock.value, th), []).append(e)  # type: ignore[attr-defined]
    assert set(by_key) == set(expected_fire)
    for k, due in expected_fire.items():
        (event,) = by_key[k]  # published once: nothing was killed, nothing repeats
        assert event.data.detected_at == due, (k, due, event.data.detected_at)  # type: ignore[attr-defined]
        if k[2] == 100:
            assert event.data.deadline == due, k  # type: ignore[attr-defined]
    # B's response stopped in time; C's clocks were recomputed under P2 while paused
    stopped = [e for e in got if e.type == EventType.SLA_CLOCK_STOPPED]
    assert [(e.subject, e.data.met, e.data.margin) for e in stopped] == [(b, True, 40 * M)]  # type: ignore[attr-defined]
    recomputed = {e.data.clock: e.data for e in got if isinstance(e.data, SlaClockRecomputedV1)}
    assert recomputed[ClockKind.RECOVERY].target == 8 * H
    assert (recomputed[ClockKind.RECOVERY].elapsed, recomputed[ClockKind.RECOVERY].deadline) == (
        H,
        None,
    )
    resumed = [e.data for e in got if isinstance(e.data, SlaClockResumedV1)]
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


async def _metrics(sp: ServiceProcs, name: str = "sla-clock") -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{sp.urls[name]}/metrics")).text


# --------------------------------------------------------------------------- (b) kill -9


STORM = 60


def storm_events(start: datetime, run: str) -> list[Envelope]:
    """STORM P1 outages opened over the two contract hours after ``start``; a third
    acknowledged, a third paused and resumed, some restored — so warnings, breaches, stops and
    pauses interleave with the kill. Facts are dated ahead of the clock when published, so every
    fact is known before its thresholds fall due."""
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


class Storm(NamedTuple):
    """A storm in contract time: its events (the second half from ``half``), the instant by
    which all its thresholds are due, what the pure core predicts by then, the contract clock
    (standing at the start until a test runs it) and sla-clock's environment."""

    events: list[Envelope]
    half: int
    start: datetime
    until: datetime
    expected: dict[Key, tuple[uuid.UUID, datetime | None]]
    clock: ContractClock
    env: Isolated


def storm(isolated: Isolated, tmp_path: Path) -> Storm:
    contract_path, contract = write_contract(tmp_path)
    start = utc(12, 2, 12)
    run = uuid.uuid4().hex[:6]
    events = storm_events(start, run)
    half = next(i for i, e in enumerate(events) if e.subject == f"inc-storm-{run}-{STORM // 2}")
    until = start + 8 * H  # every threshold of every incident is due by then
    clock = ContractClock(tmp_path, start)
    env = sla_clock_env(isolated, contract_path, clock, **QUICK_REBALANCE)
    return Storm(events, half, start, until, predicted(contract, events, until), clock, env)


def outcome_ids(got: list[Envelope]) -> dict[Key, set[uuid.UUID]]:
    ids: dict[Key, set[uuid.UUID]] = {}
    for e in got:
        ids.setdefault(key(e), set()).add(e.id)
    return ids


async def test_kill_9_during_a_storm_fires_exactly_what_an_unkilled_run_fires(
    isolated: Isolated, tmp_path: Path
) -> None:
    """sla-clock gets a storm and is killed (-9) mid-storm while warnings fire; contract time
    jumps ahead while it is down, so thresholds fall due with nobody running; a new process
    takes over. It must end with exactly the events, under exactly the ids, that the pure core
    — the code an unkilled run executes — predicts, each warning and breach under one id."""
    events, half, start, until, expected, clock, env = storm(isolated, tmp_path)
    down_until = start + 4 * H  # contract time while the second process takes over
    due_at = {k: due for k, (_, due) in expected.items() if due is not None}
    first = await started(env, tmp_path / "first", ["sla-clock"])
    second: ServiceProcs | None = None
    try:
        await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", events[:half])
        await group_members(isolated, "sla-clock", 1)
        await consumed(isolated)  # the first half's timers are stored before time runs
        async with TopicReader(isolated.infra.bootstrap, f"{isolated.prefix}sla") as sla:
            # ten contract minutes per real second: the response warnings (from start + 7.5 min)
            # fire some twenty a second; it is killed among them, just after the second half
            # (opened from start + 60 min) went in, read or not
            clock.run(600.0)
            await sla.until(
                lambda: sum(e.type in FIRES for e in sla.events()) >= 10, "the first ten fires"
            )
            await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", events[half:])
            first.procs["sla-clock"].send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.procs["sla-clock"].wait, 30)
            clock.stand(down_until)  # thresholds fall due while nothing runs
            second = await started(env, tmp_path / "second", ["sla-clock"])
            due_down = {k for k, due in due_at.items() if due <= down_until}
            await sla.until(
                lambda: due_down <= {key(e) for e in sla.events()},
                "the fires due while it was down",
            )
            clock.stand(until)
            await all_due_fired(isolated, until)
            await sla.to_end()
            got = sla.events()
    finally:
        stop_services(first)
        if second:
            stop_services(second)
    ids = outcome_ids(got)
    # nothing doubled: one id per (type, incident, clock, threshold); a repeat published
    # before the killed transaction committed carries the same id (consumers drop it)
    assert {k: v for k, v in ids.items() if len(v) > 1} == {}
    # nothing missed and nothing extra: exactly what the pure core predicts, under its ids
    assert set(ids) == set(expected), (set(expected) - set(ids), set(ids) - set(expected))
    assert {k: next(iter(v)) for k, v in ids.items()} == {k: i for k, (i, _) in expected.items()}
    # the three kinds of fire all happened: before the kill (the first process, contract time
    # running), fallen due while it was down, and fallen due after the takeover
    phases = {"before the kill": 0, "while down": 0, "after the takeover": 0}
    for e in got:
        if e.type in FIRES:
            detected = e.data.detected_at  # type: ignore[attr-defined]
            assert detected >= due_at[key(e)], key(e)  # never early
            phase = (
                "before the kill"
                if detected < down_until
                else "while down"
                if detected == down_until
                else "after the takeover"
            )
            phases[phase] += 1
    repeats = len(got) - len({e.id for e in got})
    print(f"storm: {len(expected)} events, {len(due_at)} fires {phases}, {repeats} repeated ids")
    assert all(phases.values()), phases
    assert len(due_at) > STORM  # the comparison covers a real storm of fires


# --------------------------------------------------------------------------- (c) scale-out


def fired_count(metrics: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(("baton_sla_warnings_total{", "baton_sla_breaches_total{")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def open_clocks_shown(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("baton_sla_open_clocks{")
    )


async def each_open_clock_shown_once(isolated: Isolated, *instances: ServiceProcs) -> None:
    """The instances' ``baton_sla_open_clocks`` add up to the open clocks in the database: each
    counts the clocks of the partitions it owns (the dashboards ``sum()`` over instances)."""
    seen: list[tuple[float, int]] = []

    async def agree() -> bool:
        conn = await asyncpg.connect(isolated.dsn)
        try:
            stored = await conn.fetchval(
                "SELECT count(*) FROM sla_clock.clocks WHERE status <> 'stopped'"
            )
        finally:
            await conn.close()
        shown = sum([open_clocks_shown(await _metrics(sp)) for sp in instances])
        seen[:] = [(shown, stored)]
        return bool(stored) and shown == stored

    await polled(agree, lambda: f"open clocks shown / stored: {seen}", timeout=30)


async def test_a_second_instance_joining_and_leaving_shares_the_work_and_doubles_nothing(
    isolated: Isolated, tmp_path: Path
) -> None:
    """One consumer group, one database: instance B joins mid-storm (a rebalance hands it
    partitions and their timers) and leaves again (they move back). Every threshold fires
    once, both instances fired some, nothing is published twice, and the open-clock gauges
    count each clock once across the instances."""
    # its clock stands at the start while B joins
    events, half, _, until, expected, clock, env = storm(isolated, tmp_path)
    expected_fires = {k for k in expected if is_fire(k)}
    a = await started(env, tmp_path / "a", ["sla-clock"])
    b: ServiceProcs | None = None
    try:
        await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", events[:half])
        await consumed(isolated)  # A stored the first half's timers: B's join takes some over
        b = await started(env, tmp_path / "b", ["sla-clock"])
        await group_members(isolated, "sla-clock", 2)  # B holds partitions and their timers
        await each_open_clock_shown_once(isolated, a, b)
        async with TopicReader(isolated.infra.bootstrap, f"{isolated.prefix}sla") as sla:
            clock.run(900.0)  # a quarter of a contract hour per real second
            await publish(isolated.infra.bootstrap, f"{isolated.prefix}incidents", events[half:])
            b_fired = 0.0
            async with asyncio.timeout(60):  # B fires its share meanwhile
                while not b_fired:
                    b_fired = fired_count(await _metrics(b))
                    await asyncio.sleep(0.1)
            stop_services(b)  # graceful leave: its partitions, and their timers, go back to A
            clock.stand(until)
            await all_due_fired(isolated, until)
            await sla.to_end()
            got = sla.events()
        a_fired = fired_count(await _metrics(a))
        await each_open_clock_shown_once(isolated, a)  # B's partitions came back to A
    finally:
        stop_services(a)
        if b:
            stop_services(b)
    assert {key(e) for e in got} == set(expected)
    assert len(got) == len({e.id for e in got}) == len(expected)  # nothing published twice
    assert {key(e): e.id for e in got} == {k: i for k, (i, _) in expected.items()}
    # both did part of the work (B's count is read just before it leaves, so it is a floor)
    assert b_fired > 0
    assert 0 < a_fired <= len(expected_fires) - b_fired
    print(f"scale-out: A fired {a_fired:.0f}, B fired {b_fired:.0f} of {len(expected_fires)}")


# --------------------------------------------------------------------------- upgrade


async def test_clocks_of_the_walking_skeleton_keep_their_breach_after_the_upgrade(
    isolated: Isolated, tmp_path: Path
) -> None:
    migrations = factories.ROOT / "services" / "sla-clock" / "sla_clock" / "migrations"
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
