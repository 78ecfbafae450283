"""``shared.db.lock_incident_documents``: the one read of per-incident JSON documents (router
routes, sla-clock records) locked in id order. Table and column names go into the SQL text, so
anything but a plain identifier is refused before a statement is sent."""

from __future__ import annotations

from typing import Any, cast

import pytest

from shared.db import lock_incident_documents
from shared.model import Model


class Doc(Model):
    n: int


class FakeConn:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        self.sent.append((query, args))
        return self.rows


async def test_reads_each_document_as_the_model_keyed_by_incident() -> None:
    conn = FakeConn([{"incident_id": "inc-1", "document": '{"n": 1}'}])
    got = await lock_incident_documents(cast(Any, conn), "routes", "state", ["inc-1", "inc-2"], Doc)
    assert got == {"inc-1": Doc(n=1)}
    [(query, args)] = conn.sent
    assert "SELECT incident_id, state AS document FROM routes" in query
    assert query.endswith("ORDER BY incident_id FOR UPDATE")
    assert args == (["inc-1", "inc-2"],)


@pytest.mark.parametrize(
    ("table", "column"), [("routes; DROP TABLE routes", "state"), ("routes", "state, secret")]
)
async def test_refuses_a_name_that_is_not_a_plain_identifier(table: str, column: str) -> None:
    conn = FakeConn([])
    with pytest.raises(ValueError, match="not a plain lower-case identifier"):
        await lock_incident_documents(cast(Any, conn), table, column, ["inc-1"], Doc)
    assert conn.sent == []
