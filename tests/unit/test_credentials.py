"""The local stack's credentials: generated once, owner-only, topped up, never regenerated."""

from __future__ import annotations

import json
import stat
from pathlib import Path

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
    assert credentials.service_env(creds, "router") == {}
