"""What every body must pass before an adapter sees it: size, content type, JSON, depth.

Each refusal is a ``Refusal`` with the HTTP status and a reason that names what was wrong;
the receiver answers with it and keeps the payload in the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from shared.http import describe, field_errors

JSON_TYPES = ("application/json", "text/json")
# the dead-letter event must fit in one Kafka message (1 MiB by default) once JSON-escaped
DEAD_LETTER_PAYLOAD_LIMIT = 600_000


class Refusal(Exception):
    """A payload Baton will not take; ``status`` is the HTTP answer."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        kind: str,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.kind = kind
        self.fields = fields or []
        self.headers = headers or {}
        self.payload = b""

    @classmethod
    def invalid(cls, exc: ValidationError) -> Refusal:
        return cls(422, describe(exc), kind="schema", fields=field_errors(exc))

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.reason}
        if self.fields:
            out["fields"] = self.fields
        return out


def check_content_type(content_type: str | None) -> None:
    """JSON, or no content type at all (curl and many scripts send none)."""
    if not content_type:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_TYPES or media.endswith("+json"):
        return
    raise Refusal(
        415, f"content-type: expected application/json, got {media!r}", kind="content_type"
    )


def check_length(declared: str | None, limit: int) -> None:
    if declared is None:
        return
    try:
        size = int(declared)
    except ValueError:
        raise Refusal(400, "content-length: not a number", kind="size") from None
    if size > limit:
        raise Refusal(413, f"(body): {size} bytes, the limit is {limit}", kind="size")


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The body, or a 413 ``Refusal`` (carrying what was read) once it passes ``limit``."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        parts.append(chunk)
        if size > limit:
            refusal = Refusal(413, f"(body): more than {limit} bytes", kind="size")
            refusal.payload = b"".join(parts)
            raise refusal
    return b"".join(parts)


def depth(doc: Any) -> int:
    """How deeply objects and arrays nest in ``doc`` (a scalar is 0)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node)
    return deepest


def parse_json(body: bytes, max_depth: int) -> Any:
    if not body.strip():
        raise Refusal(422, "(body): empty; expected a JSON object", kind="schema")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(422, f"(body): not JSON: {exc}", kind="json") from None
    found = depth(doc)
    if found > max_depth:
        raise Refusal(
            422, f"(body): JSON nested {found} deep, the limit is {max_depth}", kind="depth"
        )
    return doc


def oversized(events: Sequence[bytes], limit: int) -> dict[int, int]:
    """Index -> size of each serialised event over ``limit`` bytes: what the broker would refuse
    (or what would crowd a batch) is refused by name instead, and the others are kept."""
    return {i: len(e) for i, e in enumerate(events) if len(e) > limit}


def fit_for_dead_letter(payload: bytes) -> tuple[bytes, str]:
    """The payload, cut so that its dead-letter event fits one Kafka message, and a note."""
    text = payload.decode("utf-8", errors="replace")
    encoded = len(orjson.dumps(text))
    if encoded <= DEAD_LETTER_PAYLOAD_LIMIT:
        return payload, ""
    while encoded > DEAD_LETTER_PAYLOAD_LIMIT:
        text = text[: max(0, len(text) * DEAD_LETTER_PAYLOAD_LIMIT // encoded - 64)]
        encoded = len(orjson.dumps(text))
    kept = text.encode()
    return kept, f" (payload cut to its first {len(kept)} of {len(payload)} bytes)"


def dead_letter_parts(payload: bytes) -> list[tuple[bytes, str]] | None:
    """A payload too big for one dead-letter event cut into parts that each fit (with a note
    naming the part), or None when it fits whole. Cut on characters, so no part splits one."""
    text = payload.decode("utf-8", errors="replace")
    if len(orjson.dumps(text)) <= DEAD_LETTER_PAYLOAD_LIMIT:
        return None
    whole = len(orjson.dumps(text))
    size = max(1, len(text) * DEAD_LETTER_PAYLOAD_LIMIT // whole * 9 // 10)
    chunks: list[str] = []
    start = 0
    while start < len(text):
        chunk = text[start : start + size]
        while len(orjson.dumps(chunk)) > DEAD_LETTER_PAYLOAD_LIMIT:  # escapes bunched here
            chunk = chunk[: len(chunk) // 2]
        chunks.append(chunk)
        start += len(chunk)
    return [
        (chunk.encode(), f" (part {n} of {len(chunks)} of the {len(payload)}-byte payload)")
        for n, chunk in enumerate(chunks, start=1)
    ]
