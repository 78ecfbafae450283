"""Who may talk to intake: per-source credentials for receivers, per-party tokens for actions.

Receivers: a bearer token (``Authorization: Bearer <token>``) or an HMAC-SHA256 signature of
``<timestamp>.<body>`` (``X-Baton-Timestamp``: Unix seconds; ``X-Baton-Signature``:
``sha256=<hex>``), the timestamp within the replay window and each signature accepted once —
remembered in PostgreSQL by the service, so every instance and a restarted one know it.
PagerDuty clients cannot add headers, so for ``pagerduty`` the event's ``routing_key`` counts
as its bearer token. Authentication is on as soon as any receiver credential is configured; a
source without credentials is then refused (403). Actions: a party's token must match the
party named in the action. Secrets are ``SecretStr`` and never appear in a reason or a log.
Each credential may hold several secrets while it is rotated (``shared.settings.Credential``):
any of them is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from intake.guard import Refusal
from shared.settings import Credential, Settings, matches

TIMESTAMP_HEADER = "x-baton-timestamp"
SIGNATURE_HEADER = "x-baton-signature"
SEEN_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class Signed:
    """A request accepted on its signature: the signature must not be accepted again before
    ``expires_at`` (the end of the replay window around its timestamp)."""

    signature: str
    expires_at: datetime


def replayed() -> Refusal:
    return _unauthorized(f"{SIGNATURE_HEADER}: already used (replayed request)")


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Baton-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _unauthorized(reason: str) -> Refusal:
    return Refusal(401, reason, kind="auth", headers={"www-authenticate": 'Bearer realm="baton"'})


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._tokens = settings.intake_source_tokens
        self._secrets = settings.intake_hmac_secrets
        self._window = settings.intake_replay_window_seconds
        self._parties = settings.intake_party_tokens
        self._seen: OrderedDict[str, float] = OrderedDict()

    @property
    def receivers_on(self) -> bool:
        return bool(self._tokens or self._secrets)

    @property
    def actions_on(self) -> bool:
        return bool(self._parties)

    def check_source(
        self,
        source: str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
        routing_key: str | None = None,
    ) -> Signed | None:
        """None (a token, or authentication off) or the ``Signed`` request to remember — or a
        401/403 ``Refusal`` naming why not. The caller makes sure a signature is used once."""
        if not self.receivers_on:
            return None
        token, secret = self._tokens.get(source), self._secrets.get(source)
        if token is None and secret is None:
            raise Refusal(403, f"source {source}: no credentials configured", kind="auth")
        given = _bearer(headers) or routing_key
        if token is not None and given is not None and matches(given, token):
            return None
        if secret is not None and SIGNATURE_HEADER in headers:
            return self._check_signature(secret, headers, body, now)
        if given is None and SIGNATURE_HEADER not in headers:
            raise _unauthorized(f"source {source}: a bearer token or a signature is required")
        raise _unauthorized(f"source {source}: the credentials do not match")

    def before_body(self, source: str, headers: Mapping[str, str]) -> None:
        """What can be refused before the body is read: no credential for ``source``, or a
        bearer token that is not its own with no signature to check instead. Nothing of an
        unauthenticated request's body is read (up to 64 MB for a group sender: issue 25)."""
        if not self.receivers_on:
            return
        token, secret = self._tokens.get(source), self._secrets.get(source)
        if token is None and secret is None:
            raise Refusal(403, f"source {source}: no credentials configured", kind="auth")
        if secret is not None and SIGNATURE_HEADER in headers:
            return  # the signature covers the body: checked once it is read
        given = _bearer(headers)
        if given is None:
            raise _unauthorized(f"source {source}: a bearer token or a signature is required")
        if token is None or not matches(given, token):
            raise _unauthorized(f"source {source}: the credentials do not match")

    def party_before_body(self, headers: Mapping[str, str]) -> None:
        """An action's token must be some party's before its body is read (which party it
        acts for is checked against the body)."""
        self.token_party(headers)

    def _check_signature(
        self, secret: Credential, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Signed:
        try:
            stamp = int(headers.get(TIMESTAMP_HEADER, ""))
        except ValueError:
            raise _unauthorized(f"{TIMESTAMP_HEADER}: required, in Unix seconds") from None
        age = now.timestamp() - stamp
        if abs(age) > self._window:
            raise _unauthorized(
                f"{TIMESTAMP_HEADER}: {age:.0f}s from now, outside the {self._window:.0f}s window"
            )
        signature = headers.get(SIGNATURE_HEADER, "")
        if not any(
            hmac.compare_digest(signature, sign(one.get_secret_value(), stamp, body))
            for one in secret
        ):
            raise _unauthorized(f"{SIGNATURE_HEADER}: does not match the body and timestamp")
        expires = datetime.fromtimestamp(stamp, now.tzinfo) + timedelta(seconds=self._window)
        return Signed(signature, expires)

    def remember(self, signed: Signed, now: datetime) -> bool:
        """This process's own memory of used signatures, for an intake without a database
        (unit tests); False when ``signed`` was used before."""
        while self._seen and next(iter(self._seen.values())) < now.timestamp():
            self._seen.popitem(last=False)
        if signed.signature in self._seen:
            return False
        self._seen[signed.signature] = signed.expires_at.timestamp()
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    def token_party(self, headers: Mapping[str, str]) -> str | None:
        """The party whose bearer token ``headers`` carry (401 for none or an unknown one), or
        None when action auth is off: who reads an object's change history, who acts."""
        if not self.actions_on:
            return None
        given = _bearer(headers)
        if given is None:
            raise _unauthorized("a party API token is required (Authorization: Bearer ...)")
        party = next((p for p, t in self._parties.items() if matches(given, t)), None)
        if party is None:
            raise _unauthorized("the API token matches no party")
        return party

    def check_party(self, headers: Mapping[str, str], party: str) -> None:
        """The bearer token must belong to ``party``; nothing when action auth is off."""
        owner = self.token_party(headers)
        if owner is not None and owner != party:
            raise Refusal(403, f"party: this token acts for {owner}, not {party}", kind="auth")
