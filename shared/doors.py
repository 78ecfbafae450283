"""Secure by default: the "open doors" a service would start with, and the start check.

An open door is a way in that nobody has to authenticate for: a receiver that takes alerts
from anyone, actions without party tokens, a read API without reader tokens. A service started
with any open door refuses to start (exit code 2, a message naming each door and the settings
that close it) unless ``BATON_INSECURE=1`` is set; then it starts, logs a warning per door and
exports ``baton_insecure_mode{service, reason="<door>"} 1``, which the ``BatonInsecureMode``
alert rule (deploy/prometheus/rules.yml) fires on.

Each door is one :class:`Door` in :data:`DOORS`: the services it concerns, the reason (the
metric's label), the settings that close it and a predicate on the service's settings. Every
service has two: Kafka without authentication (no SASL user) and PostgreSQL without a password.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, Gauge

from shared.settings import Settings

log = logging.getLogger(__name__)

INSECURE_ENV = "BATON_INSECURE"
REFUSED_EXIT_CODE = 2
ALL_SERVICES = frozenset({"intake", "router", "sla-clock", "reporting"})


@dataclass(frozen=True, slots=True)
class Door:
    """One way into a service that needs no credential while ``is_open(settings)`` holds."""

    reason: str  # the metric label and the log's name for it: short, stable
    services: frozenset[str]
    closed_by: tuple[str, ...]  # the settings (any one of them) that close it
    opens: str  # what anyone can do through it, for the refusal and the warning
    is_open: Callable[[Settings], bool]

    def describe(self) -> str:
        return f"{self.reason} (set {' or '.join(self.closed_by)}): {self.opens}"


DOORS: list[Door] = [
    Door(
        reason="receivers without authentication",
        services=frozenset({"intake"}),
        closed_by=("BATON_INTAKE_SOURCE_TOKENS", "BATON_INTAKE_HMAC_SECRETS"),
        opens="anyone can post alerts and user reports to every receiver",
        is_open=lambda s: not (s.intake_source_tokens or s.intake_hmac_secrets),
    ),
    Door(
        reason="actions without party tokens",
        services=frozenset({"intake"}),
        closed_by=("BATON_INTAKE_PARTY_TOKENS",),
        opens="anyone can act as any party (acknowledge, restore, confirm, reopen) and read"
        " the objects' change history",
        is_open=lambda s: not s.intake_party_tokens,
    ),
    Door(
        reason="Kafka without authentication",
        services=ALL_SERVICES,
        closed_by=(
            "BATON_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT|SASL_SSL with"
            " BATON_KAFKA_SASL_USERNAME and BATON_KAFKA_SASL_PASSWORD",
        ),
        opens="the broker does not know who this service is: whoever reaches it reads and"
        " writes every topic (forged incidents, commands, assignments), ACLs cannot apply",
        is_open=lambda s: not _kafka_authenticates(s),
    ),
    Door(
        reason="PostgreSQL without password",
        services=ALL_SERVICES,
        closed_by=("BATON_PG_DSN with the role's password (postgresql://user:password@…)",),
        opens="the database lets this service in without a password, so it lets anyone in"
        " (trust authentication): every incident, timer and report can be read or changed",
        is_open=lambda s: not _pg_password(s),
    ),
    Door(
        reason="read API without reader tokens",
        services=frozenset({"reporting"}),
        closed_by=("BATON_REPORTING_READER_TOKENS",),
        opens="anyone can read every incident, timeline, SLA report and document",
        is_open=lambda s: not s.reporting_reader_tokens,
    ),
    Door(
        reason="check-in keys without a secret",
        services=frozenset({"sla-clock"}),
        closed_by=("BATON_CHECKIN_SECRET",),
        opens="every check-in key follows from the contract every party holds: anyone can"
        " report a backup or an exchange done and clear its alert",
        is_open=lambda s: not s.checkin_secret,
    ),
    Door(
        reason="check-in status without reader tokens",
        services=frozenset({"sla-clock"}),
        closed_by=("BATON_REPORTING_READER_TOKENS",),
        opens="anyone can list the watched check-ins, their schedule and their state",
        is_open=lambda s: not s.reporting_reader_tokens,
    ),
]


def _kafka_authenticates(settings: Settings) -> bool:
    """SASL with a user and a password (TLS alone proves the broker, not the client)."""
    return (
        settings.kafka_security_protocol.startswith("SASL")
        and bool(settings.kafka_sasl_username)
        and settings.kafka_sasl_password is not None
        and bool(settings.kafka_sasl_password.get_secret_value())
    )


def _pg_password(settings: Settings) -> bool:
    """The DSN carries a password (``user:password@`` or a ``password=`` parameter)."""
    dsn = urlsplit(settings.pg_dsn.get_secret_value())
    return bool(dsn.password) or "password" in parse_qs(dsn.query)


def open_doors(service: str, settings: Settings) -> list[Door]:
    """The doors ``service`` would start with open under ``settings``."""
    return [d for d in DOORS if service in d.services and d.is_open(settings)]


class InsecureStart(Exception):
    """A service would start with open doors and ``BATON_INSECURE`` is not set."""

    def __init__(self, service: str, doors: list[Door]) -> None:
        self.service = service
        self.doors = doors
        lines = "\n".join(f"  - {d.describe()}" for d in doors)
        super().__init__(
            f"{service} refuses to start without credentials:\n{lines}\n"
            f"Set the settings named above (`baton stack up` generates them into the stack"
            f" folder), or set {INSECURE_ENV}=1 to start open on purpose."
        )


def admit(service: str, settings: Settings, registry: CollectorRegistry) -> list[Door]:
    """The start check: raise :class:`InsecureStart` for open doors without ``insecure``;
    with it, warn once per door and set ``baton_insecure_mode{service, reason}`` to 1 for each."""
    doors = open_doors(service, settings)
    if doors and not settings.insecure:
        raise InsecureStart(service, doors)
    if doors:
        gauge = Gauge(
            "baton_insecure_mode",
            "1 per open door this service was started with (BATON_INSECURE=1)",
            ["service", "reason"],
            registry=registry,
        )
        for door in doors:
            gauge.labels(service, door.reason).set(1)
            log.warning(
                "INSECURE: started with an open door (%s=1)",
                INSECURE_ENV,
                extra={"door": door.reason, "closed_by": list(door.closed_by), "opens": door.opens},
            )
    return doors


def admit_or_exit(service: str, settings: Settings, registry: CollectorRegistry) -> None:
    """:func:`admit` for a service's main: a refusal is logged, printed and exits with 2."""
    try:
        admit(service, settings, registry)
    except InsecureStart as exc:
        log.critical("refused to start: open doors", extra={"doors": [d.reason for d in exc.doors]})
        sys.stderr.write(f"{exc}\n")  # plain words for whoever started it, besides the log
        sys.stderr.flush()
        raise SystemExit(REFUSED_EXIT_CODE) from None
