"""A round's e-mails go over one SMTP session per relay and up to ``SESSION_MESSAGES`` messages
(issue 28: a session per message cost 25 ms of CPU each), built as Apprise builds them."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes

import apprise
from apprise.plugins.email import NotifyEmail
from router import mail
from router.outbox import _notify_all


class _Relay(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.sessions = 0
        self.messages: list[bytes] = []
        self.lock = threading.Lock()


class _Session(socketserver.StreamRequestHandler):
    """Just enough SMTP: every command is accepted."""

    server: _Relay

    def handle(self) -> None:
        with self.server.lock:
            self.server.sessions += 1
        self.wfile.write(b"220 relay\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 relay\r\n")
            elif command == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                body = b""
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body += data
                with self.server.lock:
                    self.server.messages.append(body)
                self.wfile.write(b"250 kept\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextmanager
def relay() -> Iterator[_Relay]:
    server = _Relay()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url(port: int, to: str) -> str:
    return f"mailto://127.0.0.1:{port}?from=baton@example.org&to={to}"


def test_a_rounds_mails_share_sessions_and_each_arrives_as_apprise_builds_it() -> None:
    n = mail.SESSION_MESSAGES + 5
    with relay() as server:
        port = server.server_address[1]
        messages = [(url(port, f"p{i}@example.org"), f"subject {i}", f"body {i}") for i in range(n)]
        went = _notify_all(messages, timeout=10)
    assert went == [True] * n
    assert server.sessions == 2  # SESSION_MESSAGES, then the other five
    parsed = sorted(
        (message_from_bytes(m) for m in server.messages), key=lambda m: int(m["To"][1:-12])
    )
    assert [m["Subject"] for m in parsed] == [f"subject {i}" for i in range(n)]
    assert parsed[0]["From"] == "baton@example.org"
    assert parsed[0]["X-Application"] == apprise.AppriseAsset().app_id
    assert str(parsed[3].get_payload()).strip() == "body 3"


def test_a_relay_that_cannot_be_reached_takes_none_of_its_mails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with relay() as server:
        port = server.server_address[1]
        messages = [
            (url(closed, "a@example.org"), "lost", "x"),
            (url(port, "b@example.org"), "kept", "y"),
            (url(closed, "c@example.org"), "lost too", "z"),
        ]
        assert _notify_all(messages, timeout=5) == [False, True, False]
    assert server.sessions == 1


def test_sessions_group_by_relay_and_keep_each_relays_order() -> None:
    a = apprise.Apprise.instantiate(url(1025, "a@example.org"))
    b = apprise.Apprise.instantiate(url(2025, "b@example.org"))
    assert isinstance(a, NotifyEmail)
    assert isinstance(b, NotifyEmail)
    mails = [(a, "1", ""), (b, "2", ""), (a, "3", "")]
    assert mail.sessions(mails) == [[0, 2], [1]]
