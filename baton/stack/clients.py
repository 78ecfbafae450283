"""How services and clients reach the stack: environments, credentials, CLI settings."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baton import credentials
from baton.credentials import KAFKA_ADMIN, Credentials
from baton.stack.layout import (
    _KIND,
    DEFAULT_PORTS,
    EXAMPLE_CONTRACT,
    KAFKA_MECHANISM,
    KAFKA_SECURITY_PROTOCOL,
    Service,
    StackError,
    StackPaths,
    StackPorts,
    stack_paths,
    stack_ports,
)
from shared.contract import load_contract
from shared.settings import Settings


def kafka_env(ports: StackPorts, creds: Credentials, entry: str = KAFKA_ADMIN) -> dict[str, str]:
    """The ``BATON_KAFKA_*`` variables of a client that authenticates as ``entry`` (a key of
    the credentials' ``kafka``: ``admin``, a service's name, a party's id)."""
    return {
        "BATON_KAFKA_BOOTSTRAP": ports.bootstrap,
        "BATON_KAFKA_SECURITY_PROTOCOL": KAFKA_SECURITY_PROTOCOL,
        "BATON_KAFKA_SASL_MECHANISM": KAFKA_MECHANISM,
        "BATON_KAFKA_SASL_USERNAME": credentials.kafka_username(entry),
        "BATON_KAFKA_SASL_PASSWORD": creds.kafka[entry],
    }


# kafka_env's variables as aiokafka's keywords: one list of what a Kafka client needs
_AIOKAFKA_KEYWORDS = {
    "BATON_KAFKA_BOOTSTRAP": "bootstrap_servers",
    "BATON_KAFKA_SECURITY_PROTOCOL": "security_protocol",
    "BATON_KAFKA_SASL_MECHANISM": "sasl_mechanism",
    "BATON_KAFKA_SASL_USERNAME": "sasl_plain_username",
    "BATON_KAFKA_SASL_PASSWORD": "sasl_plain_password",
}


def kafka_client(ports: StackPorts, creds: Credentials, entry: str = KAFKA_ADMIN) -> dict[str, Any]:
    """aiokafka keywords (``AIOKafkaProducer(**kafka_client(...))``) for ``entry``."""
    env = kafka_env(ports, creds, entry)
    return {keyword: env[name] for name, keyword in _AIOKAFKA_KEYWORDS.items()}


def service_env(
    service: Service,
    base: Mapping[str, str],
    ports: StackPorts = DEFAULT_PORTS,
    creds: credentials.Credentials | None = None,
) -> dict[str, str]:
    """The environment a service process gets: ``base`` plus the stack's addresses and the
    service's share of the stack's credentials: its tokens, its own Kafka user and the
    PostgreSQL password."""
    kind = _KIND[service.module]  # a second instance (intake-2) gets the share of its kind
    env = {
        **base,
        "BATON_HTTP_PORT": str(service.port),
        "BATON_KAFKA_BOOTSTRAP": ports.bootstrap,
        "BATON_PG_DSN": ports.dsn,
        "BATON_CONTRACT_PATH": str(stack_contract(base)),
    }
    if creds is not None:
        env |= credentials.service_env(creds, kind) | kafka_env(ports, creds, kind)
        if creds.postgres_password:
            env["BATON_PG_DSN"] = ports.dsn_with(creds.postgres_password)
    return env


def stack_contract(environ: Mapping[str, str] = os.environ) -> Path:
    """The contract the stack's services run: the realistic example environment, unless the
    operator names another one (``BATON_CONTRACT_PATH``)."""
    return Path(environ.get("BATON_CONTRACT_PATH") or EXAMPLE_CONTRACT)


def ensure_credentials(paths: StackPaths, environ: Mapping[str, str] = os.environ) -> Path:
    """Make or top up the stack's credentials for the parties of the contract it runs; where
    they are (never the secrets: those stay in the owner-only file)."""
    credentials.ensure(paths.root, load_contract(stack_contract(environ)).parties)
    return credentials.credentials_path(paths.root)


def service_argv(service: Service) -> list[str]:
    return [sys.executable, "-m", service.module]


def stack_credentials(paths: StackPaths | None = None) -> Credentials:
    """The stack's credentials; StackError when it has none (never started)."""
    paths = paths or stack_paths()
    creds = credentials.load(paths.root)
    if creds is None:
        raise StackError(
            f"{credentials.credentials_path(paths.root)} does not exist: `baton stack up` first"
        )
    return creds


def client_env(paths: StackPaths | None = None, entry: str = KAFKA_ADMIN) -> dict[str, str]:
    """``BATON_*`` variables for a client of the stack (the CLI, tests): Kafka as ``entry``
    (``admin`` unless told) and the PostgreSQL DSN with its password."""
    paths = paths or stack_paths()
    ports = stack_ports(paths)
    creds = stack_credentials(paths)
    env = {
        **kafka_env(ports, creds, entry),
        "BATON_PG_DSN": ports.dsn_with(creds.postgres_password),
    }
    if creds.checkin_secret:  # the check-in keys a client prints or pings with (ADR 35)
        env["BATON_CHECKIN_SECRET"] = creds.checkin_secret
    return env


def client_settings(
    paths: StackPaths | None = None, environ: Mapping[str, str] = os.environ
) -> Settings:
    """Settings for a CLI command: the ``BATON_*`` environment, with the local stack's address
    and admin credentials filling in what it leaves unset. A ``BATON_KAFKA_BOOTSTRAP`` naming
    another cluster gets no local credentials; with no local stack, the environment alone."""
    paths = paths or stack_paths(environ)
    try:
        env = client_env(paths)
    except StackError:
        return Settings()
    if (
        environ.get("BATON_KAFKA_BOOTSTRAP", env["BATON_KAFKA_BOOTSTRAP"])
        != env["BATON_KAFKA_BOOTSTRAP"]
    ):
        env = {k: v for k, v in env.items() if not k.startswith("BATON_KAFKA_")}
    fill: dict[str, Any] = {
        k.removeprefix("BATON_").lower(): v for k, v in env.items() if k not in environ
    }
    return Settings(**fill)
