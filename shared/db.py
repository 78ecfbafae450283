"""PostgreSQL plumbing: one pool per service, its own schema, migrations applied on start."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import asyncpg
from pydantic import BaseModel

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    Conn = Any

log = logging.getLogger(__name__)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
M = TypeVar("M", bound=BaseModel)

# Errors that mean "the database is not there right now", not "the request is wrong".
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError (connect or acquire) is one too
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # e.g. the pool closing, a connection lost mid-query
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
)


DEFAULT_COMMAND_TIMEOUT = 10.0


async def create_pool(
    dsn: str, schema: str, command_timeout: float = DEFAULT_COMMAND_TIMEOUT
) -> asyncpg.Pool:
    """A pool whose connections see ``schema`` first; the schema is created if missing.

    Every call on its connections waits at most ``command_timeout`` (asyncpg raises
    ``TimeoutError``, one of ``DATABASE_UNAVAILABLE``), and the server ends a statement a little
    before that (``statement_timeout``): a frozen or overloaded PostgreSQL is an unavailable one,
    never a request or a consumer held for the whole outage (ADR 36)."""
    if not _IDENT.match(schema):
        raise ValueError(f"schema: {schema!r} is not a plain lower-case identifier")
    conn = await asyncpg.connect(dsn, timeout=command_timeout, command_timeout=command_timeout)
    try:
        # IF NOT EXISTS is not safe against a concurrent creator (two instances starting on a
        # fresh database): serialise on a transaction-scoped advisory lock.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"schema:{schema}")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    finally:
        await conn.close()
    # connect timeout: a database that hangs makes a request fail (503) in seconds, not minutes
    statement_ms = max(int(command_timeout * 900), 1)  # the server gives up first
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=5,
        timeout=10,
        command_timeout=command_timeout,
        server_settings={"search_path": schema, "statement_timeout": str(statement_ms)},
    )


def _migrations(folder: Path) -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.sql"))]


async def migrate(pool: asyncpg.Pool, folder: Path) -> list[str]:
    """Apply ``folder/*.sql`` in name order, each once, each in its own transaction."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        # One migrator at a time, even with several instances starting together; the lock
        # comes first, since CREATE TABLE IF NOT EXISTS races with a concurrent creator too.
        await conn.execute("SELECT pg_advisory_lock(hashtext(current_schema()))")
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for name, sql in _migrations(folder):
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations(name) VALUES ($1)", name)
                applied.append(name)
                log.info("migration applied", extra={"migration": name})
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext(current_schema()))")
    return applied


async def mark_processed(conn: Conn, consumer: str, event_id: object) -> bool:
    """Record that ``consumer`` handled ``event_id``; False if it already had.

    Call it inside the transaction that holds the effect, so an effect and its record commit
    together and redelivery is harmless.
    """
    status: str = await conn.execute(
        "INSERT INTO processed_events(consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        consumer,
        event_id,
    )
    return status.endswith(" 1")


async def mark_processed_many(
    conn: Conn, consumer: str, event_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Record that ``consumer`` handled ``event_ids`` (one statement); returns those it had
    not handled yet. Same transaction rule as ``mark_processed``."""
    rows = await conn.fetch(
        "INSERT INTO processed_events(consumer, event_id) SELECT $1, unnest($2::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        event_ids,
    )
    return {r["event_id"] for r in rows}


async def lock_incident_documents(
    conn: Conn, table: str, column: str, incident_ids: list[str], model: type[M]
) -> dict[str, M]:
    """The JSON ``column`` of ``table``'s rows of ``incident_ids`` that exist, read as ``model``
    and locked for this transaction in id order: every batch locks in that order, so two
    batches over the same incidents wait for each other instead of deadlocking."""
    if not (_IDENT.match(table) and _IDENT.match(column)):
        raise ValueError(f"{table}.{column}: not a plain lower-case identifier")
    rows = await conn.fetch(
        f"SELECT incident_id, {column} AS document FROM {table}"  # noqa: S608 (checked names)
        " WHERE incident_id = ANY($1::text[]) ORDER BY incident_id FOR UPDATE",
        incident_ids,
    )
    return {r["incident_id"]: model.model_validate_json(r["document"]) for r in rows}
