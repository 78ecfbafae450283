"""The local stack's credentials: generated once, kept in ``<stack>/secrets/``, used by everyone.

``baton stack up`` makes (or tops up) ``<stack>/secrets/credentials.json`` — readable by its
owner only, in the stack folder that git ignores — with a random secret for every identity the
stack has:

- ``sources``: one bearer token per monitoring source intake receives from;
- ``parties``: one action token per contract party (intake's actions);
- ``readers``: one read token per contract party and for ``operator`` (reporting's read API);
- ``kafka``: one SASL/SCRAM user per service, per party (its inbox and assignment topics) and an
  ``admin`` user for topic and ACL administration;
- ``postgres``: the password of the database role the services use;
- ``checkin_secret``: the secret check-in keys are derived under (sla-clock's pings, ADR 35);
- ``links``: the HMAC secret of the action links in messages to people (router signs, intake
  checks).

A service gets its own share as ``BATON_*`` variables (:func:`service_env`), a client — demo,
bench, tests, the CLI — reads the file. Rotation: ``baton stack down``, delete the file (or
one entry), ``baton stack up``: what is missing is generated anew, what is there is kept.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Generator, Iterable, Mapping
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, Field

SECRETS_DIR = "secrets"
CREDENTIALS_FILE = "credentials.json"
OPERATOR = "operator"
KAFKA_ADMIN = "admin"

# intake's receivers, by the source name each authenticates as (intake.<format>.SOURCE)
SOURCES: tuple[str, ...] = (
    "alertmanager",
    "grafana",
    "pagerduty",
    "zabbix",
    "generic",
    "user",
    "changes",  # CI/CD and change-management tools: POST /v1/changes (ADR 46)
)
SERVICE_NAMES: tuple[str, ...] = ("intake", "router", "sla-clock", "reporting")


def new_secret() -> str:
    """A URL-safe random secret of 256 bits."""
    return secrets.token_urlsafe(32)


class Credentials(BaseModel):
    """Every secret of one local stack, by what it authenticates."""

    model_config = ConfigDict(extra="forbid")

    sources: dict[str, str] = Field(default_factory=dict)
    parties: dict[str, str] = Field(default_factory=dict)
    readers: dict[str, str] = Field(default_factory=dict)
    kafka: dict[str, str] = Field(
        default_factory=dict,
        description="SCRAM user -> password: admin, each service by name, each party by id",
    )
    postgres_password: str = ""
    checkin_secret: str = ""
    links_secret: str = ""

    def completed(self, parties: Iterable[str]) -> Credentials:
        """These credentials with a new secret for every identity that has none yet."""
        party_ids = sorted(parties)

        def fill(have: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
            out = dict(have)
            for name in names:
                out.setdefault(name, new_secret())
            return out

        return Credentials(
            sources=fill(self.sources, SOURCES),
            parties=fill(self.parties, party_ids),
            readers=fill(self.readers, (OPERATOR, *party_ids)),
            kafka=fill(self.kafka, (KAFKA_ADMIN, *SERVICE_NAMES, *party_ids)),
            postgres_password=self.postgres_password or new_secret(),
            checkin_secret=self.checkin_secret or new_secret(),
            links_secret=self.links_secret or new_secret(),
        )


class MissingCredentials(Exception):
    """A client needs a credential the stack folder does not hold."""


def kafka_username(entry: str) -> str:
    """The SCRAM user name of a ``kafka`` entry: a service authenticates as ``baton-<service>``
    (the principal ``router.acl`` grants), a party as its id, the administrator as ``admin``."""
    return f"baton-{entry}" if entry in SERVICE_NAMES else entry


def kafka_users(creds: Credentials) -> dict[str, str]:
    """SCRAM user name -> password, for every ``kafka`` entry."""
    return {kafka_username(entry): password for entry, password in creds.kafka.items()}


def credentials_path(stack_dir: Path) -> Path:
    return stack_dir / SECRETS_DIR / CREDENTIALS_FILE


def load(stack_dir: Path) -> Credentials | None:
    """The stack's credentials, or None when it has none yet."""
    path = credentials_path(stack_dir)
    if not path.exists():
        return None
    return Credentials.model_validate_json(path.read_bytes())


def require(stack_dir: Path) -> Credentials:
    """The stack's credentials for a client (demo, bench, CLI), or a clear error."""
    creds = load(stack_dir)
    if creds is None:
        raise MissingCredentials(
            f"no credentials at {credentials_path(stack_dir)}: `baton stack up` makes them"
            " (with BATON_STACK_DIR naming the same stack folder)"
        )
    return creds


def ensure(stack_dir: Path, parties: Iterable[str]) -> Credentials:
    """The stack's credentials, completed for ``parties`` and written back (owner-only)."""
    have = load(stack_dir) or Credentials()
    creds = have.completed(parties)
    if creds != have:
        save(stack_dir, creds)
    return creds


def save(stack_dir: Path, creds: Credentials) -> Path:
    path = credentials_path(stack_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(creds.model_dump_json(indent=2))
    tmp.replace(path)
    return path


def _json(mapping: Mapping[str, str]) -> str:
    return json.dumps(dict(mapping), sort_keys=True)


def service_env(creds: Credentials, service: str) -> dict[str, str]:
    """The ``BATON_*`` variables that give ``service`` its share of the credentials (Kafka and
    PostgreSQL connection secrets are added by the stack, which knows the addresses)."""
    env: dict[str, str] = {}
    if service == "intake":
        env["BATON_INTAKE_SOURCE_TOKENS"] = _json(creds.sources)
        env["BATON_INTAKE_PARTY_TOKENS"] = _json(creds.parties)
    if service in ("intake", "router") and creds.links_secret:
        env["BATON_LINKS_SECRET"] = creds.links_secret
    if service in ("reporting", "sla-clock"):  # sla-clock: its check-in status
        env["BATON_REPORTING_READER_TOKENS"] = _json(creds.readers)
    if service == "sla-clock":
        env["BATON_CHECKIN_SECRET"] = creds.checkin_secret
    return env


# --------------------------------------------------------------------------- clients

_ALERTS = re.compile(r"^/v1/alerts/(?P<source>[a-z]+)$")
_ACTIONS = re.compile(r"^/v1/(incidents/[^/]+/(actions|access|pauses)|problems/[^/]+/close)$")
# receivers whose path does not name their source: PagerDuty's Events API, a user's report
_SOURCE_OF_PATH = {
    "/v1/alerts": "generic",
    "/v2/enqueue": "pagerduty",
    "/v2/change/enqueue": "pagerduty",
    "/v1/changes": "changes",
    "/v1/incidents": "user",
}
_CHANGES = re.compile(r"^/v1/objects/[^/]+/changes$")
_READS = ("/v1/incidents", "/v1/reports", "/v1/checkins", "/v1/changes")


class StackAuth(httpx.Auth):
    """Puts on each request to the stack the credential its service asks for, from the stack's
    credentials: a receiver's source token on alerts (``/v1/alerts/<source>``, PagerDuty's
    ``/v2/*enqueue``, a user report ``POST /v1/incidents``), the acting party's own token on
    an action (the party its JSON body names: each party acts with its own token, as intake
    checks), a party's token on an object's change history, and the ``reader``'s token on
    reporting's reads. A request that already carries ``Authorization`` is left alone; any
    other path (health, metrics, check-in pings) gets nothing."""

    requires_request_body = True

    def __init__(self, creds: Credentials, reader: str = OPERATOR) -> None:
        self.creds = creds
        self.reader = reader

    def secret_for(self, request: httpx.Request) -> str | None:
        path = request.url.path
        if request.method == "POST":
            return self._sender(path, request.content)
        if request.method == "GET" and _CHANGES.match(path):
            return min(self.creds.parties.items())[1] if self.creds.parties else None
        if request.method == "GET" and path.startswith(_READS):
            return _named(self.creds.readers, "reader", self.reader)
        return None

    def _sender(self, path: str, body: bytes) -> str | None:
        m = _ALERTS.match(path)
        source = m["source"] if m else _SOURCE_OF_PATH.get(path)
        if source is not None:
            return _named(self.creds.sources, "source", source)
        if not _ACTIONS.match(path):
            return None
        try:
            party = json.loads(body or b"{}").get("party")
        except (ValueError, AttributeError):
            party = None  # not an action intake would take: sent as it is, refused there
        return _named(self.creds.parties, "party", party) if isinstance(party, str) else None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            secret = self.secret_for(request)
            if secret is not None:
                request.headers["authorization"] = f"Bearer {secret}"
        yield request


def _named(table: Mapping[str, str], kind: str, name: str) -> str:
    try:
        return table[name]
    except KeyError:
        raise MissingCredentials(
            f"no {kind} credential for {name!r} in the stack's credentials: `baton stack up`"
            " with the contract that names it adds it"
        ) from None
