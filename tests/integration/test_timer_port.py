"""One suite for sla-clock's timer port (ADR 61), run against every timer table.

Each table is migrated for real and driven only through ``TimerTable``: due rows of the owned
partitions oldest first, skipped while another transaction holds them, fired once (with the
event id where the table keeps one), never re-created or cancelled once fired.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sla_clock import watchdog_store
from sla_clock.access_timers import ACCESS_TIMERS, AccessTimer
from sla_clock.cadence import UpdateTimer
from sla_clock.decide import Timer
from sla_clock.store import SLA_TIMERS, UPDATE_TIMERS
from sla_clock.timer_port import TimerTable
from sla_clock.watchdog import Outcome, State
from sla_clock.watchdog import Timer as CheckinTimer
from sla_clock.watchdog_store import CHECKIN_TIMERS

from shared.db import create_pool, migrate
from shared.events import AccessRequestV1, ClockKind
from tests.integration.conftest import Isolated

MIGRATIONS = Path(__file__).resolve().parents[2] / "services/sla-clock/sla_clock/migrations"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sla_timer(subject: str, n: int, due: datetime) -> Timer:
    return Timer(subject, ClockKind.RESPONSE, n, due, due, timedelta(0), "acme", "P2", "normal")


def update_timer(subject: str, n: int, due: datetime) -> UpdateTimer:
    return UpdateTimer(subject, n, "reminder", due, due, timedelta(hours=2), None, "acme", "P2")


def checkin_timer(subject: str, n: int, due: datetime) -> CheckinTimer:
    return CheckinTimer(subject, "missed", due - timedelta(minutes=n), due)


def access_timer(subject: str, n: int, due: datetime) -> AccessTimer:
    request = AccessRequestV1.model_validate(
        {
            "request_id": f"{subject}-{n}",
            "step": "request_access",
            "status": "requested",
            "at": due - timedelta(hours=1),
            "by": "dba:ann",
            "command_id": uuid.UUID(int=n),
            "rule": "prod-db",
            "object_id": "pg-acc",
            "mode": "remote",
            "requested_by": "dba:ann",
            "requested_at": due - timedelta(hours=1),
            "issued_by": "acme/it",
            "lead_time": "PT1H",
            "due_at": due,
            "after_hours": False,
            "needs_approval": False,
        }
    )
    return AccessTimer(f"{subject}-{n}", subject, "no-access", due, 0, request)


@dataclass(frozen=True)
class Case:
    table: TimerTable[Any]
    make: Callable[[str, int, datetime], Any]


CASES = {
    "timers": Case(SLA_TIMERS, sla_timer),
    "update_timers": Case(UPDATE_TIMERS, update_timer),
    "checkin_timers": Case(CHECKIN_TIMERS, checkin_timer),
    "access_timers": Case(ACCESS_TIMERS, access_timer),
}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    """Each timer table with a maker of its rows: one suite for the port."""
    return CASES[request.param]


@pytest.fixture
async def pool(isolated: Isolated) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(isolated.dsn, "sla_clock")
    await migrate(pool, MIGRATIONS)
    try:
        yield pool
    finally:
        await pool.close()


def keys(case: Case, timers: list[Any]) -> list[tuple[object, ...]]:
    return [case.table.key_of(t) for t in timers]


async def test_due_rows_are_the_owned_partitions_pending_ones_oldest_first(
    pool: asyncpg.Pool, case: Case
) -> None:
    late = case.make("inc-a", 1, NOW - timedelta(minutes=5))
    early = case.make("inc-b", 2, NOW - timedelta(minutes=9))
    elsewhere = case.make("inc-c", 3, NOW - timedelta(minutes=9))
    later = case.make("inc-d", 4, NOW + timedelta(seconds=1))
    async with pool.acquire() as conn, conn.transaction():
        await case.table.schedule(conn, [(late, 0), (early, 0), (elsewhere, 1), (later, 0)])
        due = await case.table.due(conn, NOW, partitions=[0], limit=10)
        assert keys(case, due) == keys(case, [early, late])
        assert due[0] == early  # a row reads back as the timer it was written from
        assert keys(case, await case.table.due(conn, NOW, partitions=[0], limit=1)) == keys(
            case, [early]
        )
        assert keys(case, await case.table.due(conn, NOW, subjects=["inc-c"])) == keys(
            case, [elsewhere]
        )
        subjects = await case.table.due_subjects(conn, NOW, partitions=[0, 1], limit=10)
        assert subjects == ["inc-a", "inc-b", "inc-c"]


async def test_a_row_another_transaction_holds_is_skipped(pool: asyncpg.Pool, case: Case) -> None:
    first = case.make("inc-a", 1, NOW - timedelta(minutes=2))
    second = case.make("inc-b", 2, NOW - timedelta(minutes=1))
    async with pool.acquire() as conn:
        await case.table.schedule(conn, [(first, 0), (second, 0)])
    async with pool.acquire() as one, pool.acquire() as two, one.transaction():
        held = await one.fetch("SELECT 1")  # the connection is in its transaction
        assert held
        assert keys(case, await case.table.due(one, NOW, partitions=[0], limit=1)) == keys(
            case, [first]
        )
        async with two.transaction():
            other = await case.table.due(two, NOW, partitions=[0], limit=10)
        assert keys(case, other) == keys(case, [second])


async def test_a_fired_row_fires_once_and_is_never_recreated_or_cancelled(
    pool: asyncpg.Pool, case: Case
) -> None:
    timer = case.make("inc-a", 1, NOW - timedelta(minutes=1))
    pending = case.make("inc-a", 2, NOW + timedelta(hours=1))
    event_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await case.table.schedule(conn, [(timer, 0), (pending, 0)])
        async with conn.transaction():
            due = await case.table.due(conn, NOW, partitions=[0], limit=10)
            await case.table.mark_fired(conn, [(t, event_id) for t in due], NOW)
        assert await case.table.due(conn, NOW, partitions=[0], limit=10) == []
        # fenced: a second marking (a stale firing) does not move the first one
        await case.table.mark_fired(conn, [(timer, uuid.uuid4())], NOW + timedelta(minutes=1))
        # scheduled again (a replay) and cancelled: the fired row stays, the pending one goes
        await case.table.schedule(conn, [(timer, 0)])
        await case.table.cancel(conn, ["inc-a"])
        where = " AND ".join(f"{c} = ${i}" for i, c in enumerate(case.table.key, start=1))
        event = ", event_id" if case.table.keeps_event_id else ""
        rows = await conn.fetch(
            f"SELECT fired_at{event} FROM {case.table.name} WHERE {where}",
            *case.table.key_of(timer),
        )
        assert [r["fired_at"] for r in rows] == [NOW]
        if case.table.keeps_event_id:
            assert rows[0]["event_id"] == event_id
        left = await conn.fetchval(f"SELECT count(*) FROM {case.table.name}")
        assert left == 1
        later = NOW + timedelta(hours=2)
        assert await case.table.due(conn, later, partitions=[0], limit=10) == []


async def test_a_key_without_a_row_is_still_locked_until_its_first_state_commits(
    pool: asyncpg.Pool,
) -> None:
    """A first ping and the tick's plan of a newly watched key both find no row; the second
    waits for the first's commit and reads its state instead of overwriting it (the race that
    lost a batch's ``fail`` to a concurrent plan)."""
    first = State("k-new", "sched", NOW, NOW + timedelta(hours=1), last_ping_kind="fail", down=True)
    async with pool.acquire() as one, pool.acquire() as two:
        async with one.transaction():
            assert await watchdog_store.load_many(one, ["k-new"]) == {}

            async def second() -> dict[str, State]:
                async with two.transaction():
                    return await watchdog_store.load_many(two, ["k-new"])

            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.3)  # time enough for an unlocked read to finish
            assert not waiting.done()
            await watchdog_store.save(
                one, Outcome(first), name="job", part=0, grace=timedelta(minutes=5)
            )
        assert (await waiting)["k-new"] == first
