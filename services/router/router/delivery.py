"""Delivery: every router event goes to the shared ``assignments`` topic (reporting's timeline,
operators) and to the own topic of each party it concerns (``<prefix>assignments.<party>``),
so that Kafka ACLs can give each contractor its own messages and nothing else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from faststream.kafka import KafkaBroker

from router.escalation import recipients
from shared.events import Envelope
from shared.kafka import Outbox, create_party_topics, publish_events
from shared.settings import Settings
from shared.topics import Topic, party_topic_name

log = logging.getLogger(__name__)


class Delivery:
    """Publishes router events; creates a party's topic the first time it is needed."""

    def __init__(self, broker: KafkaBroker, settings: Settings) -> None:
        self._broker = broker
        self._settings = settings
        self._shared = settings.topic(Topic.ASSIGNMENTS)
        self._ready: set[str] = set()
        self._invalid: set[str] = set()
        self._lock = asyncio.Lock()

    def deliverable(self, party: str) -> bool:
        """Whether ``party`` can have a topic; a contract party id that cannot name one is
        logged once (naming the field) and gets its messages on the shared topic only."""
        if party in self._invalid:
            return False
        reason = None
        try:
            party_topic_name(self._settings.topic_prefix, party)
        except ValueError as exc:
            reason = str(exc)
        if reason is not None:
            self._invalid.add(party)
            log.error("no party topic", extra={"party": party, "reason": reason})
            return False
        return True

    async def ensure(self, parties: Iterable[str]) -> None:
        missing = sorted({p for p in parties if self.deliverable(p)} - self._ready)
        if not missing:
            return
        async with self._lock:
            missing = sorted(set(missing) - self._ready)
            if missing:
                await create_party_topics(self._settings, missing)
                self._ready.update(missing)

    async def _per_party(
        self, events: list[Envelope], coordinator: str
    ) -> dict[str, list[Envelope]]:
        """``events`` by the deliverable party each goes to, their topics created first."""
        per_party: dict[str, list[Envelope]] = {}
        for event in events:
            for party in recipients(event, coordinator):
                if self.deliverable(party):
                    per_party.setdefault(party, []).append(event)
        await self.ensure(per_party)
        return per_party

    async def stage(self, outbox: Outbox, events: list[Envelope], coordinator: str) -> None:
        """Queue ``events`` on ``outbox`` as ``send`` would publish them (the party topics are
        created first when missing); the caller flushes the outbox."""
        per_party = await self._per_party(events, coordinator)
        prefix = self._settings.topic_prefix
        outbox.extend(self._shared, events)
        for party, batch in per_party.items():
            outbox.extend(party_topic_name(prefix, party), batch)

    async def send(self, events: list[Envelope], coordinator: str) -> None:
        """Every event to the shared topic (in order), then to each party concerned."""
        per_party = await self._per_party(events, coordinator)
        prefix = self._settings.topic_prefix

        await asyncio.gather(
            publish_events(self._broker, self._shared, events),
            *(
                publish_events(self._broker, party_topic_name(prefix, party), batch)
                for party, batch in per_party.items()
            ),
        )
