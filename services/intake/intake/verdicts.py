"""The action API's wait for the commands consumer's verdict, without polling PostgreSQL.

An HTTP action waits on a future per (command id, party). This instance's commands consumer
settles it once the transaction that recorded the verdict has committed; a command it saw again
(an ``Idempotency-Key`` retry, decided before) wakes the waiter to read the recorded verdict.
When another instance's consumer took the command's partition, nothing here settles it: the
waiter reads ``command_outcomes`` every ``fallback_seconds`` (a much lower rate than the 20 ms
it polled at before), and once more at its deadline (ADR 58).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import cast

Outcome = tuple[int, str, str]
"""status, reason, the digest of the action decided"""
Key = tuple[uuid.UUID, str]
"""(command id, party)"""
Lookup = Callable[[uuid.UUID, str], Awaitable[Outcome | None]]

RECHECK = object()
"""What a waiter is woken with when its command was decided before: read the recorded one."""


class Verdicts:
    def __init__(self, lookup: Lookup, *, fallback_seconds: float = 0.5, keep: int = 4096) -> None:
        self._lookup = lookup
        self._fallback = fallback_seconds
        self._keep = keep
        self._waiting: dict[Key, list[asyncio.Future[object]]] = {}
        self._recent: OrderedDict[Key, Outcome] = OrderedDict()

    def settle(self, outcomes: Iterable[tuple[Key, Outcome]]) -> None:
        """Verdicts this instance recorded (committed): their waiters get them; kept a while
        for a waiter that starts after the consumer was quicker than the HTTP path."""
        for key, outcome in outcomes:
            self._recent[key] = outcome
            self._wake(key, outcome)
        while len(self._recent) > self._keep:
            self._recent.popitem(last=False)

    def recheck(self, keys: Iterable[Key]) -> None:
        """Commands seen again, decided before: their waiters read the recorded verdict now."""
        for key in keys:
            self._wake(key, RECHECK)

    def _wake(self, key: Key, value: object) -> None:
        for future in self._waiting.get(key, []):
            if not future.done():
                future.set_result(value)

    async def wait(self, command_id: uuid.UUID, party: str, seconds: float) -> Outcome | None:
        """The verdict on ``party``'s command, or None after ``seconds``."""
        key = (command_id, party)
        if key in self._recent:
            return self._recent[key]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        future: asyncio.Future[object] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        try:
            while True:
                remaining = deadline - loop.time()
                last = remaining <= self._fallback
                try:
                    woken = await asyncio.wait_for(
                        asyncio.shield(future), max(0.0, min(self._fallback, remaining))
                    )
                except TimeoutError:
                    woken = RECHECK  # perhaps another instance decided: read what it recorded
                else:
                    last = False
                if isinstance(woken, tuple):
                    return cast(Outcome, woken)
                found = await self._lookup(command_id, party)
                if found is not None or last or loop.time() >= deadline:
                    return found
                if future.done():  # woken to recheck and not recorded yet: wait again
                    future = self._replace(key, future, loop)
        finally:
            waiters = self._waiting.get(key, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiting.pop(key, None)

    def _replace(
        self, key: Key, old: asyncio.Future[object], loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[object]:
        new: asyncio.Future[object] = loop.create_future()
        waiters = self._waiting.setdefault(key, [])
        if old in waiters:
            waiters.remove(old)
        waiters.append(new)
        return new
