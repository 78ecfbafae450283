"""Secrets out of kept payloads: what a dead letter stores is read by operators, so a routing
key, a token, a password or a signature in a refused body is replaced before it is kept.

JSON bodies are walked and every value under a secret-looking key is replaced; text that is not
JSON (or JSON too broken to parse) is scrubbed by pattern. Both are deliberately generous: a
false positive costs an operator one redacted field, a false negative leaks a credential.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

REDACTED = "[redacted]"

# Normalised key names (lower case, "-" as "_") whose values are secrets.
SECRET_KEYS = frozenset(
    {
        "routing_key",
        "integration_key",
        "service_key",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "private_key",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "signature",
        "x_baton_signature",
        "x_hub_signature",
        "x_hub_signature_256",
        "sasl_password",
        "dsn",
    }
)
SECRET_SUFFIXES = (
    "_token",
    "_secret",
    "_password",
    "_signature",
    "_api_key",
    "_private_key",
    "_secret_key",
    "_access_key",
)

# ``key: value`` / ``key=value`` pairs in text that is not JSON; the key is judged by
# ``is_secret_key``. The look-behind makes a match start only at the beginning of a name, which
# keeps the scan linear on long runs of word characters (a 600 KB body must not take minutes).
_PAIR = re.compile(
    r"""(?<![A-Za-z0-9_-])(?P<q>["']?)(?P<key>[A-Za-z0-9_-]{1,64})(?P=q)\s*[:=]\s*"""
    r"""(?P<value>(?i:bearer|basic|token)\s+[^\s,;&}]+|"(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&}]+)"""
)
_SCHEMES = (
    # Authorization header values written out in text
    re.compile(r"(?P<head>\b(?:Bearer|Basic|Token)\s+)(?P<value>[A-Za-z0-9._~+/=-]+)", re.I),
    # credentials inside URLs: scheme://user:password@host
    re.compile(
        r"(?P<head>\b[a-z][a-z0-9+.-]{0,20}://[^/\s:@]{1,256}:)(?P<value>[^@\s/]{1,256})(?=@)",
        re.I,
    ),
)


def is_secret_key(key: str) -> bool:
    name = key.strip().lower().replace("-", "_")
    return name in SECRET_KEYS or name.endswith(SECRET_SUFFIXES)


def redact_value(doc: Any) -> Any:
    """``doc`` with every value under a secret-looking key replaced, recursively."""
    if isinstance(doc, dict):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_key(k) else redact_value(v))
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [redact_value(v) for v in doc]
    if isinstance(doc, str):
        return redact_text(doc)
    return doc


def redact_text(text: str) -> str:
    text = _PAIR.sub(_redact_pair, text)
    for pattern in _SCHEMES:
        text = pattern.sub(lambda m: m.group("head") + REDACTED, text)
    return text


def _redact_pair(match: re.Match[str]) -> str:
    if not is_secret_key(match.group("key")):
        return match.group(0)
    value = match.group("value")
    quote = value[0] if value[:1] in {'"', "'"} else ""
    head = match.group(0)[: match.start("value") - match.start(0)]
    return f"{head}{quote}{REDACTED}{quote}"


def redact_payload(payload: bytes) -> bytes:
    """A refused body with its secrets replaced: walked as JSON where it parses, by pattern
    where it does not."""
    try:
        doc = orjson.loads(payload)
        redacted = redact_value(doc)
    except (orjson.JSONDecodeError, RecursionError):  # not JSON, or nested too deep to walk
        return redact_text(payload.decode("utf-8", errors="replace")).encode()
    return payload if redacted == doc else orjson.dumps(redacted)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: REDACTED if is_secret_key(k) else redact_text(v) for k, v in headers.items()}


def sample(payload: bytes, limit: int) -> tuple[bytes, str]:
    """The first ``limit`` bytes of ``payload`` and a note saying so, when it is longer."""
    if len(payload) <= limit:
        return payload, ""
    return payload[:limit], f" (unauthenticated: a sample of {limit} of {len(payload)} bytes kept)"
