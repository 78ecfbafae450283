"""Several instances starting together on a fresh database: schema and migrations once, no race."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from shared.db import create_pool, migrate
from tests.integration.conftest import Isolated

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "intake" / "intake" / "migrations"


async def test_concurrent_starts_create_the_schema_and_migrate_once(isolated: Isolated) -> None:
    async def start() -> list[str]:
        pool = await create_pool(isolated.dsn, "intake")
        try:
            return await migrate(pool, MIGRATIONS)
        finally:
            await pool.close()

    applied = await asyncio.gather(*(start() for _ in range(6)))
    expected = sorted(p.name for p in MIGRATIONS.glob("*.sql"))
    assert sorted(name for names in applied for name in names) == expected  # each exactly once
    conn = await asyncpg.connect(isolated.dsn)
    try:
        rows = await conn.fetch("SELECT name FROM intake.schema_migrations ORDER BY name")
    finally:
        await conn.close()
    assert [r["name"] for r in rows] == expected
