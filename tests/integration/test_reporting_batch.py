"""Reporting projects a batch as it projects its events one at a time (issue 28): the clock
events of a batch are read, applied in order and written together, a run of assignments is one
update, and the read model ends the same — on the demo month, whose clocks start, pause,
resume, breach and stop, and whose incidents are assigned, handed over and closed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reporting.store import CLOCK_EVENTS, project, project_many, record_many

from shared.db import create_pool, migrate
from shared.events import (
    AssignmentIssuedV3,
    AssignmentRole,
    Category,
    Envelope,
    Layer,
    make_event,
)
from tests.demo_month import demo_month
from tests.factories import opened
from tests.integration.conftest import Infra, isolated_slice

MIGRATIONS = (
    Path(__file__).resolve().parents[2] / "services" / "reporting" / "reporting" / "migrations"
)

Projection = Callable[[Any, list[Envelope]], Awaitable[None]]


async def _one_at_a_time(conn: Any, events: list[Envelope]) -> None:
    for event in events:
        await project(conn, event)


async def _read_model(infra: Infra, events: list[Envelope], projection: Projection) -> list[Any]:
    async with isolated_slice(infra) as isolated:
        pool = await create_pool(isolated.dsn, "reporting")
        try:
            await migrate(pool, MIGRATIONS)
            async with pool.acquire() as conn, conn.transaction():
                fresh = await record_many(conn, [("demo", e) for e in events])
                await projection(conn, [e for e in events if e.id in fresh])
            async with pool.acquire() as conn:
                clocks = await conn.fetch("SELECT * FROM sla_clocks ORDER BY incident_id, clock")
                incidents = await conn.fetch("SELECT * FROM incidents ORDER BY id")
            return [dict(r) for r in (*clocks, *incidents)]
        finally:
            await pool.close()


async def test_a_batch_ends_as_one_event_at_a_time(infra: Infra) -> None:
    events = demo_month()
    per_clock = Counter(
        (e.subject, getattr(e.data, "clock", None)) for e in events if e.type in CLOCK_EVENTS
    )
    assert max(per_clock.values()) >= 3  # one clock's start, pause, resume... in the batch
    batched = await _read_model(infra, events, project_many)
    assert batched == await _read_model(infra, events, _one_at_a_time)
    assert len(batched) > len(per_clock)


def _assigned(incident: str, party: str, role: AssignmentRole, at: datetime) -> Envelope:
    return make_event(
        AssignmentIssuedV3(
            party=party,
            role=role,
            layer=Layer.DBMS,
            object_id="pg-main",
            priority="P1",
            category=Category.OUTAGE,
            contact="duty@example.org",
            summary="down",
            coordinator="apps",
            contract_version="v1",
        ),
        source="router",
        time=at,
        subject=incident,
    )


async def test_an_incident_recorded_after_its_assignments_takes_their_owners(
    infra: Infra,
) -> None:
    """The assignments of another topic can come first; the incident row, written when it
    opens, takes the latest recorded primary and coordinator — and an opening seen again under
    another event id takes them again, as before the two statements became one."""
    t0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    first = [
        _assigned("inc-1", "osdb", AssignmentRole.PRIMARY, t0),
        _assigned("inc-1", "apps", AssignmentRole.COORDINATOR, t0),
        opened("inc-1", t0),
    ]
    again = [
        _assigned("inc-1", "hw", AssignmentRole.PRIMARY, t0 + timedelta(minutes=5)),
        opened("inc-1", t0),  # a new event id, the same incident
    ]
    async with isolated_slice(infra) as isolated:
        pool = await create_pool(isolated.dsn, "reporting")
        try:
            await migrate(pool, MIGRATIONS)
            owners = []
            for batch in (first, again):
                async with pool.acquire() as conn, conn.transaction():
                    await record_many(conn, [("t", e) for e in batch])
                    await project_many(conn, batch)
                    row = await conn.fetchrow("SELECT * FROM incidents WHERE id = 'inc-1'")
                    assert row is not None
                    owners.append((row["primary_party"], row["coordinator"], row["status"]))
        finally:
            await pool.close()
    assert owners == [("osdb", "apps", "open"), ("hw", "apps", "open")]
