"""Webhook push: HMAC-SHA256 over timestamp and body, replay window, backoff, endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from router import webhook
from router.escalation import on_delivery_failed, recipients
from router.routing import open_route

from shared.contract import load_contract
from shared.contract.view import ContractView
from shared.events import AssignmentEscalatedV3, EscalationReason
from tests.unit.test_routing import NIGHT, opened_event

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def test_a_signed_push_verifies_and_a_tampered_or_stale_one_does_not() -> None:
    body = b'{"id": "e1"}'
    signed = webhook.headers("s3cret", NOW, "e1", body)
    assert signed[webhook.EVENT_ID] == "e1"
    assert webhook.verify("s3cret", signed, body, NOW + timedelta(seconds=30), WINDOW)
    assert not webhook.verify("other", signed, body, NOW, WINDOW)
    assert not webhook.verify("s3cret", signed, body + b" ", NOW, WINDOW)
    assert not webhook.verify("s3cret", signed, body, NOW + timedelta(minutes=6), WINDOW)
    assert not webhook.verify("s3cret", {}, body, NOW, WINDOW)
    # the signature covers the timestamp: moving it breaks the signature
    moved = {**signed, webhook.TIMESTAMP: str(int(NOW.timestamp()) + 1)}
    assert not webhook.verify("s3cret", moved, body, NOW, WINDOW)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac key
    expected = "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
    assert webhook.signature("key", 1_700_000_000, b"{}") == f"sha256={expected}"


def test_backoff_doubles_up_to_five_minutes() -> None:
    base = timedelta(seconds=2)
    delays = [webhook.next_attempt(NOW, n, base) - NOW for n in (1, 2, 3, 4, 20)]
    assert delays[:4] == [timedelta(seconds=s) for s in (2, 4, 8, 16)]
    assert delays[4] == timedelta(minutes=5)


def test_only_http_contacts_of_non_vendors_are_endpoints() -> None:
    steppe = load_contract(ROOT / "examples" / "contract")
    assert webhook.endpoint(steppe, "hw") is None  # an e-mail address
    assert webhook.endpoint(steppe, "msft") is None  # a vendor's support portal
    assert webhook.endpoint(steppe, "nobody") is None
    doc = steppe.model_dump()
    doc["parties"]["hw"]["contact"] = "https://hooks.qhs.example/baton"
    changed = type(steppe).model_validate(doc)
    assert webhook.endpoint(changed, "hw") == "https://hooks.qhs.example/baton"


def test_a_failed_push_tells_the_coordinator_once_per_event_and_party() -> None:
    minimal = load_contract(ROOT / "examples" / "minimal" / "contract.yaml")
    view = ContractView.of(minimal)
    state, events = open_route(opened_event(minimal, "pg-main", NIGHT), view, NIGHT)
    _, (first,) = on_delivery_failed(
        state, view, party="osdb", event_id=events[0].id, reason="HTTP 503", now=NOW
    )
    _, (again,) = on_delivery_failed(
        state, view, party="osdb", event_id=events[0].id, reason="HTTP 503", now=NOW
    )
    assert first.id == again.id
    data = first.data_as(AssignmentEscalatedV3)
    assert (data.reason, data.party, data.coordinator) == (
        EscalationReason.DELIVERY_FAILED,
        "osdb",
        "apps",
    )
    assert [c.party for c in data.contacts] == ["apps"]
    assert set(recipients(first, state.coordinator)) == {"apps", "osdb"}
