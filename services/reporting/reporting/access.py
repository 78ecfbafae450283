"""Who may read what from reporting: the read-side mirror of the per-party topics.

With ``BATON_REPORTING_READER_TOKENS`` set (reader -> token; a reader is a party id of the
contract or ``operator``), every read needs ``Authorization: Bearer <token>``: an operator or a
customer party sees every incident and report; a contractor sees only the incidents it is or was
assigned to (primary, coordinator, a check, a handover, an escalation), only its own rows of the
SLA report, and no monthly report (it covers every contractor). Without the setting the read
side is open, as it was — say so in the deployment (README, Security).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request

from reporting import store
from shared.contract import Contract
from shared.db import Conn
from shared.settings import Settings, matches

OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads; ``party`` is None for a reader who sees everything."""

    name: str
    party: str | None


EVERYONE = Reader(name="(read side open)", party=None)


def reader(request: Request, settings: Settings, contract: Contract) -> Reader:
    """The reader behind ``request``'s bearer token, or 401 naming why not."""
    tokens = settings.reporting_reader_tokens
    if not tokens:
        return EVERYONE
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise HTTPException(
            401, "a reader token is required (Authorization: Bearer ...)",
            headers={"www-authenticate": 'Bearer realm="baton"'},
        )  # fmt: skip
    name = next((n for n, t in tokens.items() if matches(given.strip(), t)), None)
    if name is None:
        raise HTTPException(401, "the reader token matches no reader")
    party = contract.parties.get(name)
    sees_all = name == OPERATOR or (party is not None and party.kind == "customer")
    return Reader(name=name, party=None if sees_all else name)


async def may_see(conn: Conn, who: Reader, incident_id: str) -> bool:
    if who.party is None:
        return True
    return await store.assigned(conn, incident_id, who.party)
