"""Secure by default: the open doors of each service, the refusal and the insecure start."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import SecretStr

from shared import doors
from shared.doors import InsecureStart, admit, open_doors
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = {"x": SecretStr("t" * 40)}
# Kafka with a SASL user and PostgreSQL with a password: those two doors closed
CONNECTED: dict[str, Any] = {
    "kafka_security_protocol": "SASL_PLAINTEXT",
    "kafka_sasl_username": "baton-reporting",
    "kafka_sasl_password": SecretStr("k" * 40),
    "pg_dsn": SecretStr("postgresql://baton:p4ss@127.0.0.1:5433/baton"),
}


def reasons(service: str, settings: Settings) -> set[str]:
    return {d.reason for d in open_doors(service, settings)}


def test_intake_without_credentials_has_two_open_doors() -> None:
    assert reasons("intake", Settings()) >= {
        "receivers without authentication",
        "actions without party tokens",
    }


def test_intake_doors_close_with_their_settings() -> None:
    assert "receivers without authentication" not in reasons(
        "intake", Settings(intake_source_tokens=TOKEN)
    )
    assert "receivers without authentication" not in reasons(
        "intake", Settings(intake_hmac_secrets=TOKEN)
    )
    assert "actions without party tokens" not in reasons(
        "intake", Settings(intake_party_tokens=TOKEN)
    )


def test_reporting_without_reader_tokens_has_an_open_read_api() -> None:
    assert "read API without reader tokens" in reasons("reporting", Settings())
    assert "read API without reader tokens" not in reasons(
        "reporting", Settings(reporting_reader_tokens=TOKEN)
    )


def test_a_door_belongs_to_its_services_only() -> None:
    assert "read API without reader tokens" not in reasons("intake", Settings())
    assert "actions without party tokens" not in reasons("reporting", Settings())


@pytest.mark.parametrize("service", ["intake", "router", "sla-clock", "reporting"])
def test_every_service_has_the_kafka_and_postgresql_doors(service: str) -> None:
    assert {"Kafka without authentication", "PostgreSQL without password"} <= reasons(
        service, Settings()
    )
    assert not {"Kafka without authentication", "PostgreSQL without password"} & reasons(
        service, Settings(**CONNECTED)
    )


@pytest.mark.parametrize(
    ("change", "door"),
    [
        ({"kafka_security_protocol": "PLAINTEXT"}, "Kafka without authentication"),
        ({"kafka_security_protocol": "SSL"}, "Kafka without authentication"),
        ({"kafka_sasl_password": SecretStr("")}, "Kafka without authentication"),
        ({"kafka_sasl_username": None}, "Kafka without authentication"),
        (
            {"pg_dsn": SecretStr("postgresql://baton@127.0.0.1/baton")},
            "PostgreSQL without password",
        ),
    ],
)
def test_half_a_credential_leaves_the_door_open(change: dict[str, Any], door: str) -> None:
    assert door in reasons("router", Settings(**{**CONNECTED, **change}))


def test_a_password_parameter_closes_the_postgresql_door() -> None:
    dsn = SecretStr("postgresql://baton@127.0.0.1/baton?password=p4ss")
    assert "PostgreSQL without password" not in reasons("router", Settings(pg_dsn=dsn))


def test_admit_refuses_open_doors_naming_each_setting() -> None:
    with pytest.raises(InsecureStart) as refused:
        admit("intake", Settings(intake_party_tokens=TOKEN), CollectorRegistry())
    text = str(refused.value)
    assert "BATON_INTAKE_SOURCE_TOKENS" in text
    assert "BATON_INTAKE_HMAC_SECRETS" in text
    assert "BATON_INTAKE_PARTY_TOKENS" not in text  # that door is closed
    assert "BATON_INSECURE=1" in text


def test_admit_with_insecure_warns_and_exports_each_door(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    with caplog.at_level(logging.WARNING, logger=doors.__name__):
        found = admit("reporting", Settings(insecure=True, **CONNECTED), registry)
    assert [d.reason for d in found] == ["read API without reader tokens"]
    warned = [r for r in caplog.records if getattr(r, "door", None)]
    assert [r.door for r in warned] == ["read API without reader tokens"]  # type: ignore[attr-defined]
    assert "INSECURE" in warned[0].getMessage()
    metrics = generate_latest(registry).decode()
    assert (
        'baton_insecure_mode{reason="read API without reader tokens",service="reporting"} 1.0'
        in metrics
    )


def test_admit_with_every_door_closed_exports_nothing() -> None:
    registry = CollectorRegistry()
    closed = Settings(reporting_reader_tokens=TOKEN, insecure=True, **CONNECTED)
    assert admit("reporting", closed, registry) == []
    assert "baton_insecure_mode{" not in generate_latest(registry).decode()


def test_intake_process_refuses_to_start_without_credentials(tmp_path: Path) -> None:
    """The real entry point: exit code 2 and a message naming the missing settings, before it
    touches Kafka or PostgreSQL (none is needed for the refusal)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATON_") or k in {"BATON_STACK_DIR"}
    }
    done = subprocess.run(
        [sys.executable, "-m", "intake"],
        env={**env, "BATON_HTTP_PORT": "1"},
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == doors.REFUSED_EXIT_CODE, done.stderr[-2000:]
    assert "intake refuses to start without credentials" in done.stderr
    assert "BATON_INTAKE_SOURCE_TOKENS" in done.stderr
    assert "BATON_INTAKE_PARTY_TOKENS" in done.stderr
