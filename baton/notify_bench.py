"""What a bench run told people: the router's notification rows written since the run began,
how they ended (sent, failed, still queued), what the stack's Mailpit received, and whether any
message was repeated (issue 22: "repeats of one incident's alerts do not send repeats of a
message"; "with the SMTP server stopped … no message is lost").

``summarise`` is pure (rows and Mailpit's messages in, figures out); the rest reads the router's
``notifications`` table and Mailpit's HTTP API, and waits (bounded) for the outbox to drain.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

UNSENT = frozenset({"queued", "sending"})
EMAIL = "email"  # the channel kind the stack's Mailpit relays
POLL_S = 0.5
PAGE = 1000  # Mailpit's messages per request


@dataclass(frozen=True, slots=True)
class Row:
    """One notification row: who (recipient, address), over what, about which incident, why
    (``kind``: the event type that caused it; ``subject`` names the incident and the ask)."""

    incident_id: str
    recipient: str
    channel: str
    address: str
    kind: str
    subject: str
    state: str


@dataclass(frozen=True, slots=True)
class Mail:
    """One message Mailpit holds: to whom and its subject."""

    to: tuple[str, ...]
    subject: str


@dataclass(frozen=True, slots=True)
class Figures:
    written: int
    sent: int
    failed: int
    unsent: int  # queued or sending at the end
    repeated_rows: int  # rows beyond the first of one incident × recipient × channel × cause
    email_sent: int
    mailpit_received: int  # messages Mailpit holds that match this run's e-mail rows
    mailpit_missing: int  # e-mail rows recorded sent that Mailpit does not hold
    mailpit_doubled: int  # messages Mailpit holds beyond the rows recorded sent

    @property
    def lost(self) -> int:
        """Messages that did not reach their relay: failed, never sent, or sent and missing."""
        return self.failed + self.unsent + self.mailpit_missing

    def as_dict(self) -> dict[str, int]:
        return {
            "notifications_written": self.written,
            "notifications_sent": self.sent,
            "notifications_failed": self.failed,
            "notifications_unsent": self.unsent,
            "notifications_repeated": self.repeated_rows,
            "notifications_lost": self.lost,
            "email_rows_sent": self.email_sent,
            "mailpit_received": self.mailpit_received,
            "mailpit_missing": self.mailpit_missing,
            "mailpit_doubled": self.mailpit_doubled,
        }


def summarise(rows: Iterable[Row], mails: Iterable[Mail]) -> Figures:
    """The figures of ``rows`` (this run's notification rows) against ``mails`` (everything
    Mailpit holds; only messages to an address and subject of a sent e-mail row count)."""
    rows = list(rows)
    states = Counter(r.state for r in rows)
    causes = Counter((r.incident_id, r.recipient, r.channel, r.kind, r.subject) for r in rows)
    sent_mail = Counter(
        (r.address, r.subject) for r in rows if r.channel == EMAIL and r.state == "sent"
    )
    wanted = {(r.address, r.subject) for r in rows if r.channel == EMAIL}
    held: Counter[tuple[str, str]] = Counter()
    for mail in mails:
        for to in mail.to:
            if (to, mail.subject) in wanted:
                held[(to, mail.subject)] += 1
    return Figures(
        written=len(rows),
        sent=states["sent"],
        failed=states["failed"],
        unsent=sum(states[s] for s in UNSENT),
        repeated_rows=sum(n - 1 for n in causes.values()),
        email_sent=sum(sent_mail.values()),
        mailpit_received=sum(held.values()),
        mailpit_missing=sum(max(n - held[k], 0) for k, n in sent_mail.items()),
        mailpit_doubled=sum(max(n - sent_mail[k], 0) for k, n in held.items()),
    )


def mails_from(messages: Iterable[Mapping[str, Any]]) -> list[Mail]:
    """Mailpit's ``/api/v1/messages`` entries as ``Mail``."""
    return [
        Mail(tuple(a["Address"] for a in m.get("To") or []), str(m.get("Subject", "")))
        for m in messages
    ]


async def fetch_rows(dsn: str, since: datetime) -> list[Row]:
    """The router's notification rows created at or after ``since``."""
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetch(
            "SELECT incident_id, recipient, channel, address, kind, subject, state"
            " FROM router.notifications WHERE created_at >= $1",
            since,
        )
    finally:
        await conn.close()
    return [Row(**dict(r)) for r in found]


async def fetch_mails(web: str) -> list[Mail]:
    """Every message the Mailpit at ``web`` holds."""
    out: list[Mail] = []
    async with httpx.AsyncClient(base_url=web, timeout=30) as client:
        while True:
            response = await client.get(
                "/api/v1/messages", params={"start": len(out), "limit": PAGE}
            )
            response.raise_for_status()
            page = response.json()
            out.extend(mails_from(page.get("messages") or []))
            if not page.get("messages") or len(out) >= int(page.get("total", 0)):
                return out


async def measure(dsn: str, web: str | None, since: datetime) -> Figures:
    rows = await fetch_rows(dsn, since)
    mails = await fetch_mails(web) if web and any(r.channel == EMAIL for r in rows) else []
    return summarise(rows, mails)


async def wait_drained(
    dsn: str, web: str | None, since: datetime, limit_s: float
) -> tuple[Figures, float | None]:
    """Poll until no row of this run waits and Mailpit holds every e-mail sent (or ``limit_s``
    passes); the last figures and when it drained (``time.time()``; None: it did not)."""
    deadline = time.monotonic() + limit_s
    while True:
        rows = await fetch_rows(dsn, since)
        waiting = any(r.state in UNSENT for r in rows)  # Mailpit is read once none waits
        mails = await fetch_mails(web) if web and not waiting and rows else []
        figures = summarise(rows, mails)
        if figures.unsent == 0 and (web is None or figures.mailpit_missing == 0):
            return figures, time.time()
        if time.monotonic() > deadline:
            return figures, None
        await asyncio.sleep(POLL_S)


def sender_kinds(environ: bytes) -> list[str]:
    """The channel kinds a service process was given senders for, from its
    ``/proc/<pid>/environ`` (only the kinds: the URL templates may hold secrets)."""
    for entry in environ.split(b"\0"):
        name, _, value = entry.partition(b"=")
        if name == b"BATON_NOTIFY_SENDERS":
            try:
                doc = json.loads(value or b"{}")
            except ValueError:
                return []
            return sorted(doc) if isinstance(doc, dict) else []
    return []


def split_by_window(
    incidents: Iterable[tuple[float, float]], window: tuple[float, float]
) -> tuple[list[float], list[float]]:
    """Latencies (ms) of ``incidents`` — (first alert sent, assignment) times — split into
    those whose first alert was sent inside ``window`` (start, end) and those outside it."""
    inside: list[float] = []
    outside: list[float] = []
    start, end = window
    for sent, assigned in incidents:
        (inside if start <= sent <= end else outside).append((assigned - sent) * 1000)
    return inside, outside


def lines(figures: Figures) -> list[str]:
    """The report's lines about people told."""
    f = figures
    return [
        f"  notifications written {f.written}: sent {f.sent}, failed {f.failed},"
        f" still queued {f.unsent}; lost {f.lost}",
        f"  repeated messages (same incident, recipient, channel, cause) {f.repeated_rows}",
        f"  e-mail rows sent {f.email_sent}; Mailpit received {f.mailpit_received}"
        f" (missing {f.mailpit_missing}, doubled {f.mailpit_doubled})",
    ]


__all__ = [
    "Figures",
    "Mail",
    "Row",
    "fetch_mails",
    "fetch_rows",
    "lines",
    "mails_from",
    "measure",
    "sender_kinds",
    "split_by_window",
    "summarise",
    "wait_drained",
]
