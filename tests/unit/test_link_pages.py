"""Action links' pages (intake/links.py) over a fake host: GET never acts, POST acts once, as
the link's party, and shows the verdict; refusals name why and are counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from intake.incidents import IncidentState
from intake.links import build_link_router
from prometheus_client import CollectorRegistry

from shared import links
from shared.contract import Contract, load_contract
from shared.events import AccessActionV1, AccessStep, ActionKind, Envelope, PartyActionV2
from shared.http import Unavailable
from shared.settings import Settings
from tests.unit.test_intake_http import Client
from tests.unit.test_notify import ROOT

NOW = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)
SECRET = "links-secret"


@dataclass
class FakeHost:
    settings: Settings
    contract_: Contract
    sent: list[Envelope] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    verdict_: tuple[int, str] | None = (202, "")
    kafka_down: bool = False

    @property
    def contract(self) -> Contract:
        return self.contract_

    def now(self) -> datetime:
        return NOW

    async def incident(self, incident_id: str) -> IncidentState | None:
        return None

    async def use(self, mac: str, expires_at: datetime, now: datetime) -> bool:
        if mac in self.used:
            return False
        self.used.add(mac)
        return True

    async def forget(self, mac: str) -> None:
        self.used.discard(mac)

    async def send(self, command: Envelope) -> None:
        if self.kafka_down:
            raise Unavailable("kafka", "down")
        self.sent.append(command)

    async def verdict(self, command_id: Any, party: str) -> tuple[int, str] | None:
        return self.verdict_


def _app() -> tuple[Client, FakeHost, CollectorRegistry]:
    host = FakeHost(Settings(links_secret=SECRET), load_contract(ROOT / "examples" / "contract"))
    registry = CollectorRegistry()
    app = FastAPI()
    app.include_router(build_link_router(host, registry))
    return Client(app), host, registry


def _token(action: str = "acknowledge", expires: timedelta = timedelta(hours=1)) -> str:
    claims = links.Claims.model_validate(
        {"i": "inc-1", "p": "sysops", "a": action, "n": "n1", "e": int((NOW + expires).timestamp())}
    )
    return links.sign(SECRET, claims)


def test_opening_a_link_shows_the_button_and_acts_not() -> None:
    client, host, _ = _app()
    page = client.get(f"/v1/links/{_token()}")
    assert page.status_code == 200
    assert "<form method=post" in page.text
    assert 'name=viewport content="width=device-width' in page.text
    assert "<script" not in page.text
    assert host.sent == []
    assert host.used == set()


def test_pressing_acts_once_as_the_links_party_and_again_is_refused() -> None:
    client, host, registry = _app()
    token = _token()
    done = client.post(f"/v1/links/{token}")
    assert done.status_code == 200
    assert "Done" in done.text
    (command,) = host.sent
    action = command.data_as(PartyActionV2)
    assert (action.action, action.party, command.subject) == (
        ActionKind.ACKNOWLEDGE,
        "sysops",
        "inc-1",
    )
    again = client.post(f"/v1/links/{token}")
    assert again.status_code == 410
    assert len(host.sent) == 1
    assert registry.get_sample_value("baton_intake_link_refusals_total", {"reason": "used"}) == 1


def test_a_verdict_of_the_api_is_shown_with_its_status() -> None:
    client, host, _ = _app()
    host.verdict_ = (403, "party: sysops (check) may not restored this incident")
    page = client.post(f"/v1/links/{_token('restored')}")
    assert page.status_code == 403
    assert "may not restored" in page.text


def test_forged_expired_and_malformed_links_are_refused_and_counted() -> None:
    client, host, registry = _app()
    token = _token()
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.post(f"/v1/links/{forged}").status_code == 403
    assert client.get(f"/v1/links/{_token(expires=timedelta(seconds=-1))}").status_code == 410
    assert client.post("/v1/links/not-a-link").status_code == 403
    assert host.sent == []

    def count(reason: str) -> float | None:
        return registry.get_sample_value("baton_intake_link_refusals_total", {"reason": reason})

    assert (count("forged"), count("expired"), count("malformed")) == (1, 1, 1)


def test_a_link_kafka_did_not_take_may_be_pressed_again() -> None:
    client, host, _ = _app()
    host.kafka_down = True
    token = _token()
    assert client.post(f"/v1/links/{token}").status_code == 503
    host.kafka_down = False
    assert client.post(f"/v1/links/{token}").status_code == 200
    assert len(host.sent) == 1


def _access_token(step: str, request: str | None = "acc-1") -> str:
    doc: dict[str, object] = {"i": "inc-1", "p": "customer", "s": step, "n": "n2", "t": "it-duty"}
    doc |= {"e": int((NOW + timedelta(hours=1)).timestamp())}
    if request is not None:
        doc["r"] = request
    return links.sign(SECRET, links.Claims.model_validate(doc))


def test_an_approve_link_approves_the_request_as_the_contact_it_was_sent_to() -> None:
    client, host, _ = _app()
    token = _access_token("approve")
    page = client.get(f"/v1/links/{token}")
    assert page.status_code == 200
    assert "Approve access request acc-1" in page.text
    assert host.sent == []
    done = client.post(f"/v1/links/{token}")
    assert done.status_code == 200, done.text
    (command,) = host.sent
    action = command.data
    assert isinstance(action, AccessActionV1)
    assert (action.action, action.party, action.actor, action.request_id) == (
        AccessStep.APPROVE,
        "customer",
        "it-duty (link)",
        "acc-1",
    )


def test_an_access_link_without_a_request_or_that_needs_a_reason_is_refused() -> None:
    client, host, _ = _app()
    for token in (_access_token("approve", None), _access_token("deny")):
        refused = client.post(f"/v1/links/{token}")
        assert refused.status_code == 403
    assert host.sent == []
