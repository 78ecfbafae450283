"""The local stack's credentials: generated once, owner-only, topped up, never regenerated."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton import credentials
from baton.credentials import KAFKA_ADMIN, OPERATOR, SOURCES, Credentials


def test_ensure_generates_a_secret_per_identity_owner_only(tmp_path: Path) -> None:
    creds = credentials.ensure(tmp_path, ["customer", "dba"])
    path = credentials.credentials_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert set(creds.sources) == set(SOURCES)
    assert set(creds.parties) == {"customer", "dba"}
    assert set(creds.readers) == {OPERATOR, "customer", "dba"}
    assert {KAFKA_ADMIN, "intake", "router", "sla-clock", "reporting", "dba"} <= set(creds.kafka)
    every = [
        *creds.sources.values(),
        *creds.parties.values(),
        *creds.readers.values(),
        *creds.kafka.values(),
        creds.postgres_password,
    ]
    assert len(set(every)) == len(every)  # no secret reused
    assert all(len(s) >= 40 for s in every)


def test_ensure_keeps_what_exists_and_adds_what_is_missing(tmp_path: Path) -> None:
    first = credentials.ensure(tmp_path, ["customer"])
    again = credentials.ensure(tmp_path, ["customer", "new-party"])
    assert again.parties["customer"] == first.parties["customer"]
    assert again.postgres_password == first.postgres_password
    assert "new-party" in again.parties
    assert "new-party" in again.kafka


def test_rotation_is_deleting_an_entry(tmp_path: Path) -> None:
    first = credentials.ensure(tmp_path, ["customer"])
    path = credentials.credentials_path(tmp_path)
    doc = json.loads(path.read_text())
    del doc["parties"]["customer"]
    path.write_text(json.dumps(doc))
    rotated = credentials.ensure(tmp_path, ["customer"])
    assert rotated.parties["customer"] != first.parties["customer"]
    assert rotated.readers["customer"] == first.readers["customer"]


def test_a_service_gets_only_its_share() -> None:
    creds = Credentials().completed(["customer"])
    intake = credentials.service_env(creds, "intake")
    assert json.loads(intake["BATON_INTAKE_PARTY_TOKENS"]) == creds.parties
    assert json.loads(intake["BATON_INTAKE_SOURCE_TOKENS"]) == creds.sources
    assert "BATON_REPORTING_READER_TOKENS" not in intake
    assert set(credentials.service_env(creds, "reporting")) == {"BATON_REPORTING_READER_TOKENS"}
    # the action links' secret: the router signs them, intake checks them; nobody else has it
    assert credentials.service_env(creds, "router") == {"BATON_LINKS_SECRET": creds.links_secret}
    assert intake["BATON_LINKS_SECRET"] == creds.links_secret
    assert "BATON_LINKS_SECRET" not in credentials.service_env(creds, "sla-clock")


def _auth_header(auth: credentials.StackAuth, method: str, url: str, **kw: Any) -> str | None:
    sent = next(auth.auth_flow(httpx.Request(method, url, **kw)))
    return sent.headers.get("authorization")  # type: ignore[no-any-return]


def test_stack_auth_puts_on_each_request_the_credential_its_service_asks_for() -> None:
    creds = Credentials().completed(["customer", "dba"])
    auth = credentials.StackAuth(creds)
    intake, reporting = "http://127.0.0.1:8080", "http://127.0.0.1:8083"
    bearer = "Bearer {}".format
    assert _auth_header(auth, "POST", f"{intake}/v1/alerts/zabbix", json={}) == bearer(
        creds.sources["zabbix"]
    )
    assert _auth_header(auth, "POST", f"{intake}/v1/alerts", json={}) == bearer(
        creds.sources["generic"]
    )
    assert _auth_header(auth, "POST", f"{intake}/v2/enqueue", json={}) == bearer(
        creds.sources["pagerduty"]
    )
    assert _auth_header(auth, "POST", f"{intake}/v1/incidents", json={}) == bearer(
        creds.sources["user"]
    )
    action = {"action": "confirm", "party": "customer", "actor": "desk"}
    assert _auth_header(
        auth, "POST", f"{intake}/v1/incidents/INC-1/actions", json=action
    ) == bearer(creds.parties["customer"])
    assert _auth_header(auth, "GET", f"{reporting}/v1/incidents/INC-1") == bearer(
        creds.readers[OPERATOR]
    )
    assert _auth_header(auth, "GET", f"{reporting}/v1/reports/sla?month=2026-11") == bearer(
        creds.readers[OPERATOR]
    )
    assert _auth_header(auth, "GET", f"{intake}/healthz") is None
    assert _auth_header(auth, "POST", "http://127.0.0.1:8082/ping/x") is None
    mine = {"authorization": "Bearer given"}
    assert _auth_header(auth, "GET", f"{reporting}/v1/incidents", headers=mine) == "Bearer given"


def test_stack_auth_names_a_party_the_stack_has_no_token_for() -> None:
    auth = credentials.StackAuth(Credentials().completed(["customer"]))
    with pytest.raises(credentials.MissingCredentials, match="party credential for 'stranger'"):
        _auth_header(auth, "POST", "http://i/v1/incidents/I/actions", json={"party": "stranger"})


def test_require_names_the_file_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(credentials.MissingCredentials, match="baton stack up") as missing:
        credentials.require(tmp_path)
    assert str(credentials.credentials_path(tmp_path)) in str(missing.value)
