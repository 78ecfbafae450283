"""A credential being rotated: several secrets for one source, party or reader, each accepted
(``shared.settings.Credential``), so clients move to the new one before the old one is
removed — and anything else is still refused."""

from __future__ import annotations

import hmac

import pytest
from intake.auth import sign
from pydantic import SecretStr, ValidationError
from reporting.access import reader
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from shared.contract import load_contract
from shared.settings import DEFAULT_CONTRACT, Settings, matches
from tests.unit.test_intake_http import ACTION, NOW, body_of, make_client


def test_one_secret_or_a_list_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_INTAKE_SOURCE_TOKENS", '{"grafana": ["new", "old"], "zabbix": "z"}')
    tokens = Settings().intake_source_tokens
    assert [s.get_secret_value() for s in tokens["grafana"]] == ["new", "old"]
    assert [s.get_secret_value() for s in tokens["zabbix"]] == ["z"]
    assert matches("old", tokens["grafana"])
    assert not matches("z", tokens["grafana"])


def test_an_empty_list_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match=r"intake_party_tokens\.osdb"):
        Settings(intake_party_tokens={"osdb": []})


def test_a_source_takes_either_token_while_it_is_rotated() -> None:
    client, fakes = make_client(intake_source_tokens={"grafana": ["g-new", "g-old"]})
    body = body_of("/v1/alerts/grafana")
    for token in ("g-new", "g-old"):
        ok = client.post(
            "/v1/alerts/grafana", content=body, headers={"authorization": f"Bearer {token}"}
        )
        assert ok.status_code == 202, token
    wrong = client.post(
        "/v1/alerts/grafana", content=body, headers={"authorization": "Bearer g-older"}
    )
    assert wrong.status_code == 401
    assert "do not match" in wrong.json()["error"]
    assert all("g-old" not in str(letter) for letter in fakes.letters)


def test_a_signed_source_takes_a_signature_by_either_secret_while_it_is_rotated() -> None:
    client, _ = make_client(intake_hmac_secrets={"zabbix": [SecretStr("z-new"), "z-old"]})
    body = body_of("/v1/alerts/zabbix")
    for offset, secret in enumerate(("z-new", "z-old", "z-other")):
        stamp = int(NOW.timestamp()) + offset  # each signature is new: no replay
        headers = {"x-baton-timestamp": str(stamp), "x-baton-signature": sign(secret, stamp, body)}
        answer = client.post("/v1/alerts/zabbix", content=body, headers=headers)
        assert answer.status_code == (401 if secret == "z-other" else 202), secret


def test_a_party_acts_with_either_token_and_never_as_another_party() -> None:
    client, _ = make_client(intake_party_tokens={"osdb": ["o-new", "o-old"], "customer": "c"})
    path = "/v1/incidents/inc-1/actions"
    for token in ("o-new", "o-old"):
        ok = client.post(path, json=ACTION, headers={"authorization": f"Bearer {token}"})
        assert ok.status_code == 202, token
    as_customer = client.post(path, json=ACTION, headers={"authorization": "Bearer c"})
    assert as_customer.status_code == 403


class _Request:
    def __init__(self, token: str) -> None:
        self.headers = Headers({"authorization": f"Bearer {token}"})


def test_a_reader_reads_with_either_token_while_it_is_rotated() -> None:
    settings = Settings(reporting_reader_tokens={"operator": ["r-new", "r-old"], "osdb": "o"})
    contract = load_contract(DEFAULT_CONTRACT)
    for token in ("r-new", "r-old"):
        assert reader(_Request(token), settings, contract).party is None  # type: ignore[arg-type]
    assert reader(_Request("o"), settings, contract).party == "osdb"  # type: ignore[arg-type]
    with pytest.raises(HTTPException) as refused:
        reader(_Request("r-older"), settings, contract)  # type: ignore[arg-type]
    assert refused.value.status_code == 401


def test_matching_compares_every_secret_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each secret is compared with ``hmac.compare_digest``: no early exit on a prefix."""
    seen: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert not matches("x", (SecretStr("a"), SecretStr("b")))
    assert seen == [b"a", b"b"]
