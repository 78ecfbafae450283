"""Webhook push: a party whose contract contact is an http(s) URL also gets its messages pushed
there, signed with HMAC-SHA256 over ``<timestamp>.<body>``.

The receiver checks ``X-Baton-Signature: sha256=<hex>`` with its secret and refuses a
``X-Baton-Timestamp`` older than its replay window; ``X-Baton-Event-Id`` lets it drop repeats
(the same event may be pushed again after a crash). Pushes are rows in ``webhook_deliveries``,
written in the transaction that publishes the event, posted by the router's delivery worker
outside any transaction, retried with exponential backoff, and after the last attempt
dead-lettered with the coordinator told.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from shared.contract import Contract
from shared.telemetry import PROPAGATOR

MAX_BACKOFF = timedelta(minutes=5)
SIGNATURE = "X-Baton-Signature"
TIMESTAMP = "X-Baton-Timestamp"
EVENT_ID = "X-Baton-Event-Id"


def endpoint(contract: Contract, party_id: str) -> str | None:
    """The party's webhook URL: its intake contact when that is an http(s) URL (not vendors,
    whose contact is their own support portal)."""
    party = contract.parties.get(party_id)
    if party is None or party.kind == "vendor":
        return None
    if party.contact.startswith(("https://", "http://")):
        return party.contact
    return None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def headers(secret: str, now: datetime, event_id: str, body: bytes) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/cloudevents+json",
        TIMESTAMP: str(timestamp),
        SIGNATURE: signature(secret, timestamp, body),
        EVENT_ID: event_id,
    }


def verify(
    secret: str, received: dict[str, str], body: bytes, now: datetime, window: timedelta
) -> bool:
    """What a receiver does (and the tests do): signature matches and the timestamp is fresh."""
    lowered = {k.lower(): v for k, v in received.items()}
    try:
        timestamp = int(lowered[TIMESTAMP.lower()])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > window.total_seconds():
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, lowered.get(SIGNATURE.lower(), ""))


def next_attempt(now: datetime, attempts: int, base: timedelta) -> datetime:
    """When to try again after ``attempts`` failures: base, 2×base, 4×base … up to 5 minutes."""
    delay: timedelta = min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF)
    return now + delay


async def post(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    signed: dict[str, str],
    *,
    party: str,
    event_id: str,
    tracer: trace.Tracer | None = None,
) -> httpx.Response:
    """One push, as a CLIENT span (``webhook push``: the party, the event id, the status;
    never the URL, which may hold a token). The span's ``traceparent`` goes along, so a
    receiver that traces continues it. Pushes run from the router's tick after their
    transaction, so each is a trace of its own; ``baton.event_id`` leads to the event's."""
    with (tracer or trace.get_tracer(__name__)).start_as_current_span(
        "webhook push",
        kind=SpanKind.CLIENT,
        attributes={
            "baton.party": party,
            "baton.event_id": event_id,
            "http.request.method": "POST",
        },
    ) as span:
        carrier = dict(signed)
        PROPAGATOR.inject(carrier)
        response = await http.post(url, content=body, headers=carrier)
        span.set_attribute("http.response.status_code", response.status_code)
        return response
