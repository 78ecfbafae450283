"""The notification outbox and its delivery worker (ADR 0031).

Rows are written by the handlers in the transaction of the route change (``write``); the
worker, on its own ticker (never the escalation tick's), works them off in three steps so no
lock or transaction is held while a message is on the wire:

1. **claim** — one statement: the due rows (``queued``, or ``sending`` whose lease ran out after
   a crash) are locked ``FOR UPDATE SKIP LOCKED`` (another instance takes others), set
   ``sending`` with ``next_at`` = now + lease and one more attempt, and committed;
2. **send** — each over Apprise with the operator's URL template for its channel kind, with a
   timeout, no connection held, in a process of its own at a lower CPU priority (``Sender``):
   building and sending a message costs milliseconds of Python each, and sent from threads of
   the router's own process they took its interpreter from the consumers — at 100 new
   incidents a second the first assignment's p50 went from 0.2 s to 3.3 s (docs/PERFORMANCE.md,
   "Notifications under a storm"); a person's e-mail may wait, an assignment must not;
3. **record** — ``sent``; or ``queued`` again after ``webhook.next_attempt``'s backoff; or, after
   the last try, ``failed`` with the coordinator told over its other channels (rows of their
   own, in the same transaction);
4. **report** — each settled row's outcome goes to the incident's timeline as a
   ``baton.assignment.notification`` event (id ``stable_id`` of the row and its outcome), and
   the row is marked reported in the transaction that waited for the broker: with Kafka away
   the outcomes wait, the messages do not.

A send that happened but whose record was lost (a crash between 2 and 3) is sent again when the
lease runs out: at least once, like every other delivery of Baton's.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta
from typing import Any

import apprise
from apprise.plugins.email import NotifyEmail
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from router import mail, notify, webhook
from router.routing import RouteState
from shared.db import Conn
from shared.events import Envelope, NotificationOutcomeV1, make_event, stable_id
from shared.logs import setup_logging
from shared.service import Runtime

log = logging.getLogger("router.notify")
LEASE = timedelta(minutes=2)
FAILED_KIND = "delivery_failed"


async def write(conn: Conn, notices: list[notify.Notice]) -> None:
    """Queue ``notices``, due at once (a notice already there — a redelivered input — is left
    alone)."""
    if not notices:
        return
    await conn.executemany(
        "INSERT INTO notifications(id, incident_id, event_id, kind, party, recipient, channel,"
        " address, subject, body, created_at, next_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT DO NOTHING",
        [
            (
                n.id,
                n.incident_id,
                n.event_id,
                n.kind,
                n.party,
                n.recipient,
                n.channel,
                n.address,
                n.subject,
                n.body,
                n.at,
            )
            for n in notices
        ],
    )


async def claim(conn: Conn, now: datetime, limit: int) -> list[Any]:
    """Take up to ``limit`` due rows for sending (committed on return)."""
    return await conn.fetch(
        "UPDATE notifications SET state = 'sending', attempts = attempts + 1, next_at = $2"
        " WHERE id IN (SELECT id FROM notifications WHERE state IN ('queued', 'sending')"
        " AND next_at <= $1 ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, incident_id, event_id, kind, party, recipient, channel, address,"
        " subject, body, attempts",
        now,
        now + LEASE,
        limit,
    )


async def oldest_unsent(conn: Conn) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT min(created_at) FROM notifications WHERE state IN ('queued', 'sending')"
    )
    return value


def sender_url(template: str, address: str) -> str:
    """The Apprise URL for ``address``: the template with ``{address}`` filled in, quoted."""
    return template.replace("{address}", urllib.parse.quote(address, safe="@+"))


# How much lower the sending processes run than the services (``nice``): they get the CPU the
# pipeline leaves.
SENDER_NICENESS = 10


def _sending_process(log_level: str, log_format: str) -> None:
    """A sending process starts niced, logging as the router does (JSON lines on stderr), and
    ends when its router does: a router killed with SIGKILL never tells it, and it would wait
    for work for ever."""
    os.nice(SENDER_NICENESS)
    setup_logging("router", log_level, log_format)
    router = os.getppid()
    threading.Thread(target=_end_with, args=(router,), name="end-with-router", daemon=True).start()


def _end_with(router: int, every: float = 1.0) -> None:
    while os.getppid() == router:
        time.sleep(every)
    os._exit(0)


def _notify_all(messages: list[tuple[str, str, str]], timeout: float) -> list[bool]:
    """In the sending process: a worker round's messages, concurrently (in threads of this
    process, not the router's), each within ``timeout``: e-mails over one SMTP session per
    relay and up to ``mail.SESSION_MESSAGES`` messages (``router.mail``), the rest over
    Apprise one by one."""

    async def one(url: str, subject: str, body: str) -> bool:
        ap = apprise.Apprise()
        if not ap.add(url):
            return False
        sent = await ap.async_notify(
            body=body, title=subject, body_format=apprise.NotifyFormat.TEXT, timeout=timeout
        )
        return bool(sent)

    mails: list[mail.Mail] = []
    mail_at: list[int] = []
    others: list[int] = []
    for i, (url, subject, body) in enumerate(messages):
        plugin = apprise.Apprise.instantiate(url)
        if isinstance(plugin, NotifyEmail):
            mails.append((plugin, subject, body))
            mail_at.append(i)
        else:
            others.append(i)
    sessions = mail.sessions(mails)

    async def every() -> list[bool]:
        mailed, sent = await asyncio.gather(
            asyncio.gather(
                *(asyncio.to_thread(mail.send_session, [mails[i] for i in s]) for s in sessions)
            ),
            asyncio.gather(*(one(*messages[i]) for i in others)),
        )
        went = [False] * len(messages)
        for session, results in zip(sessions, mailed, strict=True):
            for i, ok in zip(session, results, strict=True):
                went[mail_at[i]] = ok
        for i, ok in zip(others, sent, strict=True):
            went[i] = ok
        return went

    return asyncio.run(every())


Message = tuple[str, str, str, str]  # channel, address, subject, body


class Sender:
    """Sends messages over Apprise: for each, None when it went, else what went wrong (never
    the URL, which may hold a relay password or a bot token).

    A round's messages go to a process of its own (spawned at the first send, niced by
    ``SENDER_NICENESS``) that sends them concurrently, so the router's consumers keep their
    interpreter and their CPU share while a storm's messages go out. A process that does not
    answer within the timeout (a relay that accepts and never answers) is ended and replaced
    at the next round."""

    def __init__(
        self,
        templates: Mapping[str, str],
        timeout: float,
        logging_as: tuple[str, str] = ("INFO", "json"),
    ) -> None:
        self.templates = dict(templates)
        self.timeout = timeout
        self.logging_as = logging_as
        self._pool: ProcessPoolExecutor | None = None

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.templates)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_sending_process,
                initargs=self.logging_as,
            )
        return self._pool

    def close(self) -> None:
        """End the sending process, a round under way included (its rows are sent again when
        their lease runs out)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # the executor has no way to stop a task, and a process stuck on a relay that never
        # answers would take no other message: end it; the next round starts another
        for process in list(pool._processes.values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def send(self, channel: str, address: str, subject: str, body: str) -> str | None:
        (error,) = await self.send_all([(channel, address, subject, body)])
        return error

    async def send_all(self, messages: list[Message]) -> list[str | None]:
        errors: list[str | None] = [None] * len(messages)
        todo: list[tuple[int, tuple[str, str, str]]] = []
        for i, (channel, address, subject, body) in enumerate(messages):
            template = self.templates.get(channel)
            if template is None:
                errors[i] = f"no sender for channel {channel}"
                continue
            url = sender_url(template, address)
            if not apprise.Apprise().add(url):
                errors[i] = f"the {channel} sender's URL template is not understood by Apprise"
                continue
            todo.append((i, (url, subject, body)))
        if not todo:
            return errors
        sending = asyncio.get_running_loop().run_in_executor(
            self._executor(), _notify_all, [m for _, m in todo], self.timeout
        )
        try:
            went = await asyncio.wait_for(sending, self.timeout + 10)
        except TimeoutError:
            self.close()
            went = None
            why = f"no answer within {self.timeout:.0f}s"
        except BrokenProcessPool:
            went = None
            why = "its sending process was ended; sent again later"
        for n, (i, _) in enumerate(todo):
            channel = messages[i][0]
            if went is None:
                errors[i] = why
            elif not went[n]:
                # Apprise answers yes or no; its reason is a warning in the router's log
                errors[i] = f"the {channel} sender did not take it"
        return errors


def _span_attributes(row: Any) -> dict[str, str]:
    return {
        "baton.incident": row["incident_id"],
        "baton.event_id": str(row["event_id"]),
        "baton.party": row["party"],
        "baton.channel": row["channel"],
    }


async def send_rows(
    sender: Sender, rows: list[Any], tracer: trace.Tracer | None = None
) -> list[str | None]:
    """A round's rows, each as a CLIENT span (``notification send``: the incident, the event,
    the party, the channel kind and the outcome; never the address or the text). Sends run on
    the worker's tick after their transaction, so each is a trace of its own, as a webhook
    push is; ``baton.event_id`` leads to the event's trace."""
    tracer = tracer or trace.get_tracer(__name__)
    spans = [
        tracer.start_span("notification send", kind=SpanKind.CLIENT, attributes=_span_attributes(r))
        for r in rows
    ]
    errors = await sender.send_all(
        [(r["channel"], r["address"], r["subject"], r["body"]) for r in rows]
    )
    for span, error in zip(spans, errors, strict=True):
        span.set_attribute("baton.outcome", "sent" if error is None else "not sent")
        if error is not None:
            span.set_status(StatusCode.ERROR, error)
        span.end()
    return errors


async def send_one(sender: Sender, row: Any, tracer: trace.Tracer | None = None) -> str | None:
    """One row, as ``send_rows`` sends a round's."""
    (error,) = await send_rows(sender, [row], tracer)
    return error


def outcome_event(row: Any, now: datetime) -> Envelope:
    """A settled notification row as its timeline event."""
    return make_event(
        NotificationOutcomeV1(
            notification=row["id"],
            cause=row["kind"],
            recipient_party=row["party"],
            recipient=row["recipient"],
            channel=row["channel"],
            outcome=row["state"],
            attempts=max(row["attempts"], 1),
            error=(row["last_error"] or "")[:300] if row["state"] == "failed" else "",
            at=row["at"] or now,
        ),
        source="router",
        time=now,
        subject=row["incident_id"],
        event_id=stable_id("notification-outcome", row["id"], row["state"]),
    )


class Worker:
    """One round: claim, send outside any transaction, record."""

    def __init__(
        self,
        rt: Runtime,
        sender: Sender,
        *,
        counted: Any,
        oldest: Any,
        publish: Callable[[list[Envelope]], Awaitable[None]],
        batch: int = 50,
    ) -> None:
        self.rt = rt
        self.sender = sender
        self.publish = publish
        self.counted = counted  # Counter[channel, outcome]
        self.oldest = oldest  # Gauge
        self.batch = batch

    async def round(self, most: int = 20) -> int:
        """Send what is due, batch after batch while batches come full (a storm's backlog
        drains within one tick, up to ``most`` batches); how many went."""
        sent = 0
        for _ in range(most):
            went, full = await self._batch()
            sent += went
            if not full:
                break
        await self.report()
        return sent

    async def _batch(self) -> tuple[int, bool]:
        """One claim, its sends and their records: (how many went, whether it came full)."""
        rt = self.rt
        now: datetime = rt.clock.now()
        async with rt.pool.acquire() as conn:
            rows = await claim(conn, now, self.batch)
            first = await oldest_unsent(conn)
        self.oldest.set(max((now - first).total_seconds(), 0.0) if first else 0.0)
        if not rows:
            return 0, False
        errors = await send_rows(self.sender, list(rows))
        done = rt.clock.now()
        async with rt.pool.acquire() as conn:
            for row, error in zip(rows, errors, strict=True):
                async with conn.transaction():
                    await self._record(conn, row, error, done)
        return sum(1 for e in errors if e is None), len(rows) == self.batch

    async def report(self, limit: int = 200) -> int:
        """Put settled outcomes on the incidents' timelines; how many."""
        rt = self.rt
        async with rt.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, incident_id, kind, party, recipient, channel, state, attempts,"
                " last_error, coalesce(sent_at, failed_at) AS at FROM notifications"
                " WHERE state IN ('sent', 'failed') AND NOT reported ORDER BY created_at"
                " LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            if not rows:
                return 0
            now = rt.clock.now()
            await self.publish([outcome_event(r, now) for r in rows])
            await conn.execute(
                "UPDATE notifications SET reported = true WHERE id = ANY($1::uuid[])",
                [r["id"] for r in rows],
            )
        return len(rows)

    async def _record(self, conn: Conn, row: Any, error: str | None, now: datetime) -> None:
        settings = self.rt.settings
        if error is None:
            await conn.execute(
                "UPDATE notifications SET state = 'sent', sent_at = $2, last_error = NULL"
                " WHERE id = $1 AND state = 'sending'",
                row["id"],
                now,
            )
            self.counted.labels(row["channel"], "sent").inc()
            return
        attempts = row["attempts"]
        if attempts < settings.notify_max_attempts:
            base = timedelta(seconds=settings.notify_backoff_seconds)
            await conn.execute(
                "UPDATE notifications SET state = 'queued', next_at = $2, last_error = $3"
                " WHERE id = $1 AND state = 'sending'",
                row["id"],
                webhook.next_attempt(now, attempts, base),
                error,
            )
            self.counted.labels(row["channel"], "retried").inc()
            log.warning(
                "notification not sent; retrying",
                extra={"recipient": row["recipient"], "channel": row["channel"], "error": error},
            )
            return
        await conn.execute(
            "UPDATE notifications SET state = 'failed', failed_at = $3, last_error = $2"
            " WHERE id = $1",
            row["id"],
            error,
            now,
        )
        self.counted.labels(row["channel"], "failed").inc()
        log.error(
            "notification failed for good",
            extra={"recipient": row["recipient"], "channel": row["channel"], "error": error},
        )
        if row["kind"] == FAILED_KIND:
            return  # the coordinator's own failure notice: its log line and metric say it
        raw = await conn.fetchval(
            "SELECT state FROM routes WHERE incident_id = $1", row["incident_id"]
        )
        if raw is None:
            return
        state = RouteState.model_validate_json(raw)
        told = notify.failed(
            dict(row),
            state,
            self.rt.view,
            senders=self.sender.kinds,
            now=now,
            attempts=attempts,
            error=error,
        )
        await write(conn, told)
