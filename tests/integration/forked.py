"""Service processes forked from a parent that has already imported the four services.

``python -m intake`` spends 1.2–1.5 CPU-seconds importing FastAPI, FastStream, aiokafka and the
event and contract models before it does anything; the integration tests start about a hundred
services, on a two-core machine where the suite is CPU-bound (ADR 29, ADR 30). So each pytest
worker keeps one multiprocessing *forkserver* that imports the services once, and every service
a test starts is a fork of it: an OS process of its own (own pid, environment and log file,
stopped by a real SIGTERM, killed by a real SIGKILL) that runs the service's ``__main__`` as
``python -m`` does. It shares nothing with the test but the code already imported.

What a fork does not exercise — the interpreter starting and importing, as an operator's
``python -m`` does — the chaos suite, the three-broker test and the ``baton stack up`` tests do:
they start services as operators do.

This module is imported by the forkserver itself, so it imports nothing of the test suite.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path

MODULES = ("intake", "router", "sla_clock", "reporting")

_CONTEXT = multiprocessing.get_context("forkserver")
# The forkserver imports these once; a module that fails to import is left to the service,
# which then fails to start with the error in its log.
_CONTEXT.set_forkserver_preload([__name__, *(f"{module}.app" for module in MODULES)])


def _run(module: str, env: dict[str, str], cwd: str, log: str) -> None:
    """In the forked child: the environment, folder and output ``python -m module`` would
    have, then its ``__main__``, then what the interpreter does at exit (multiprocessing skips
    it)."""
    os.chdir(cwd)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [module]
    # a service started by `python -m` is no daemon: it may start processes of its own (the
    # router's notification senders, router/outbox.py), which a daemonic process may not
    multiprocessing.current_process().daemon = False
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        atexit._run_exitfuncs()


class ServiceProcess:
    """One forked service, with the part of ``subprocess.Popen``'s interface the tests use."""

    def __init__(self, module: str, env: dict[str, str], cwd: Path, log: Path) -> None:
        self._process = _CONTEXT.Process(
            target=_run, args=(module, env, str(cwd), str(log)), name=module
        )
        self._process.daemon = True  # a worker that dies takes its services with it
        self._process.start()
        assert self._process.pid is not None
        self.pid: int = self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited (minus the signal's number if one killed it)."""
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if (code := self._process.exitcode) is None:
            raise subprocess.TimeoutExpired(self._process.name, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # as Popen: an exited process is not signalled
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
