"""One port over sla-clock's timer tables (ADR 61): schedule, find due, lock, mark fired.

sla-clock keeps four kinds of durable timer, each a table of rows (STYLE: "Timers that must
survive a crash are rows"): the SLA thresholds (``timers``), the update cadence
(``update_timers``), the automatic access pauses (``access_timers``) and the check-ins
(``checkin_timers``). They differ in what a row says, never in how it is kept:

* **Pending** rows have ``fired_at IS NULL``; a row is *due* once ``due <= now``.
* **Due** rows are read for the partitions this instance owns (``part``), oldest first, locked
  ``FOR UPDATE SKIP LOCKED``: two instances (or two ticks) never fire one row, and a row fired
  meanwhile no longer matches.
* **Fired** rows are marked in the transaction that published what they caused, with the event's
  id where the table keeps one, and only while still pending (the fence): a fired row is never
  rewritten, so each timer fires once ever, whatever is replayed.
* **Scheduling** inserts ``ON CONFLICT DO NOTHING`` (a fired row keeps its primary key, so the
  same timer is not re-created) and **cancelling** deletes only pending rows.

One ``TimerTable`` per table says which columns a row has, which of them identify it and how a
row becomes the service's timer value; ``tests/integration/test_timer_port.py`` is the one suite
every table passes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from shared.db import Conn

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TimerTable(Generic[T]):
    """The timer rows of one table, read as ``T``."""

    name: str
    columns: tuple[str, ...]
    """What a row holds (read back into ``T``), ``part`` included; written by ``schedule``."""
    key: tuple[str, ...]
    """The columns that identify a row (its primary key)."""
    subject: str
    """The column naming whose timers they are (an incident, a check-in key)."""
    read: Callable[[Mapping[str, Any]], T]
    """A row as the timer it was written from (without ``part`` unless ``reads_part``)."""
    reads_part: bool = False
    keeps_event_id: bool = False
    """Whether fired rows keep the id of the event they caused."""
    write: Callable[[T, int], tuple[object, ...]] | None = None
    """A timer and its partition as the values of ``columns`` (default: its attributes)."""

    def key_of(self, timer: T) -> tuple[object, ...]:
        return tuple(getattr(timer, c) for c in self.key)

    def values(self, timer: T, part: int) -> tuple[object, ...]:
        if self.write is not None:
            return self.write(timer, part)
        return tuple(part if c == "part" else getattr(timer, c) for c in self.columns)

    async def due(
        self,
        conn: Conn,
        now: datetime,
        *,
        partitions: Sequence[int] | None = None,
        subjects: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[T]:
        """Pending rows due by ``now`` of ``partitions`` (or of ``subjects``), oldest first,
        locked for this transaction; rows another transaction holds are skipped."""
        where, args = self._due_where(now, partitions, subjects)
        rows = await conn.fetch(
            f"SELECT {', '.join(self.columns)} FROM {self.name} WHERE {where}"  # noqa: S608
            f" ORDER BY due{_limit(limit, args)} FOR UPDATE SKIP LOCKED",
            *args,
        )
        return [
            self.read({k: v for k, v in r.items() if k != "part" or self.reads_part}) for r in rows
        ]

    async def due_subjects(
        self, conn: Conn, now: datetime, *, partitions: Sequence[int], limit: int
    ) -> list[str]:
        """Whose rows are due (unlocked: for a caller that must lock something else first)."""
        where, args = self._due_where(now, partitions, None)
        rows = await conn.fetch(
            f"SELECT DISTINCT {self.subject} FROM {self.name} WHERE {where}"  # noqa: S608
            f"{_limit(limit, args)}",
            *args,
        )
        return sorted(str(r[self.subject]) for r in rows)

    async def mark_fired(
        self, conn: Conn, fired: Sequence[tuple[T, uuid.UUID | None]], now: datetime
    ) -> None:
        """Mark ``fired`` (each with the event it caused) fired at ``now``, if still pending."""
        if not fired:
            return
        first = 3 if self.keeps_event_id else 2
        match = " AND ".join(f"{c} = ${i}" for i, c in enumerate(self.key, start=first))
        event = ", event_id = $2" if self.keeps_event_id else ""
        await conn.executemany(
            f"UPDATE {self.name} SET fired_at = $1{event}"  # noqa: S608
            f" WHERE {match} AND fired_at IS NULL",
            [
                (now, eid, *self.key_of(t)) if self.keeps_event_id else (now, *self.key_of(t))
                for t, eid in fired
            ],
        )

    async def schedule(self, conn: Conn, timers: Sequence[tuple[T, int]]) -> None:
        """Add ``timers`` (each with its partition); one that exists, pending or fired, stays."""
        if not timers:
            return
        slots = ", ".join(f"${i}" for i in range(1, len(self.columns) + 1))
        await conn.executemany(
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({slots})"  # noqa: S608
            " ON CONFLICT DO NOTHING",
            [self.values(t, part) for t, part in timers],
        )

    async def cancel(self, conn: Conn, subjects: Sequence[str], **only: Sequence[str]) -> None:
        """Drop the pending rows of ``subjects`` (of the values ``only`` names per column);
        fired rows stay."""
        if not subjects:
            return
        extra = "".join(f" AND {c} = ANY(${i}::text[])" for i, c in enumerate(only, start=2))
        await conn.execute(
            f"DELETE FROM {self.name} WHERE {self.subject} = ANY($1::text[])"  # noqa: S608
            f"{extra} AND fired_at IS NULL",
            sorted(subjects),
            *(list(v) for v in only.values()),
        )

    def _due_where(
        self,
        now: datetime,
        partitions: Sequence[int] | None,
        subjects: Sequence[str] | None,
    ) -> tuple[str, list[object]]:
        where = ["fired_at IS NULL", "due <= $1"]
        args: list[object] = [now]
        if partitions is not None:
            args.append(list(partitions))
            where.append(f"part = ANY(${len(args)}::int[])")
        if subjects is not None:
            args.append(sorted(subjects))
            where.append(f"{self.subject} = ANY(${len(args)}::text[])")
        return " AND ".join(where), args


def _limit(limit: int | None, args: list[object]) -> str:
    if limit is None:
        return ""
    args.append(limit)
    return f" LIMIT ${len(args)}"


def table(
    timer: type[T],
    name: str,
    key: tuple[str, ...],
    *,
    subject: str | None = None,
    read: Callable[[Mapping[str, Any]], T] | None = None,
    write: Callable[[T, int], tuple[object, ...]] | None = None,
    keeps_event_id: bool = False,
) -> TimerTable[T]:
    """The table ``name`` whose rows are the fields of the dataclass ``timer`` and the
    partition; ``subject`` is the first key column unless named."""
    names = tuple(f.name for f in fields(cast("Any", timer)))
    return TimerTable(
        name=name,
        columns=names if "part" in names else (*names, "part"),
        key=key,
        subject=subject or key[0],
        read=read or (lambda r: timer(**r)),
        reads_part="part" in names,
        keeps_event_id=keeps_event_id,
        write=write,
    )


async def drain(fire_batch: Callable[[int], Awaitable[int]], batch: int) -> int:
    """Call ``fire_batch(batch)`` until a batch comes back short; how many fired in all."""
    total = 0
    while True:
        fired = await fire_batch(batch)
        total += fired
        if fired < batch:
            return total
