"""Who reads: a reader token (``BATON_REPORTING_READER_TOKENS``: a contract party or
``operator``) names the reader; an operator or a customer party sees everything, a contractor
what is its own. Reporting's read API and sla-clock's check-in status ask this module."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request

from shared.contract import Contract
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
