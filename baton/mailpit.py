"""The local stack's SMTP relay: Mailpit (a real SMTP server with an HTTP API and a web UI).

``baton stack up`` (and ``--infra-only``) starts it beside Kafka and PostgreSQL when the binary
is there (``make tools`` builds it into ``.venv/bin`` from its Go module, like helm); the router
gets ``BATON_NOTIFY_SENDERS`` with an ``email`` sender that relays to it, so every e-mail the
demo night sends can be read at its web address (``baton stack status``). Its ports are chosen
at its first start and kept in ``mailpit/ports.json`` (1025/8025 when free); its pidfile lives
in its own folder so a restart of the services leaves it running.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from baton import stack

DEFAULT_SMTP, DEFAULT_HTTP = 1025, 8025
SENDER = "baton@baton.local"


@dataclass(frozen=True, slots=True)
class Mailpit:
    smtp: int
    http: int

    @property
    def web_url(self) -> str:
        return stack.local_address(self.http, "http")

    @property
    def smtp_address(self) -> str:
        return stack.local_address(self.smtp)

    def senders(self) -> dict[str, str]:
        """``BATON_NOTIFY_SENDERS``'s value: e-mail over plain SMTP to this relay."""
        return {"email": f"mailto://{self.smtp_address}?from={SENDER}&to={{address}}&mode=insecure"}


def binary() -> str | None:
    """The mailpit executable: beside this Python (the venv's bin), else on PATH."""
    local = Path(sys.executable).parent / "mailpit"
    return str(local) if local.exists() else shutil.which("mailpit")


def _folder(paths: stack.StackPaths) -> Path:
    return paths.root / "mailpit"


def ports(paths: stack.StackPaths) -> Mailpit:
    """The recorded ports, else 1025/8025 when free, else two free ones (recorded)."""
    record = _folder(paths) / "ports.json"
    if record.exists():
        doc = json.loads(record.read_text())
        return Mailpit(int(doc["smtp"]), int(doc["http"]))
    if not stack._port_open(DEFAULT_SMTP) and not stack._port_open(DEFAULT_HTTP):
        chosen = Mailpit(DEFAULT_SMTP, DEFAULT_HTTP)
    else:
        free = stack.StackPorts.free()
        chosen = Mailpit(free.kafka, free.controller)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"smtp": chosen.smtp, "http": chosen.http}))
    return chosen


def recorded(paths: stack.StackPaths) -> Mailpit | None:
    record = _folder(paths) / "ports.json"
    return ports(paths) if record.exists() else None


def running(paths: stack.StackPaths) -> bool:
    return stack._running_pid(_folder(paths) / "mailpit.pid") is not None


def argv(exe: str, chosen: Mailpit, folder: Path) -> list[str]:
    """Mailpit's command line: its ports, its database in ``folder``, and every message kept
    (it prunes to the newest 500 unless told; a storm's e-mail must all be there to count)."""
    command = [exe, "--smtp", chosen.smtp_address, "--listen", stack.local_address(chosen.http)]
    return [*command, "--database", str(folder / "mailpit.db"), "--max", "0", "--quiet"]


def start(paths: stack.StackPaths, timeout: float = 30.0) -> Mailpit | None:
    """Start Mailpit unless it runs; None (and a log line) when there is no binary."""
    exe = binary()
    if exe is None:
        stack.log.warning("mailpit not found (`make tools` builds it): e-mail is not relayed")
        return None
    chosen = ports(paths)
    pidfile = _folder(paths) / "mailpit.pid"
    if stack._running_pid(pidfile) is not None:
        return chosen
    for port in (chosen.smtp, chosen.http):
        stack._require_free_port(port, "mailpit")
    command = argv(exe, chosen, _folder(paths))
    with (_folder(paths) / "mailpit.log").open("ab") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    stack._spawned[process.pid] = process
    stack._write_pidfile(pidfile, process.pid, command)
    deadline = time.monotonic() + timeout
    while not (stack._port_open(chosen.smtp) and stack._port_open(chosen.http)):
        if process.poll() is not None or time.monotonic() > deadline:
            raise stack.StackError(f"mailpit did not start: see {_folder(paths) / 'mailpit.log'}")
        time.sleep(0.1)
    stack.log.info("Mailpit: SMTP %s, web %s", chosen.smtp_address, chosen.web_url)
    return chosen


def service_env(
    paths: stack.StackPaths, kind: str, ports: stack.StackPorts, env: dict[str, str]
) -> dict[str, str]:
    """What the router adds: e-mail through this relay (unless the operator set senders) and
    links pointing at the stack's intake."""
    if kind != "router":
        return {}
    out = {}
    relay = recorded(paths)
    if relay is not None and "BATON_NOTIFY_SENDERS" not in env:
        out["BATON_NOTIFY_SENDERS"] = json.dumps(relay.senders())
    if "BATON_LINKS_BASE_URL" not in env:
        out["BATON_LINKS_BASE_URL"] = ports.service_table()[0].url  # intake
    return out


def stop(paths: stack.StackPaths) -> None:
    pidfile = _folder(paths) / "mailpit.pid"
    pid = stack._running_pid(pidfile)
    if pid is not None:
        stack._terminate([pid], stack.STOP_GRACE_SECONDS)
    pidfile.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Relay:
    """The stack's Mailpit as the bench uses it: where to read it, and stop and start it (an
    SMTP outage during a storm: ``baton bench --scenario storm --smtp-outage 60``)."""

    paths: stack.StackPaths
    web_url: str

    def stop(self) -> None:
        stop(self.paths)

    def start(self) -> None:
        start(self.paths)


def relay(paths: stack.StackPaths) -> Relay | None:
    """The stack's Mailpit, or None when it has none (no binary at ``stack up``)."""
    found = recorded(paths)
    return None if found is None else Relay(paths, found.web_url)
