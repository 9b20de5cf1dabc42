"""A small connection wrapper so the same SQL runs on SQLite and PostgreSQL alike.

SQL is written once with `?` placeholders; the connection's dialect (storage/dialect.py)
turns it into its own. The projections and the relay's positions use it.
"""

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from storage.dialect import Dialect, dialect_of

Row = dict[str, Any]

# Bounded waits for a busy database: long enough to ride out another writer's
# transaction, short enough that a stuck lock becomes a clear error.
BUSY_TIMEOUT_MS = 10_000
CACHE_KIB = 16 * 1024
WAL_CHECKPOINT_PAGES = 10_000
BULK_CHECKPOINT_PAGES = 50_000


class DatabaseBusy(RuntimeError):
    """Locked by another writer, or the connection dropped: the transaction wrote nothing."""


class Cursor:
    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self._raw = raw
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "Cursor":
        self._raw.execute(self.dialect.sql(sql), params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._raw.executemany(self.dialect.sql(sql), rows)

    def all(self) -> list[Row]:
        names = [d[0] for d in self._raw.description]
        return [dict(zip(names, r, strict=True)) for r in self._raw.fetchall()]

    def one(self) -> Row | None:
        row = self._raw.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in self._raw.description], row, strict=True))


class Database:
    """One connection; one writer transaction at a time."""

    def __init__(self, url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.url = url
        self.dialect = dialect_of(url)
        self.postgres = self.dialect.name == "postgresql"
        self.busy_timeout_ms = busy_timeout_ms
        self._conn = self._connect()

    @classmethod
    def sqlite_file(cls, path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> "Database":
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}", busy_timeout_ms)

    def _connect(self) -> Any:
        if self.postgres:
            import psycopg  # only needed where PostgreSQL is configured

            try:
                return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as error:
                raise DatabaseBusy(f"cannot reach the database: {_first_line(error)}") from None
        path = self.url.removeprefix("sqlite:///")
        if path != ":memory:":
            private_sqlite_file(Path(path))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed transaction survives a process crash; a power
        # loss may lose the last ones, which a catch-up re-applies from the source.
        conn.execute("PRAGMA synchronous=NORMAL")
        # Random-keyed indexes outgrow SQLite's 2 MiB default page cache as history grows;
        # a bounded 16 MiB made a rebuild of 100k intercepts ~10% faster, memory still flat.
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        # Checkpoint the log every ~40 MiB instead of SQLite's 4 MiB: each checkpoint
        # syncs the file, and a catch-up far behind spent a tenth of its time on them.
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        # Rewritten personal data (an erasure, docs/privacy.md) is overwritten with zeros
        # in the file, not merely unlinked from the b-tree.
        conn.execute("PRAGMA secure_delete=ON")
        return conn

    @contextmanager
    def ddl(self, lock: int) -> Iterator[Cursor]:
        """A transaction for DDL that processes starting together would otherwise race."""
        with self.transaction() as cur:
            for statement, params in self.dialect.ddl_lock(lock):
                cur.execute(statement, params)
            yield cur

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """All or nothing; a lock wait or a dropped connection surfaces as DatabaseBusy."""
        with self._busy_as_error():
            raw = self._connection().cursor()
            try:
                raw.execute(self.dialect.begin)
                # Wait for another writer's lock no longer than SQLite's busy timeout.
                for statement in self.dialect.lock_timeout(self.busy_timeout_ms):
                    raw.execute(statement)
                try:
                    yield Cursor(raw, self.dialect)
                except BaseException:
                    self._rollback(raw)
                    raise
                else:
                    raw.execute("COMMIT")
            finally:
                raw.close()

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """For a long run of batches (a catch-up far behind): checkpoint less often.

        Each SQLite checkpoint syncs the file, and the random-keyed indexes dirty pages
        all over it; with a ~200 MiB log instead of ~40 MiB, a page rewritten by several
        batches is copied back once, and a rebuild of 250k intercepts ran about 13%
        faster. Steady-state commands keep the smaller log.
        """
        if self.postgres:
            yield
            return
        self._conn.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
        try:
            yield
        finally:
            self._conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")

    @contextmanager
    def filling(self) -> Iterator[None]:
        """For filling a new database that nothing reads before it is complete (a rebuild).

        SQLite: no rollback journal and no syncs while it fills, one lock held throughout;
        a crash leaves a file to throw away, never one anyone reads. At the end the
        write-ahead log comes back and the file is synced, so what follows (a swap, a
        view kept) starts from a file on disk. PostgreSQL: commits do not wait for the
        server's log flush while it fills; the first commit after waits for all of it.
        Only on success: a failed fill is discarded, not made durable.
        """
        if self.postgres:
            self._conn.execute("SET synchronous_commit = off")
            yield
            self._conn.execute("SET synchronous_commit = on")
            return
        conn = self._conn
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        yield
        conn.execute("PRAGMA locking_mode=NORMAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA journal_mode=WAL")  # also gives up the exclusive lock
        path = self.url.removeprefix("sqlite:///")
        if path != ":memory:":
            handle = os.open(path, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)

    @property
    def path(self) -> Path | None:
        """The SQLite file; None on PostgreSQL or in memory."""
        path = self.url.removeprefix("sqlite:///")
        return None if self.postgres or path == ":memory:" else Path(path)

    @contextmanager
    def attached(self, path: Path, name: str) -> Iterator[None]:
        """Another SQLite file readable as `name.table` by this connection's statements."""
        if self.postgres:
            raise ValueError("only a SQLite database attaches another file")
        self._conn.execute("ATTACH DATABASE ? AS " + name, (str(path),))
        try:
            yield
        finally:
            self._conn.execute(f"DETACH DATABASE {name}")

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._busy_as_error():
            raw = self._connection().cursor()
            try:
                return Cursor(raw, self.dialect).execute(sql, params).all()
            finally:
                raw.close()

    def _connection(self) -> Any:
        # A connection the server dropped is replaced; its transaction was rolled back there.
        if self.postgres and self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def _rollback(self, raw: Any) -> None:
        if self.postgres and self._conn.closed:
            return  # the server already rolled back what the dropped connection began
        try:
            raw.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the original error is the one worth raising
            pass

    @contextmanager
    def _busy_as_error(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            raise DatabaseBusy(f"the database is busy: {error}") from error
        except Exception as error:
            if not (self.postgres and _transient_postgres_error(error)):
                raise
            raise DatabaseBusy(
                f"the database is busy or the connection dropped: {_first_line(error)}"
            ) from error

    def scrub(self, tables: Sequence[str]) -> None:
        """Leave no old version of these tables' rows in any file (docs/privacy.md).

        SQLite (secure_delete on every connection) zeroes freed space as it goes; VACUUM
        rebuilds the file and a TRUNCATE checkpoint empties the write-ahead log, which
        still holds the pages as they were. PostgreSQL keeps a row's old version in its
        page until VACUUM FULL writes the table anew (plain VACUUM frees the space
        without clearing it).
        """
        with self._busy_as_error():
            conn = self._connection()
            if self.postgres:
                for table in tables:
                    conn.execute(f"VACUUM FULL {table}")
                return
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._conn.close()


def private_sqlite_file(path: Path) -> None:
    """A SQLite file its owner alone may read: made 0600 before SQLite first opens it.

    SQLite gives the -wal and -shm files the mode of the database file, so these follow;
    files left by an earlier version are narrowed too. A home that cannot be changed
    (read-only) is left as it is: writing there is refused, and reads go on.
    """
    try:
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        pass
    for suffix in ("", "-wal", "-shm"):
        _chmod(path.with_name(path.name + suffix), 0o600)


def private_folder(path: Path) -> None:
    """A folder its owner alone may enter (0700), made so when missing.

    A path that cannot be a folder (a file is there, a parent is read-only) raises the
    OSError naming it: nothing under it could be kept.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _chmod(path, 0o700)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.exists() and (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except OSError:
        pass


def _transient_postgres_error(error: BaseException) -> bool:
    """Lock and statement timeouts, deadlocks, serialization failures, lost connections."""
    import psycopg

    return isinstance(error, psycopg.OperationalError)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def retry_busy(action, attempts: int = 5, first_wait: float = 0.05):
    """Run `action`, retrying with backoff while the database is busy, then raise."""
    started = time.monotonic()
    for attempt in range(attempts):
        try:
            return action()
        except DatabaseBusy as error:
            if attempt == attempts - 1:
                raise DatabaseBusy(
                    f"{error} (gave up after {attempts} attempts in "
                    f"{time.monotonic() - started:.1f}s; none left a partial write)"
                ) from error
            time.sleep(first_wait * 2**attempt)
