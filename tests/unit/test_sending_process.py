"""The router's sending process (router/outbox.py ``Sender``) ends with its router: a router
killed with SIGKILL (the chaos run does it) left it waiting for work for ever."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A stand-in router: one send through a sender whose relay refuses the connection, so the
# sending process is spawned; then it prints that process's pid and waits to be killed.
ROUTER = """
import asyncio, sys
from router.outbox import Sender

async def main() -> None:
    sender = Sender({"email": "mailto://127.0.0.1:%(port)d?from=a@b.example&to={address}"}, 5.0)
    await sender.send("email", "x@example.org", "subject", "body")
    (pid,) = sender._pool._processes
    print(pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_sending_process_ends_when_its_router_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services/router")])}
    router = subprocess.Popen(
        [sys.executable, "-c", ROUTER % {"port": _closed_port()}],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert router.stdout is not None
        sending = int(router.stdout.readline())
        assert _alive(sending)
        router.send_signal(signal.SIGKILL)
        router.wait(10)
        deadline = time.monotonic() + 15
        while _alive(sending) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(sending), "the sending process outlived its router"
    finally:
        router.kill()
