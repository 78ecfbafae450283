"""Dead letters keep no secret: redaction of refused payloads and headers, and the sample kept
of a body refused for its credentials."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from shared.events import DeadLetterV1, parse_event
from shared.kafka import UNAUTHENTICATED_SAMPLE_BYTES, DeadLetters
from shared.redact import REDACTED, redact_headers, redact_payload, redact_text
from shared.settings import Settings

ROUTING_KEY = "R0ut1ngK3yThatIsValid0000000000a"


def test_a_pagerduty_routing_key_is_redacted_and_the_rest_kept() -> None:
    body = orjson.dumps(
        {
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": "db-01",
            "payload": {"summary": "down", "severity": "bogus"},
        }
    )
    kept = orjson.loads(redact_payload(body))
    assert kept["routing_key"] == REDACTED
    assert kept["dedup_key"] == "db-01"  # not a secret: operators need it
    assert kept["payload"] == {"summary": "down", "severity": "bogus"}


@pytest.mark.parametrize(
    "key",
    ["token", "api_key", "Authorization", "client-secret", "db_password", "X-Baton-Signature"],
)
def test_secret_keys_are_redacted_at_any_depth(key: str) -> None:
    body = orjson.dumps({"alerts": [{"labels": {key: "s3cr3t-value"}}]})
    assert b"s3cr3t-value" not in redact_payload(body)


def test_a_body_with_no_secret_is_kept_byte_for_byte() -> None:
    body = b'{ "alerts" : [ {"labels": {"alertname": "X"}} ] }'
    assert redact_payload(body) == body


@pytest.mark.parametrize(
    "text",
    [
        '{"routing_key": "' + ROUTING_KEY + '", "event_action": ',  # broken JSON
        "routing_key=" + ROUTING_KEY + "&x=1",
        "Authorization: Bearer " + ROUTING_KEY,
        "postgresql://baton:" + ROUTING_KEY + "@db:5432/baton",
    ],
)
def test_text_that_is_not_json_is_scrubbed_by_pattern(text: str) -> None:
    assert ROUTING_KEY not in redact_payload(text.encode()).decode()
    assert REDACTED in redact_text(text)


def test_headers_are_redacted() -> None:
    kept = redact_headers(
        {"authorization": "Bearer abc", "x-baton-signature": "sha256=ff", "source": "zabbix"}
    )
    assert kept == {"authorization": REDACTED, "x-baton-signature": REDACTED, "source": "zabbix"}


class FakeBroker:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def publish(self, body: bytes, topic: str, **_: Any) -> None:
        self.sent.append(body)


async def _dead_letter(payload: bytes, kind: str, headers: dict[str, str]) -> DeadLetterV1:
    broker = FakeBroker()
    letters = DeadLetters(broker, Settings(), "intake", CollectorRegistry())  # type: ignore[arg-type]
    await letters.send(
        reason="routing_key: no such source",
        kind=kind,
        origin="/v2/enqueue",
        payload=payload,
        now=datetime(2026, 11, 30, tzinfo=UTC),
        headers=headers,
    )
    (body,) = broker.sent
    return parse_event(body).data_as(DeadLetterV1)


async def test_dead_letters_keep_no_secret() -> None:
    body = orjson.dumps({"routing_key": ROUTING_KEY, "event_action": "nonsense"})
    kept = await _dead_letter(body, "schema", {"authorization": f"Bearer {ROUTING_KEY}"})
    assert ROUTING_KEY not in kept.payload
    assert ROUTING_KEY not in str(kept.headers)
    assert "nonsense" in kept.payload


async def test_an_unauthenticated_body_is_kept_only_as_a_sample() -> None:
    body = orjson.dumps({"summary": "x" * 600_000})
    kept = await _dead_letter(body, "auth", {})
    assert len(kept.payload.encode()) <= UNAUTHENTICATED_SAMPLE_BYTES
    assert f"a sample of {UNAUTHENTICATED_SAMPLE_BYTES} of {len(body)} bytes" in kept.reason


def test_json_nested_too_deep_to_walk_is_scrubbed_as_text() -> None:
    body = b'{"token": "abc", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    kept = redact_payload(body)
    assert b"abc" not in kept
