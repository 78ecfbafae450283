"""The one background tick loop of the services: rounds of work every ``every`` seconds.

A round that fails is logged and tried again at the next tick (the loop outlives it); the
rounds of one tick run in order, each on its own, so one failing does not starve the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Round = Callable[[], Awaitable[object]]


class Ticker:
    """``start()`` in a service's on_start, ``await stop()`` in its on_stop."""

    def __init__(self, name: str, every: float, *rounds: tuple[str, Round]) -> None:
        self.name = name
        self.every = every
        self.rounds = rounds
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def tick(self) -> None:
        """One tick: every round once, in order."""
        for label, round_ in self.rounds:
            try:
                await round_()
            except Exception:  # the ticker must outlive a failed round; it retries next tick
                log.exception("%s failed; retrying at the next tick", label)

    async def _forever(self) -> None:
        while not self._stopping.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.every)

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._forever(), name=self.name)

    async def stop(self, grace: float = 10.0) -> None:
        """Ends the loop after the tick under way: a round cut off between its publish and its
        commit (sla-clock firing a timer, the router an escalation) would be done again by the
        instance that takes the work over, and the same event published twice. A tick still
        running after ``grace`` seconds is cancelled."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
