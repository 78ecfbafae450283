"""Intake's HTTP receivers in-process (httpx's ASGITransport over the FastAPI routes), with
fakes for Kafka (a list of published events) and the dead-letter topic (a list of refusals).

The real-process path is covered by tests/integration/test_intake*.py; here the point is the
guard, authentication, the answers' shapes, and a fuzz test that throws thousands of malformed
bodies at every receiver.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake.actions import action_digest, verdict
from intake.auth import Authenticator, sign
from intake.correlation import Graph
from intake.gate import Intake
from intake.incidents import IncidentState
from intake.receivers import build_router
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from shared.clock import FixedClock
from shared.contract import load_contract
from shared.contract.view import ContractView
from shared.events import (
    AlertReceivedV1,
    Category,
    Envelope,
    EventType,
    IncidentStatus,
    PartyActionV2,
)
from shared.settings import Settings
from tests import factories

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
CONTRACT = load_contract(FIXTURES / "contract.yaml")
VIEW = ContractView.of(CONTRACT)
NOW = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
RECEIVERS: dict[str, str | None] = {
    **factories.RECEIVER_FIXTURES,
    "/v1/incidents/inc-1/actions": None,
}
ACTION = {"action": "acknowledge", "party": "osdb", "actor": "night.engineer"}


class Client:
    """A synchronous face on ``httpx.AsyncClient(transport=ASGITransport(app))``, so that
    hypothesis can drive it from a plain test function."""

    def __init__(self, app: FastAPI) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake"
        )

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        content = kwargs.get("content")
        if content is not None and not isinstance(content, bytes):
            chunks = list(content)

            async def stream() -> Any:
                for chunk in chunks:
                    yield chunk

            kwargs["content"] = stream()
        return self._loop.run_until_complete(self._client.post(path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._client.get(path, **kwargs))

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


@dataclass
class Fakes:
    letters: list[dict[str, Any]] = field(default_factory=list)
    published: list[tuple[str, Envelope, str | None]] = field(default_factory=list)
    changes: list[Any] = field(default_factory=list)
    incidents: dict[str, IncidentState] = field(default_factory=dict)

    async def send(self, **kwargs: Any) -> None:
        self.letters.append(kwargs)

    async def publish(self, kind: str, event: Envelope, key: str | None) -> None:
        self.published.append((kind, event, key))


CLIENTS: list[Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Any:
    yield
    while CLIENTS:
        CLIENTS.pop().close()


def make_client(
    *, publish: Any = None, kafka_down: bool = False, change_sink: Any = None, **overrides: Any
) -> tuple[Client, Fakes]:
    fakes = Fakes()
    config = Settings(**overrides)

    async def await_outcome(command_id: uuid.UUID, party: str) -> tuple[int, str, str] | None:
        """What the commands consumer would decide, from the fake incidents: the first command
        published with this id and party is the one decided (the processed-event record)."""
        kind, command, _ = fakes.published[-1]
        assert kind == "commands"
        assert command.id == command_id
        first = next(e for k, e, _ in fakes.published if k == "commands" and e.id == command_id)
        action = first.data
        assert isinstance(action, PartyActionV2)
        assert action.party == party
        incident = fakes.incidents.get(command.subject or "")
        if incident is None:
            return None  # nobody decided in time: pending
        return (*verdict(action, incident, VIEW), action_digest(action))

    async def record_change(*args: Any) -> None:
        fakes.changes.append(args)

    intake = Intake(
        settings=config,
        contract=CONTRACT,
        graph=Graph(CONTRACT),
        clock=FixedClock(NOW),
        registry=CollectorRegistry(),
        dead_letters=fakes,
        publish=publish or fakes.publish,
        auth=Authenticator(config),
        await_outcome=await_outcome,
        record_change=change_sink or record_change,
        kafka_down=lambda: kafka_down,
    )
    app = FastAPI()
    app.include_router(build_router(intake))
    client = Client(app)
    CLIENTS.append(client)
    return client, fakes


def body_of(path: str) -> bytes:
    name = RECEIVERS[path]
    return (FIXTURES / name).read_bytes() if name else orjson.dumps(ACTION)


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("path", list(RECEIVERS))
def test_documented_payload_is_accepted_and_published(path: str) -> None:
    client, fakes = make_client()
    response = client.post(path, content=body_of(path), headers=JSON)
    assert response.status_code == 202, response.text
    assert not fakes.letters
    if path == "/v2/change/enqueue":
        assert response.json() == {"status": "success", "message": "Change event processed"}
        assert len(fakes.changes) == 1
        assert fakes.changes[0][1] == "srv-db-01"
    elif path.endswith("/actions"):
        assert [kind for kind, _, _ in fakes.published] == ["commands"]
    else:
        assert fakes.published
        assert {kind for kind, _, _ in fakes.published} == {"alerts"}


def test_pagerduty_answers_like_pagerduty() -> None:
    client, fakes = make_client()
    ok = client.post("/v2/enqueue", content=body_of("/v2/enqueue"), headers=JSON)
    assert ok.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "samplekeyhere",
    }
    no_key = orjson.loads(body_of("/v2/enqueue"))
    del no_key["dedup_key"]
    generated = client.post("/v2/enqueue", json=no_key).json()["dedup_key"]
    resolve = {"routing_key": "samplekeyhere", "dedup_key": generated, "event_action": "resolve"}
    assert client.post("/v2/enqueue", json=resolve).status_code == 202
    (_, _, _), (_, trigger, _), (_, resolved, _) = fakes.published
    assert isinstance(trigger.data, AlertReceivedV1)
    assert isinstance(resolved.data, AlertReceivedV1)
    assert resolved.data.alert.status == "resolved"
    assert resolved.data.alert.fingerprint == trigger.data.alert.fingerprint
    bad = client.post("/v2/enqueue", json={"routing_key": "k", "event_action": "acknowledge"})
    assert bad.status_code == 400
    assert bad.headers["content-length"] == str(len(bad.content))
    assert bad.json()["status"] == "invalid event"
    assert any(
        e.startswith("(body): Value error, dedup_key") or "dedup_key" in e
        for e in bad.json()["errors"]
    )
    assert len(fakes.letters) == 1


def test_alerts_are_keyed_by_the_dependency_graph_component() -> None:
    client, fakes = make_client()
    client.post("/v1/alerts/alertmanager", content=body_of("/v1/alerts/alertmanager"))
    client.post("/v1/alerts/zabbix", content=body_of("/v1/alerts/zabbix"))
    assert {key for _, _, key in fakes.published} == {"component:acc-app"}


def test_schema_error_names_the_field_and_is_dead_lettered() -> None:
    client, fakes = make_client()
    body = orjson.loads(body_of("/v1/alerts/zabbix")) | {"event_value": "maybe"}
    response = client.post("/v1/alerts/zabbix", json=body)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["event_value"]
    (letter,) = fakes.letters
    assert "event_value" in letter["reason"]
    assert letter["origin"] == "/v1/alerts/zabbix"
    assert letter["headers"]["source"] == "zabbix"
    assert letter["now"] == NOW
    assert orjson.loads(letter["payload"]) == body


def test_body_size_limit_413_with_and_without_content_length() -> None:
    client, fakes = make_client(intake_max_body_bytes=1000)
    big = b'{"alerts": [' + b" " * 2000 + b"]}"
    assert client.post("/v1/alerts", content=big, headers=JSON).status_code == 413

    def chunks() -> Any:  # chunked: no content-length, the limit applies while reading
        yield big[:800]
        yield big[800:]

    assert client.post("/v1/alerts", content=chunks(), headers=JSON).status_code == 413
    assert [letter["kind"] for letter in fakes.letters] == ["size", "size"]
    assert len(fakes.letters[1]["payload"]) > 1000 or fakes.letters[1]["payload"]


def _group(n: int) -> dict[str, Any]:
    alert = {
        "status": "firing",
        "labels": {"alertname": "Down", "instance": "x" * 400},
        "annotations": {"summary": "down"},
        "startsAt": NOW.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "f",
    }
    return {"version": "4", "groupKey": "g", "status": "firing", "alerts": [alert] * n}


def test_a_group_at_the_alert_limit_is_taken_one_above_is_413_and_kept_whole() -> None:
    client, fakes = make_client(intake_max_alerts=1500)
    at_limit = client.post("/v1/alerts/alertmanager", json=_group(1500))
    assert at_limit.status_code == 202, at_limit.text
    assert len(fakes.published) == 1500
    body = orjson.dumps(_group(1501))  # bigger than one dead-letter event holds
    over = client.post("/v1/alerts/alertmanager", content=body, headers=JSON)
    assert over.status_code == 413
    assert "alerts: 1501 alerts in one webhook, the limit is 1500" in over.json()["error"]
    assert len(fakes.published) == 1500  # nothing of the refused group published
    assert len(fakes.letters) > 1
    assert {letter["kind"] for letter in fakes.letters} == {"too_many_alerts"}
    parts = sorted(fakes.letters, key=lambda x: int(x["headers"]["part"].split("/")[0]))
    assert b"".join(letter["payload"] for letter in parts) == body


def test_content_type_415_but_no_content_type_is_read_as_json() -> None:
    client, fakes = make_client()
    text = client.post(
        "/v1/alerts/grafana",
        content=body_of("/v1/alerts/grafana"),
        headers={"content-type": "text/plain"},
    )
    assert text.status_code == 415
    assert "content-type" in text.json()["error"]
    assert (
        client.post("/v1/alerts/grafana", content=body_of("/v1/alerts/grafana")).status_code == 202
    )
    assert [letter["kind"] for letter in fakes.letters] == ["content_type"]


def test_json_depth_limit() -> None:
    client, fakes = make_client(intake_max_json_depth=8)
    deep = b'{"alerts": ' + b"[" * 20 + b"]" * 20 + b"}"
    response = client.post("/v1/alerts", content=deep, headers=JSON)
    assert response.status_code == 422
    assert "nested 21 deep" in response.json()["error"]
    assert fakes.letters[0]["kind"] == "depth"


# ------------------------------------------------------------------------ authentication


def test_bearer_tokens_per_source() -> None:
    client, fakes = make_client(intake_source_tokens={"grafana": SecretStr("g-token")})
    body = body_of("/v1/alerts/grafana")
    missing = client.post("/v1/alerts/grafana", content=body)
    assert missing.status_code == 401
    assert "bearer token or a signature is required" in missing.json()["error"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = client.post("/v1/alerts/grafana", content=body, headers={"authorization": "Bearer x"})
    assert wrong.status_code == 401
    ok = client.post(
        "/v1/alerts/grafana", content=body, headers={"authorization": "Bearer g-token"}
    )
    assert ok.status_code == 202
    other = client.post("/v1/alerts/zabbix", content=body_of("/v1/alerts/zabbix"))
    assert other.status_code == 403
    assert "no credentials configured" in other.json()["error"]
    assert len(fakes.letters) == 3
    assert all("g-token" not in str(letter) for letter in fakes.letters)


def test_pagerduty_routing_key_is_the_token() -> None:
    client, _ = make_client(intake_source_tokens={"pagerduty": SecretStr("samplekeyhere")})
    assert client.post("/v2/enqueue", content=body_of("/v2/enqueue")).status_code == 202
    body = orjson.loads(body_of("/v2/enqueue")) | {"routing_key": "guess"}
    refused = client.post("/v2/enqueue", json=body)
    assert refused.status_code == 401
    assert refused.json()["status"] == "invalid event"


def test_hmac_signature_with_timestamp_and_replay_protection() -> None:
    client, _ = make_client(intake_hmac_secrets={"zabbix": SecretStr("z-secret")})
    body = body_of("/v1/alerts/zabbix")
    stamp = int(NOW.timestamp())
    headers = {"x-baton-timestamp": str(stamp), "x-baton-signature": sign("z-secret", stamp, body)}
    assert client.post("/v1/alerts/zabbix", content=body, headers=headers).status_code == 202
    replay = client.post("/v1/alerts/zabbix", content=body, headers=headers)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["error"]
    old = stamp - 3600
    stale = {"x-baton-timestamp": str(old), "x-baton-signature": sign("z-secret", old, body)}
    response = client.post("/v1/alerts/zabbix", content=body, headers=stale)
    assert response.status_code == 401
    assert "outside the 300s window" in response.json()["error"]
    tampered = client.post(
        "/v1/alerts/zabbix",
        content=body.replace(b"31512", b"31513"),
        headers={
            "x-baton-timestamp": str(stamp + 1),
            "x-baton-signature": sign("z-secret", stamp + 1, body),
        },
    )
    assert tampered.status_code == 401
    assert "does not match" in tampered.json()["error"]


def test_party_tokens_must_match_the_acting_party() -> None:
    client, fakes = make_client(
        intake_party_tokens={"osdb": SecretStr("osdb-token"), "customer": SecretStr("c-token")}
    )
    path = "/v1/incidents/inc-1/actions"
    assert client.post(path, json=ACTION).status_code == 401
    as_customer = client.post(path, json=ACTION, headers={"authorization": "Bearer c-token"})
    assert as_customer.status_code == 403
    assert "acts for customer, not osdb" in as_customer.json()["error"]
    ok = client.post(path, json=ACTION, headers={"authorization": "Bearer osdb-token"})
    assert ok.status_code == 202
    assert [kind for kind, _, _ in fakes.published] == ["commands"]


def test_auth_is_off_without_tokens() -> None:
    client, _ = make_client()
    for path in RECEIVERS:
        assert client.post(path, content=body_of(path)).status_code == 202


# ------------------------------------------------------------------------ synchronous refusals


def incident(status: IncidentStatus) -> IncidentState:
    return IncidentState(
        id="inc-1",
        object_id="pg-main",
        layer=None,
        category=Category.OUTAGE,
        priority="P1",
        status=status,
        opened_at=NOW,
        alerts={"fp": 1},
    )


@pytest.mark.parametrize(
    ("status", "action", "code", "reason"),
    [
        (
            IncidentStatus.RESTORED,
            {"action": "confirm", "party": "osdb", "actor": "x"},
            403,
            "only the customer",
        ),
        (
            IncidentStatus.OPEN,
            {"action": "confirm", "party": "customer", "actor": "x"},
            409,
            "cannot confirm",
        ),
        (
            IncidentStatus.OPEN,
            {"action": "acknowledge", "party": "mallory", "actor": "x"},
            403,
            "not a party",
        ),
        (IncidentStatus.OPEN, {"action": "acknowledge", "party": "osdb", "actor": "x"}, 202, ""),
    ],
)
def test_actions_are_answered_with_the_consumers_verdict(
    status: IncidentStatus, action: dict[str, str], code: int, reason: str
) -> None:
    client, fakes = make_client()
    fakes.incidents["inc-1"] = incident(status)
    response = client.post("/v1/incidents/inc-1/actions", json=action)
    assert response.status_code == code
    assert reason in response.json().get("error", "")
    ((kind, event, _),) = fakes.published  # the command path is the same either way
    assert kind == "commands"
    assert event.type == EventType.PARTY_ACTION
    assert event.subject == "inc-1"
    assert response.json()["command_id"] == str(event.id)


def test_action_without_a_verdict_in_time_is_pending() -> None:
    client, _ = make_client()
    response = client.post("/v1/incidents/inc-unknown/actions", json=ACTION)
    assert response.status_code == 202
    assert response.json()["status"] == "pending"


# ------------------------------------------------------------------------ fuzz

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def malformed(draw: st.DrawFn, path: str) -> tuple[bytes, str | None]:
    """A body that is wrong in one of many ways: bytes, JSON of the wrong shape, the documented
    payload with a key dropped or a value replaced, too deep, or a wrong content type."""
    valid = orjson.loads(body_of(path))
    kind = draw(st.sampled_from(["bytes", "json", "drop", "replace", "deep", "type"]))
    content_type: str | None = "application/json"
    if kind == "bytes":
        body = draw(st.binary(max_size=200))
    elif kind == "json":
        body = json.dumps(draw(JSON_VALUES)).encode()  # big integers too
    elif kind in {"drop", "replace"}:
        key = draw(st.sampled_from(sorted(valid)))
        if kind == "drop":
            valid.pop(key)
        else:
            valid[key] = draw(JSON_VALUES)
        body = json.dumps(valid).encode()
    elif kind == "deep":
        n = draw(st.integers(40, 2000))
        body = b'{"alerts": ' + b"[" * n + b"]" * n + b"}"
    else:
        body = orjson.dumps(valid)
        content_type = draw(
            st.sampled_from(["text/plain", "application/xml", "multipart/form-data"])
        )
    return body, content_type


FUZZ_PER_RECEIVER = 400


@pytest.mark.parametrize("path", list(RECEIVERS))
def test_fuzz_no_5xx_and_every_refusal_dead_lettered(path: str) -> None:
    """400 malformed bodies per receiver (3,200 in all): never a 5xx; every 4xx answer is in the
    dead-letter sink with its reason; anything accepted was published."""
    client, fakes = make_client()

    @settings(
        max_examples=FUZZ_PER_RECEIVER,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=True,
    )
    @given(case=malformed(path))
    def run(case: tuple[bytes, str | None]) -> None:
        body, content_type = case
        letters, published = len(fakes.letters), len(fakes.published) + len(fakes.changes)
        headers = {"content-type": content_type} if content_type else {}
        response = client.post(path, content=body, headers=headers)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert len(fakes.letters) == letters + 1
            letter = fakes.letters[-1]
            assert letter["reason"]
            assert letter["origin"] == path
            assert letter["now"] == NOW
        else:
            assert len(fakes.published) + len(fakes.changes) > published

    started = time.perf_counter()
    run()
    assert time.perf_counter() - started < 120


# --- dependencies down: 503 + Retry-After within the bound, never 202 for what is not durable

PUBLISHING = [p for p in RECEIVERS if p != "/v2/change/enqueue"]


@pytest.mark.parametrize("path", PUBLISHING)
def test_kafka_that_does_not_acknowledge_is_answered_503_within_the_bound(path: str) -> None:
    async def hang(*_: Any) -> None:
        await asyncio.Event().wait()

    client, _ = make_client(publish=hang, publish_timeout_seconds=0.3, retry_after_seconds=7)
    start = time.perf_counter()
    response = client.post(path, content=body_of(path), headers=JSON)
    took = time.perf_counter() - start
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    assert response.json()["dependency"] == "kafka"
    assert took < 2, f"answered after {took:.1f} s"


@pytest.mark.parametrize("path", PUBLISHING)
def test_kafka_known_down_is_answered_503_at_once(path: str) -> None:
    client, fakes = make_client(kafka_down=True)
    start = time.perf_counter()
    response = client.post(path, content=body_of(path), headers=JSON)
    assert response.status_code == 503
    assert "retry-after" in response.headers
    # well inside the 4 s publish bound it would wait if it tried Kafka (0.5 s was a timing
    # test: it failed at 0.63 s under a full parallel suite); nothing was tried either
    assert time.perf_counter() - start < 2
    assert not fakes.published


def test_kafka_error_is_answered_503() -> None:
    from aiokafka.errors import KafkaConnectionError

    async def refuse(*_: Any) -> None:
        raise KafkaConnectionError("broker gone")

    client, _ = make_client(publish=refuse)
    response = client.post("/v1/alerts", content=body_of("/v1/alerts"), headers=JSON)
    assert response.status_code == 503
    assert response.json()["dependency"] == "kafka"


@pytest.mark.parametrize("path", ["/v1/alerts", "/v1/incidents/inc-1/actions"])
def test_a_message_the_broker_refuses_as_too_large_is_413_never_unavailable(path: str) -> None:
    """A retry meets the same refusal for ever: it is no outage (issue 25)."""
    from aiokafka.errors import MessageSizeTooLargeError

    async def refuse(*_: Any) -> None:
        raise MessageSizeTooLargeError("too large")

    client, fakes = make_client(publish=refuse)
    response = client.post(path, content=body_of(path), headers=JSON)
    assert response.status_code == 413, response.text
    assert "too large" in response.json()["error"]
    assert fakes.letters


def test_one_oversized_alert_is_refused_by_name_and_the_others_are_kept() -> None:
    client, fakes = make_client(intake_max_alert_bytes=4096)
    body = orjson.loads(body_of("/v1/alerts"))
    (first,) = body["alerts"]
    big = {**first, "fingerprint": "big", "annotations": {"description": "y" * 8000}}
    body["alerts"] = [first, big]
    response = client.post("/v1/alerts", json=body)
    assert response.status_code == 413
    assert response.json()["error"].startswith("alerts[1] (")
    assert response.json()["accepted"] == 1
    assert len(fakes.published) == 1
    assert len(fakes.letters) == 1


def test_refusal_is_still_answered_when_the_dead_letter_cannot_be_kept() -> None:
    """A malformed body with Kafka away: the client hears 422 (and why) within the bound."""
    client, fakes = make_client(publish_timeout_seconds=0.3)

    async def hang(**_: Any) -> None:
        await asyncio.Event().wait()

    fakes.send = hang  # type: ignore[method-assign]
    start = time.perf_counter()
    response = client.post("/v1/alerts", content=b'{"alerts": 3}', headers=JSON)
    assert response.status_code == 422
    assert time.perf_counter() - start < 2


def test_change_event_with_the_database_down_is_answered_503_not_lost() -> None:
    async def refused(*_: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    client, _ = make_client(change_sink=refused, retry_after_seconds=3)
    path = "/v2/change/enqueue"
    response = client.post(path, content=body_of(path), headers=JSON)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.json()["dependency"] == "postgresql"


def test_a_retried_action_with_an_idempotency_key_is_the_same_command() -> None:
    client, fakes = make_client()
    path = "/v1/incidents/inc-1/actions"
    first = client.post(path, json=ACTION, headers={"idempotency-key": "k-1"})
    retry = client.post(path, json=ACTION, headers={"idempotency-key": "k-1"})
    other = client.post(path, json=ACTION, headers={"idempotency-key": "k-2"})
    plain = [client.post(path, json=ACTION) for _ in range(2)]
    ids = [r.json()["command_id"] for r in (first, retry, other, *plain)]
    assert ids[0] == ids[1]  # the consumer's processed-event record drops the second
    assert len(set(ids)) == 4
    assert [e.id for _, e, _ in fakes.published][:2] == [uuid.UUID(ids[0])] * 2


def test_a_retried_user_report_with_an_idempotency_key_yields_the_same_events() -> None:
    client, fakes = make_client()
    body = body_of("/v1/incidents")
    first = client.post("/v1/incidents", content=body, headers={"idempotency-key": "r-1"})
    retry = client.post("/v1/incidents", content=body, headers={"idempotency-key": "r-1"})
    fresh = client.post("/v1/incidents", content=body)
    assert first.status_code == retry.status_code == fresh.status_code == 202
    assert first.json() == retry.json()
    assert fresh.json()["ids"] != first.json()["ids"]
    alerts = [e.data_as(AlertReceivedV1).alert for _, e, _ in fakes.published]
    assert alerts[0].fingerprint == alerts[1].fingerprint != alerts[2].fingerprint


def test_an_idempotency_key_reused_with_another_action_is_422() -> None:
    """Issue 25: the same key with another body silently answered the first verdict."""
    client, fakes = make_client()
    fakes.incidents["inc-1"] = incident(IncidentStatus.OPEN)
    path = "/v1/incidents/inc-1/actions"
    first = client.post(path, json=ACTION, headers={"idempotency-key": "k-1"})
    assert first.status_code == 202
    note = {**ACTION, "action": "note", "note": "something else"}
    reused = client.post(path, json=note, headers={"idempotency-key": "k-1"})
    assert reused.status_code == 422
    assert reused.json()["error"].startswith("Idempotency-Key: already used")
    assert client.post(path, json=ACTION, headers={"idempotency-key": "k-1"}).status_code == 202


def test_a_user_report_key_is_the_reporters_own() -> None:
    """Another reporter's report with the same key is another report, never the first's."""
    client, _ = make_client()
    body = orjson.loads(body_of("/v1/incidents"))
    mine = client.post("/v1/incidents", json=body, headers={"idempotency-key": "r-1"})
    theirs = client.post(
        "/v1/incidents",
        json={**body, "reporter": "someone else"},
        headers={"idempotency-key": "r-1"},
    )
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["report_id"] != theirs.json()["report_id"]
    assert mine.json()["ids"] != theirs.json()["ids"]


@pytest.mark.parametrize("key", ["", "x" * 129, "ключ".encode(), "a\tb"])
@pytest.mark.parametrize("path", ["/v1/incidents/inc-1/actions", "/v1/incidents"])
def test_a_malformed_idempotency_key_is_refused_by_name(key: str | bytes, path: str) -> None:
    client, fakes = make_client()
    response = client.post(path, content=body_of(path), headers={"idempotency-key": key})
    assert response.status_code == 422
    assert response.json()["error"].startswith("Idempotency-Key:")
    assert fakes.letters
    assert not fakes.published


# --- timestamps outside the accepted range: 422 naming the field ------------------------------

OUT_OF_RANGE = [
    (
        "/v1/alerts/alertmanager",
        ("alerts", 0, "startsAt"),
        "0001-01-01T00:00:00Z",
        "alerts.0.startsAt",
    ),
    ("/v1/alerts/alertmanager", ("alerts", 0, "endsAt"), "9999-12-31T00:00:00Z", "alerts.0.endsAt"),
    ("/v1/alerts/grafana", ("alerts", 0, "startsAt"), "1899-01-01T00:00:00Z", "alerts.0.startsAt"),
    ("/v1/alerts", ("alerts", 0, "starts_at"), "9999-01-01T00:00:00+00:00", "alerts.0.starts_at"),
    ("/v2/enqueue", ("payload", "timestamp"), "0001-01-01T00:00:00Z", "payload.timestamp"),
    ("/v2/change/enqueue", ("payload", "timestamp"), "2150-01-01T00:00:00Z", "payload.timestamp"),
    ("/v1/incidents", ("since",), "0001-01-01T00:00:00+00:00", "since"),
    ("/v1/alerts/zabbix", ("event_date",), "1970.01.01", "event_date"),
]


@pytest.mark.parametrize(("path", "where", "value", "field_name"), OUT_OF_RANGE)
def test_timestamps_outside_the_range_are_refused_naming_the_field(
    path: str, where: tuple[str | int, ...], value: str, field_name: str
) -> None:
    client, fakes = make_client()
    body = orjson.loads(body_of(path))
    node = body
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    response = client.post(path, json=body)
    assert response.status_code in {400, 422}, response.text  # PagerDuty's shape: 400
    text = response.text
    assert field_name in text, text
    assert "2000-01-01" in text or "outside" in text
    assert not fakes.published
    assert not fakes.changes
    assert len(fakes.letters) == 1  # kept, with the reason


def test_go_zero_time_still_means_no_end() -> None:
    client, fakes = make_client()
    body = orjson.loads(body_of("/v1/alerts/alertmanager"))
    body["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    assert client.post("/v1/alerts/alertmanager", json=body).status_code == 202
    (_, event, _), *_ = fakes.published
    assert isinstance(event.data, AlertReceivedV1)
    assert event.data.alert.ends_at is None


def test_an_objects_change_history_needs_a_party_token_once_tokens_are_configured() -> None:
    client, _ = make_client(intake_party_tokens={"osdb": SecretStr("osdb-token")})
    path = f"/v1/objects/{CONTRACT.objects[0].id}/changes"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"authorization": "Bearer nope"}).status_code == 401
    assert client.get(path, headers={"authorization": "Bearer osdb-token"}).status_code == 200


def test_an_action_with_a_note_over_its_bound_is_422_naming_it() -> None:
    client, fakes = make_client()
    fakes.incidents["inc-1"] = incident(IncidentStatus.OPEN)
    note = {**ACTION, "action": "note", "note": "x" * 400_000}
    response = client.post("/v1/incidents/inc-1/actions", json=note)
    assert response.status_code == 422
    assert response.json()["error"] == "note: 400000 characters, at most 4000"
    assert not fakes.published


def test_an_objects_change_history_is_read_only_by_that_objects_parties() -> None:
    """Issue 25: any party's token read any object's change history."""
    tokens = {"hw": SecretStr("hw-token"), "apps": SecretStr("apps-token")}
    client, _ = make_client(intake_party_tokens=tokens)
    path = "/v1/objects/mail-01/changes"  # apps runs it; hardware has no part in it
    assert client.get(path, headers={"authorization": "Bearer apps-token"}).status_code == 200
    other = client.get(path, headers={"authorization": "Bearer hw-token"})
    assert other.status_code == 404  # as an unknown object: ids are not disclosed
    unknown = client.get(
        "/v1/objects/nowhere/changes", headers={"authorization": "Bearer hw-token"}
    )
    assert other.json() == {"error": "object_id: 'mail-01' is not in the contract"}
    assert unknown.status_code == 404
