"""The action API's wait for a verdict: released by the commands consumer, not by polling."""

from __future__ import annotations

import asyncio
import uuid

from intake.verdicts import Outcome, Verdicts

PARTY = "dbms"


class Recorded:
    """A fake ``command_outcomes`` table that counts its round trips."""

    def __init__(self) -> None:
        self.rows: dict[tuple[uuid.UUID, str], Outcome] = {}
        self.lookups = 0

    async def lookup(self, command_id: uuid.UUID, party: str) -> Outcome | None:
        self.lookups += 1
        return self.rows.get((command_id, party))


def waiter(fallback_seconds: float) -> tuple[Recorded, Verdicts, uuid.UUID]:
    """An empty verdict table, the waits over it (reading it every ``fallback_seconds``) and
    a new command."""
    table = Recorded()
    return table, Verdicts(table.lookup, fallback_seconds=fallback_seconds), uuid.uuid4()


async def test_the_wait_is_released_by_the_consumer_without_a_database_round_trip() -> None:
    table, verdicts, command = waiter(30)
    waiting = asyncio.create_task(verdicts.wait(command, PARTY, 5))
    await asyncio.sleep(0.01)
    verdicts.settle(
        [((uuid.uuid4(), PARTY), (202, "", "other")), ((command, PARTY), (409, "no", "d"))]
    )
    assert await asyncio.wait_for(waiting, 1) == (409, "no", "d")
    assert table.lookups == 0
    # a verdict settled before the HTTP path starts waiting is answered from memory too
    early = uuid.uuid4()
    verdicts.settle([((early, PARTY), (202, "", "e"))])
    assert await verdicts.wait(early, PARTY, 5) == (202, "", "e")
    assert table.lookups == 0


async def test_another_instances_verdict_is_read_at_the_fallback_rate() -> None:
    table, verdicts, command = waiter(0.05)
    waiting = asyncio.create_task(verdicts.wait(command, PARTY, 5))
    await asyncio.sleep(0.12)
    table.rows[command, PARTY] = (202, "", "d")  # another instance's consumer recorded it
    assert await asyncio.wait_for(waiting, 1) == (202, "", "d")
    assert 2 <= table.lookups <= 6  # every 50 ms, not every 20 ms


async def test_a_command_seen_again_is_read_at_once_and_none_after_the_deadline() -> None:
    table, verdicts, command = waiter(30)
    table.rows[command, PARTY] = (403, "rights", "d")  # decided before: an idempotent retry
    waiting = asyncio.create_task(verdicts.wait(command, PARTY, 5))
    await asyncio.sleep(0.01)
    verdicts.recheck([(command, PARTY)])
    assert await asyncio.wait_for(waiting, 1) == (403, "rights", "d")
    assert table.lookups == 1
    # nobody decides: None at the deadline, after one last look
    assert await Verdicts(table.lookup, fallback_seconds=30).wait(uuid.uuid4(), PARTY, 0.05) is None
