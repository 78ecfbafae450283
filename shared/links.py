"""Signed action links: a person presses a link in a message and acts as its party.

The rules (ADR 0032):

- A link names exactly one action by one party on one incident (``Claims``); it is the
  router's promise that the person it was sent to may ask for it — intake still decides with
  the same rules as the HTTP action API, so a link never grants more than the party's part.
- It is ``<claims>.<mac>``: the claims as compact JSON in URL-safe base64, and HMAC-SHA256 of
  that text under the links secret (``BATON_LINKS_SECRET``, generated with the stack's other
  credentials; several while it is rotated). Altering one character of either half breaks the
  MAC; nothing in it is secret, nothing secret is in it.
- It expires (``e``, Unix seconds, fixed by the message that carries it — so redelivering the
  message signs the very same link), and it is used once: intake remembers its MAC until it
  expires. A reused, expired, forged or altered link is refused with a reason that names
  what was wrong and never echoes a secret.
- Signing is pure and deterministic (``now`` is an input; the nonce is the notification's id),
  so the router can render a message again and get the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson
from pydantic import ConfigDict, Field, ValidationError

from shared.events import AccessStep, ActionKind, Layer
from shared.model import Model

# The actions a link may carry: taking an assignment, reporting a check, restoring, and the
# customer's answer. Pause, reclassify and re-route need a reason typed by a person: the API.
LINK_ACTIONS = frozenset(
    {
        ActionKind.ACKNOWLEDGE,
        ActionKind.DIAGNOSIS,
        ActionKind.RESTORED,
        ActionKind.CONFIRM,
        ActionKind.REJECT,
    }
)

# The access-request steps a link may carry (ADR 49): the approver's approval and the issuer's
# grant. A denial or a rejection records a reason a person types: the API.
LINK_STEPS = frozenset({AccessStep.APPROVE, AccessStep.GRANT})


class Claims(Model):
    """What one link asks for. Short field names: the link is read on a phone."""

    model_config = ConfigDict(populate_by_name=True)  # frozen, forbidding extras: Model's

    incident: str = Field(alias="i", max_length=200)
    party: str = Field(alias="p", max_length=200)
    action: ActionKind | None = Field(None, alias="a", description="an incident action")
    step: AccessStep | None = Field(None, alias="s", description="or a step of an access request")
    request: str | None = Field(None, alias="r", max_length=64, description="its request id")
    layer: Layer | None = Field(None, alias="l", description="diagnosis: the layer checked")
    fault_found: bool | None = Field(None, alias="f", description="diagnosis: the finding")
    nonce: str = Field(alias="n", max_length=64, description="the notification's id")
    expires: int = Field(alias="e", description="Unix seconds")
    to: str = Field("", alias="t", max_length=200, description="who it was sent to (party/contact)")

    @property
    def verb(self) -> str:
        """What the link does, in a word: the action or the access step."""
        return self.step.value if self.step is not None else str(getattr(self.action, "value", ""))

    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


class LinkRefused(Exception):
    """The link cannot act; ``reason`` is a short word for metrics, ``detail`` for the page."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def sign(secret: str, claims: Claims) -> str:
    """The link token for ``claims`` (deterministic)."""
    body = _b64(orjson.dumps(claims.model_dump(by_alias=True, exclude_none=True, mode="json")))
    return f"{body}.{_mac(secret, body)}"


def mac_of(token: str) -> str:
    """The part of a token that is remembered once used (it identifies the link)."""
    return token.rpartition(".")[2]


def verify(secrets: Iterable[str], token: str, now: datetime) -> Claims:
    """The claims of an authentic, unexpired link, or ``LinkRefused``. Single use is the
    caller's part (it holds the memory of used links)."""
    body, dot, mac = token.partition(".")
    if not dot or not body or not mac or len(token) > 2000:
        raise LinkRefused("malformed", "this is not a Baton action link")
    if not any(hmac.compare_digest(mac, _mac(s, body)) for s in secrets):
        raise LinkRefused("forged", "this link was altered or not signed by Baton")
    try:
        claims = Claims.model_validate(orjson.loads(_unb64(body)))
    except (ValueError, binascii.Error, ValidationError, orjson.JSONDecodeError):
        raise LinkRefused("malformed", "this link's content is not readable") from None
    if (claims.action is None) == (claims.step is None):
        raise LinkRefused("malformed", "a link names one action or one access step")
    if claims.action is not None and claims.action not in LINK_ACTIONS:
        raise LinkRefused("malformed", f"a link cannot {claims.action.value}")
    if claims.step is not None and (claims.step not in LINK_STEPS or not claims.request):
        raise LinkRefused("malformed", f"a link cannot {claims.step.value} (or names no request)")
    if now.timestamp() >= claims.expires:
        raise LinkRefused(
            "expired", f"this link expired at {claims.expires_at():%Y-%m-%d %H:%M} UTC"
        )
    return claims
