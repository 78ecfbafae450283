"""Every contract version a service adopted, kept by content hash in the service's own schema.

The contract topic is compacted: it keeps only the newest version, so a service that must answer
for an incident opened under an older one (sla-clock's clocks, reporting's documents) keeps each
version it adopts in its ``contract_versions`` table (the same DDL in each service's migrations)
and loads them back after a restart. One component, used the same way by each: ``adopt`` on every
version the runtime adopts (``Runtime.on_contract``), ``sync`` in a transaction the service opens
anyway (stores the new ones, loads the stored ones once), then ``by_hash`` / ``by_version``.
"""

from __future__ import annotations

import orjson

from shared.contract.model import Contract
from shared.db import Conn

__all__ = ["ContractVersions"]


class ContractVersions:
    def __init__(self, in_force: Contract) -> None:
        self.known: dict[str, Contract] = {in_force.content_hash: in_force}
        """Every version seen, by content hash (shared with sla-clock's ``Rules``)."""
        self._unsaved: list[Contract] = [in_force]
        self._loaded = False

    def adopt(self, contract: Contract) -> None:
        self.known.setdefault(contract.content_hash, contract)
        self._unsaved.append(contract)

    async def sync(self, conn: Conn) -> None:
        """Store the versions adopted since the last call; load the stored ones once."""
        if not self._loaded:
            rows = await conn.fetch("SELECT document FROM contract_versions ORDER BY adopted_at")
            for row in rows:
                contract = Contract.model_validate_json(row["document"])
                self.known.setdefault(contract.content_hash, contract)
            self._loaded = True
        if self._unsaved:
            await conn.executemany(
                "INSERT INTO contract_versions(content_hash, version, document)"
                " VALUES ($1, $2, $3) ON CONFLICT (content_hash) DO NOTHING",
                [
                    (c.content_hash, c.version, orjson.dumps(c.model_dump(mode="json")).decode())
                    for c in self._unsaved
                ],
            )
            self._unsaved = []

    def by_hash(self, content_hash: str | None) -> Contract | None:
        return self.known.get(content_hash) if content_hash else None

    def by_version(self, version: str | None) -> Contract | None:
        """The last adopted version named ``version`` (versions are named once; a name
        published twice answers with the later text)."""
        found = None
        for contract in self.known.values():
            if version is not None and contract.version == version:
                found = contract
        return found
