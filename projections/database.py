"""A small connection wrapper so projection SQL runs on SQLite and PostgreSQL alike.

SQL is written once with `?` placeholders; for psycopg they become `%s`.
"""

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

Row = dict[str, Any]

# Bounded waits for a busy database: long enough to ride out another writer's
# transaction, short enough that a stuck lock becomes a clear error.
BUSY_TIMEOUT_MS = 10_000


class DatabaseBusy(RuntimeError):
    pass


class Cursor:
    def __init__(self, raw: Any, postgres: bool) -> None:
        self._raw = raw
        self._postgres = postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "Cursor":
        self._raw.execute(self._sql(sql), params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._raw.executemany(self._sql(sql), rows)

    def all(self) -> list[Row]:
        names = [d[0] for d in self._raw.description]
        return [dict(zip(names, r)) for r in self._raw.fetchall()]

    def one(self) -> Row | None:
        row = self._raw.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in self._raw.description], row))


class Database:
    """One connection; one writer transaction at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        self._conn = self._connect()

    @classmethod
    def sqlite_file(cls, path: Path) -> "Database":
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}")

    def _connect(self) -> Any:
        if self.postgres:
            import psycopg  # only needed where PostgreSQL is configured

            return psycopg.connect(self.url, autocommit=True)
        path = self.url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed transaction survives a process crash; a power
        # loss may lose the last ones, which a catch-up re-applies from the source.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        raw = self._conn.cursor()
        try:
            raw.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise DatabaseBusy(f"projection database is busy: {error}") from error
        try:
            yield Cursor(raw, self.postgres)
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        else:
            raw.execute("COMMIT")
        finally:
            raw.close()

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raw = self._conn.cursor()
        try:
            return Cursor(raw, self.postgres).execute(sql, params).all()
        finally:
            raw.close()

    def close(self) -> None:
        self._conn.close()


def retry_busy(action, attempts: int = 5, first_wait: float = 0.05):
    """Run `action`, retrying with backoff while the database is busy, then raise."""
    for attempt in range(attempts):
        try:
            return action()
        except DatabaseBusy:
            if attempt == attempts - 1:
                raise
            time.sleep(first_wait * 2**attempt)
