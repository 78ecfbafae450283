"""The processes a stack starts: pidfiles, spawning, signalling, ports, log tails."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from baton.stack.layout import HOST, REPO_ROOT, StackError, StackPaths, local_address, log

# --------------------------------------------------------------------------- processes


def _write_pidfile(pidfile: Path, pid: int, argv: Sequence[str]) -> None:
    """Pid on the first line, then the argv, one item a line: enough to recognise the process."""
    pidfile.write_text("\n".join([str(pid), *argv]) + "\n")


def _read_pidfile(pidfile: Path) -> tuple[int, list[str]] | None:
    try:
        first, *argv = pidfile.read_text().splitlines()
        return int(first), argv
    except (OSError, ValueError):
        return None


# The processes this Python process started, kept so that they are reaped once they exit.
_spawned: dict[int, subprocess.Popen[bytes]] = {}


def _cmdline(pid: int) -> list[str] | None:
    """The argv of a live process, or None when there is none (or it is a zombie)."""
    child = _spawned.get(pid)
    if child is not None and child.poll() is not None:
        del _spawned[pid]
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if stat.rpartition(")")[2].split()[0] in {"Z", "X"}:
        return None
    return raw.decode(errors="replace").split("\0")[:-1]


def _running_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process still runs the argv we started it with."""
    record = _read_pidfile(pidfile)
    if record is None:
        return None
    pid, argv = record
    return pid if _cmdline(pid) == argv else None


def _spawn(
    argv: Sequence[str], *, name: str, paths: StackPaths, env: Mapping[str, str], output: Path
) -> int:
    """Start ``argv`` in its own session, so that it outlives us; pid in ``run/<name>.pid``.

    The previous run's output is kept as ``<output>.1``, so a failure tail shows only this run.
    """
    if output.exists():
        output.replace(output.with_name(output.name + ".1"))
    with output.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _spawned[process.pid] = process
    _write_pidfile(paths.pidfile(name), process.pid, argv)
    return process.pid


def _signal(pid: int, signum: signal.Signals) -> None:
    """Signal the process group we made for ``pid`` (it catches the children too)."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """Wait until the processes have exited; return those still alive at ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive:
        alive = [pid for pid in alive if _cmdline(pid) is not None]
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return alive


def _terminate(pids: Sequence[int], grace: float) -> None:
    """SIGTERM, wait ``grace`` seconds, then SIGKILL what is left."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    stubborn = _wait_gone(pids, grace)
    for pid in stubborn:
        log.warning("pid %d ignored SIGTERM for %.0f s, killing it", pid, grace)
        _signal(pid, signal.SIGKILL)
    if _wait_gone(stubborn, 5.0):
        raise StackError(f"processes {stubborn} survived SIGKILL")
    for pid in pids:  # whatever the leaders left behind in their process groups
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _port_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _require_free_port(port: int, what: str) -> None:
    if _port_open(port):
        raise StackError(
            f"{what} cannot start: {local_address(port)} is already taken by a process this stack"
            f" did not start (see `ss -ltnp 'sport = :{port}'`)"
        )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(path: Path, lines: int = 40, since: int = 0) -> str:
    """The last ``lines`` lines of ``path``, of what was written after byte offset ``since``."""
    try:
        with path.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
    except OSError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path}: nothing new)"


def _require_tool(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise StackError(f"`{tool}` is not on PATH; install it (Debian: apt-get install {package})")
    return found
