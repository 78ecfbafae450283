"""Check-ins on the real broker and database, with contract time running fast in sla-clock.

The night of 16 December 2026 (Independence Day in Kazakhstan, a holiday of the contract's
``office`` calendar) in Asia/Almaty: three jobs are expected at 02:00. The bank exchange is
expected every night and reports nothing; the nightly 1C job skips the ``office`` calendar's
holidays; directory sync lies in a maintenance window. Exactly one incident opens — the bank
exchange's, at 02:00 + 30 min local — and a late ping resolves its alert (monitoring recovery).
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson

from shared.checkins import Duty, derive_key, expectations
from shared.contract import Contract, load_contract
from shared.events import (
    CheckinPingV1,
    DeadLetterV1,
    EventType,
    IncidentOpenedV1,
    make_event,
)
from tests import factories
from tests.integration.conftest import Isolated, ServiceProcs, started, stop_services
from tests.integration.helpers import QUICK_REBALANCE, polled, timers_fired, wait_consumed
from tests.integration.test_sla_clock import (
    ContractClock,
    TopicReader,
    group_members,
    publish,
    sla_clock_env,
)

ALMATY = ZoneInfo("Asia/Almaty")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=ALMATY)


def write_contract(folder: Path) -> tuple[Path, Contract]:
    doc = load_contract(factories.MINIMAL).model_dump(mode="json")
    nightly = {"cron": "0 2 * * *", "timezone": "Asia/Almaty", "grace": "30m"}
    for obj in doc["objects"]:
        if obj["id"] == "bank-exchange":
            obj["schedule"] = nightly
        obj.pop("backup", None)  # only the nightly runs are watched here
    common = {
        "kind": "scheduled_task",
        "layer": "integration",
        "criticality": "medium",
        "executor": "apps",
        "owner": "customer/it-head",
    }
    doc["objects"] += [
        {
            "id": "job-1c-nightly",
            "name": "1C nightly closing",
            **common,
            "schedule": {**nightly, "skip_holidays": "office"},
        },
        {"id": "dir-sync", "name": "Directory sync", **common, "schedule": nightly},
    ]
    doc["maintenance_windows"] = [
        {
            "id": "directory-upgrade",
            "objects": ["dir-sync"],
            "approved_by": "customer/it-head",
            "start": local(16, 1).isoformat(),
            "end": local(16, 4).isoformat(),
        }
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "checkin-contract.yaml"
    path.write_bytes(orjson.dumps(doc))  # JSON is YAML
    return path, load_contract(path)


def key_of(contract: Contract, object_id: str, secret: str) -> str:
    return next(
        e.key
        for e in expectations(contract, secret)
        if e.object_id == object_id and e.duty is Duty.RUN
    )


def alerts_in(reader: TopicReader) -> list[dict[str, Any]]:
    """Generic-format alerts read from the raw alerts topic, each with its record's timestamp."""
    return [
        {**alert, "_ts": r.timestamp}
        for r in reader.records
        for alert in orjson.loads(r.value)["alerts"]
    ]


async def planned(isolated: Isolated, due: datetime) -> None:
    """Wait until the watchdog planned a run whose deadline (expected time + grace) is ``due``."""
    conn = await asyncpg.connect(isolated.dsn)
    try:
        await polled(
            lambda: conn.fetchval(
                "SELECT count(*) FROM sla_clock.checkin_timers WHERE fired_at IS NULL AND due = $1",
                due,
            ),
            f"the watchdog planned no run due {due} in 60 s",
        )
    finally:
        await conn.close()


async def test_a_missed_night_run_opens_one_incident_at_grace_and_a_late_ping_resolves_it(
    isolated: Isolated, tmp_path: Path
) -> None:
    path, contract = write_contract(tmp_path)
    # contract time stands at 01:00 while the services start and the watchdog plans the night's
    # runs, then runs from 02:25 at a quarter of an hour per real second
    clock = ContractClock(tmp_path, local(16, 1))
    speed = 900.0
    due = local(16, 2, 30)
    env = sla_clock_env(isolated, path, clock)
    sp = await started(env, tmp_path / "svc", ["sla-clock", "intake"])
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    secret = env.credentials().checkin_secret  # sla-clock's share of the credentials
    try:
        await planned(isolated, due)
        await group_members(isolated, "sla-clock.checkins", 1)  # it fires for the whole topic
        async with (
            TopicReader(bootstrap, f"{prefix}incidents") as incidents,
            TopicReader(bootstrap, f"{prefix}alerts.raw") as raw,
        ):
            clock.run(speed, local(16, 2, 25))
            await incidents.until(
                lambda: any(e.type is EventType.INCIDENT_OPENED for e in incidents.events()),
                "an incident",
            )
            incident = next(e for e in incidents.events() if e.type is EventType.INCIDENT_OPENED)
            data = incident.data_as(IncidentOpenedV1)
            assert data.object_id == "bank-exchange"
            assert data.category.value == "integration_issue"
            assert data.first_alert_at == due  # expected time + grace, in the object's zone
            assert "2026-12-16 02:00 +05" in data.summary
            assert "last seen run: never" in data.summary

            # the bank's file arrives late: the run pings, the alert resolves
            async with httpx.AsyncClient() as client:
                url = sp.urls["sla-clock"]
                assert (await client.post(f"{url}/ping/{'x' * 20}")).status_code == 404
                # the key an outsider rebuilds from the contract (issue 25) reports nothing
                public = derive_key(contract, "bank-exchange", Duty.RUN)
                assert (await client.post(f"{url}/ping/{public}")).status_code == 404
                log = b"file received late\n" * 5000  # 95 kB: the run's log is kept, bounded
                reply = await client.post(
                    f"{url}/ping/{key_of(contract, 'bank-exchange', secret)}", content=log
                )
                assert reply.status_code == 200, reply.text
            await incidents.until(
                lambda: any(e.type is EventType.ALERT_RESOLVED for e in incidents.events()),
                "the resolved alert",
            )
            # every due check-in timer fired, every ping applied and every alert handled by
            # intake's two stages: what they published is all there is (no settle time)
            await timers_fired(isolated.dsn, "sla_clock.checkin_timers", clock.now())
            await wait_consumed(
                bootstrap,
                {
                    f"{prefix}sla-clock.checkins": f"{prefix}checkins",
                    f"{prefix}intake.raw": f"{prefix}alerts.raw",
                    f"{prefix}intake.alerts": f"{prefix}alerts",
                },
            )
            await incidents.to_end()
            await raw.to_end()
        events = incidents.events()
        assert [e.subject for e in events if e.type is EventType.INCIDENT_OPENED] == [
            incident.subject
        ]
        assert not any(e.type is EventType.INCIDENT_CLOSED for e in events)  # the customer confirms
        # the holiday and the maintenance window suppressed the other two: only one alert fired
        alerts = alerts_in(raw)
        assert [(a["fingerprint"], a["status"]) for a in alerts] == [
            ("bank-exchange/run", "firing"),
            ("bank-exchange/run", "resolved"),
        ]
        # the watchdog published it when its contract time reached the deadline (a few ticks)
        fired_at = clock.at(alerts[0]["_ts"] / 1000)
        assert due <= fired_at <= due + timedelta(seconds=3 * speed), fired_at
        assert clock.now() < local(17, 2)  # the next night is not judged yet
        conn = await asyncpg.connect(isolated.dsn)
        try:
            kept = await conn.fetchval("SELECT body FROM sla_clock.checkin_pings")
        finally:
            await conn.close()
        assert kept == log[:10_000].decode()
        # the dashboard's series: last run, next expected, not overdue, not failing
        series: dict[str, float] = {}
        async with httpx.AsyncClient() as client:
            for _ in range(50):  # refreshed by the watchdog's tick
                metrics = (await client.get(f"{sp.urls['sla-clock']}/metrics")).text
                series = {
                    line.split("{")[0]: float(line.rsplit(" ", 1)[1])
                    for line in metrics.splitlines()
                    if line.startswith("baton_checkin_") and 'checkin="bank-exchange/run"' in line
                }
                if series.get("baton_checkin_last_success_timestamp_seconds", 0) > 0:
                    break
                await asyncio.sleep(0.2)
        # the watchdog's view, for reader tokens only: the suppressed runs are next expected
        # the next night
        async with httpx.AsyncClient() as client:
            anonymous = await client.get(f"{sp.urls['sla-clock']}/v1/checkins")
            assert anonymous.status_code == 401
        async with httpx.AsyncClient(auth=env.auth()) as client:
            view = {
                r["checkin"]: r
                for r in (await client.get(f"{sp.urls['sla-clock']}/v1/checkins")).json()
            }
        assert {k: datetime.fromisoformat(v["expected_at"]) for k, v in view.items()} == {
            "bank-exchange/run": local(17, 2),
            "job-1c-nightly/run": local(17, 2),
            "dir-sync/run": local(17, 2),
        }
        assert not any(v["failing"] for v in view.values())  # suppressed, resolved
        assert view["dir-sync/run"]["last_success"] is None
        assert series["baton_checkin_down"] == 0
        assert series["baton_checkin_last_success_timestamp_seconds"] > due.timestamp()
        assert series["baton_checkin_next_expected_timestamp_seconds"] == local(17, 2).timestamp()
        assert series["baton_checkin_overdue_seconds"] == 0
    finally:
        stop_services(sp)


async def test_a_deadline_that_falls_due_while_the_watchdog_is_killed_fires_once_after_restart(
    isolated: Isolated, tmp_path: Path
) -> None:
    path, contract = write_contract(tmp_path)
    due, restart_at = local(16, 2, 30), local(16, 2, 45)
    clock = ContractClock(tmp_path, local(16, 1))  # stands at 01:00 while the first one plans
    env = sla_clock_env(isolated, path, clock, **QUICK_REBALANCE)  # the killed one drops in 6 s
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    first = await started(env, tmp_path / "first", ["sla-clock"])
    second: ServiceProcs | None = None
    try:
        await planned(isolated, due)  # the night's run is awaited: a timer row exists
        first.procs["sla-clock"].send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.procs["sla-clock"].wait, 30)
        clock.stand(restart_at)  # contract time passes 02:30 while nothing runs
        second = await started(env, tmp_path / "second", ["sla-clock"])
        async with (
            TopicReader(bootstrap, f"{prefix}alerts.raw") as raw,
            TopicReader(bootstrap, f"{prefix}deadletter") as dead,
        ):
            await raw.until(lambda: len(alerts_in(raw)) >= 1, "the missed run's alert")
            await timers_fired(isolated.dsn, "sla_clock.checkin_timers", restart_at)
            await raw.to_end()  # fired once: nothing more can come
            alerts = alerts_in(raw)
            assert [
                (a["fingerprint"], a["status"], datetime.fromisoformat(a["starts_at"]))
                for a in alerts
            ] == [("bank-exchange/run", "firing", due)]
            # published by the second process, after the deadline
            fired_at = clock.at(alerts[0]["_ts"] / 1000)
            assert fired_at >= restart_at

            # a run that speaks Kafka reports on the checkins topic; an unknown key is
            # dead-lettered
            now = clock.now()
            pings = [
                make_event(
                    CheckinPingV1(key=key, kind="success", at=now, body="statements fetched"),
                    source="bank-job",
                    time=now,
                )
                for key in (
                    "not-a-known-key",
                    derive_key(contract, "bank-exchange", Duty.RUN),  # rebuilt from the contract
                    key_of(contract, "bank-exchange", env.credentials().checkin_secret),
                )
            ]
            await publish(bootstrap, f"{prefix}checkins", pings)
            await raw.until(lambda: len(alerts_in(raw)) >= 2, "the resolved alert")
            await wait_consumed(bootstrap, {f"{prefix}sla-clock.checkins": f"{prefix}checkins"})
            await raw.to_end()
            await dead.to_end()
        assert [a["status"] for a in alerts_in(raw)] == ["firing", "resolved"]
        letters = [e.data_as(DeadLetterV1) for e in dead.events()]
        assert [letter.reason for letter in letters] == ["key: unknown check-in key"] * 2
        assert not any("not-a-known-key" in letter.payload for letter in letters)  # not kept
    finally:
        stop_services(first)
        if second:
            stop_services(second)


async def test_a_batch_of_pings_is_applied_in_one_transaction(
    isolated: Isolated, tmp_path: Path
) -> None:
    """ADR 10: the pings waiting on the topic when the watchdog starts are one batch, applied in
    one transaction (every ping row written by the same transaction: one ``xmin``)."""
    path, contract = write_contract(tmp_path)
    clock = ContractClock(tmp_path, local(16, 1))
    env = sla_clock_env(isolated, path, clock)
    key = key_of(contract, "bank-exchange", env.credentials().checkin_secret)
    now = clock.now()
    pings = [
        make_event(
            CheckinPingV1(key=key, kind=kind, at=now - timedelta(minutes=9 - i), body=f"step {i}"),
            source="bank-job",
            time=now,
            subject=key,  # keyed by the check-in key, as the receiver keys them: one partition
        )
        for i, kind in enumerate(["start", "log", "log", "success", "start", "fail"])
    ]
    await publish(isolated.infra.bootstrap, f"{isolated.prefix}checkins", pings)
    sp = await started(env, tmp_path / "svc", ["sla-clock"])
    try:
        await wait_consumed(
            isolated.infra.bootstrap,
            {f"{isolated.prefix}sla-clock.checkins": f"{isolated.prefix}checkins"},
        )
        conn = await asyncpg.connect(isolated.dsn)
        try:
            rows = await conn.fetch(
                "SELECT body, xmin::text AS tx FROM sla_clock.checkin_pings ORDER BY at"
            )
            state = await conn.fetchrow(
                "SELECT last_ping_kind, down FROM sla_clock.checkins WHERE key = $1", key
            )
        finally:
            await conn.close()
        assert [r["body"] for r in rows] == [f"step {i}" for i in range(6)]
        assert len({r["tx"] for r in rows}) == 1  # one transaction for the whole batch
        assert state is not None
        assert (state["last_ping_kind"], state["down"]) == ("fail", True)  # applied in order
    finally:
        stop_services(sp)
