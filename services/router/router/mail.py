"""A round's e-mails over one SMTP session per relay, in the sending process (issue 28).

Apprise opens an SMTP session for every message, and every session builds a TLS context from
the system's certificates even for a plain relay: 25 ms of CPU per message on this machine
(py-spy: 36 % of it loading certificates), which took the CPU of two cores from the pipeline
at 200 messages a second. Here a round's e-mails to one relay share sessions of up to
``SESSION_MESSAGES`` messages, each built by Apprise's own message builder and sent through its
own SMTP session class, so what a person receives and how a relay is reached (``mailto://``,
``mailtos://``, STARTTLS, login, the URL's headers and names) stay Apprise's; only the number
of sessions changes. Every other kind of sender goes through Apprise as before.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable

from apprise import NotifyFormat
from apprise.plugins.email import NotifyEmail
from apprise.plugins.email.smtp import AppriseSMTPController

log = logging.getLogger("router.notify")

SESSION_MESSAGES = 50
"""Messages sent over one SMTP session at most (sessions to one relay run side by side)."""

Mail = tuple[NotifyEmail, str, str]  # Apprise's e-mail plugin of the URL, subject, body


def _relay(plugin: NotifyEmail) -> Hashable:
    return (
        plugin.smtp_host,
        plugin.port,
        plugin.secure_mode,
        plugin.user,
        plugin.password,
        plugin.verify_certificate,
    )


def sessions(mails: list[Mail]) -> list[list[int]]:
    """The indexes of ``mails`` grouped by relay, in chunks of ``SESSION_MESSAGES``."""
    by_relay: dict[Hashable, list[int]] = {}
    for i, (plugin, _, _) in enumerate(mails):
        by_relay.setdefault(_relay(plugin), []).append(i)
    return [
        indexes[start : start + SESSION_MESSAGES]
        for indexes in by_relay.values()
        for start in range(0, len(indexes), SESSION_MESSAGES)
    ]


# What Apprise's own e-mail send passes on from the plugin, read the same way here.
_SESSION = {
    "host": "smtp_host",
    "secure_mode": "secure_mode",
    "user": "user",
    "password": "password",
    "verify_certificate": "verify_certificate",
}
_MESSAGE = ("cc", "bcc", "reply_to", "smtp_host", "names", "pgp", "pgp_mode", "inline", "tzinfo")


def send_session(mails: Iterable[Mail]) -> list[bool]:
    """One SMTP session to the relay the mails share: for each, whether the relay took it. A
    relay that cannot be reached or refuses the login takes none of them."""
    mails = list(mails)
    went = [False] * len(mails)
    first = mails[0][0]
    session = {arg: getattr(first, attr) for arg, attr in _SESSION.items()}
    try:
        with AppriseSMTPController(
            port=int(first.port or 0),  # 0: smtplib's default port
            socket_connect_timeout=int(first.socket_connect_timeout),
            **session,
        ) as smtp:
            for i, (plugin, subject, body) in enumerate(mails):
                went[i] = _send_one(smtp, plugin, subject, body)
    except Exception as exc:  # a relay's failure is each message's "not sent"
        # the type only: an SMTP error may quote the login
        log.warning("e-mail relay session failed", extra={"error": type(exc).__name__})
    return went


def _send_one(smtp: AppriseSMTPController, plugin: NotifyEmail, subject: str, body: str) -> bool:
    headers = {"X-Application": plugin.app_id, **plugin.headers}
    headers.update(plugin._protocol_headers(body))  # type: ignore[no-untyped-call]
    built = NotifyEmail.prepare_emails(
        subject,
        body,
        plugin.from_addr,
        plugin.targets,
        notify_format=NotifyFormat.TEXT,
        headers=headers,
        **{name: getattr(plugin, name) for name in _MESSAGE},
    )
    sender = str(plugin.from_addr[1])
    went = [smtp.sendmail(sender, m.to_addrs, m.body) for m in built]  # every one, then judge
    return all(went)
