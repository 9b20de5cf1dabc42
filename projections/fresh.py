"""A fresh, empty projection database beside the live one, and its atomic swap into it.

A rebuild writes here while queries keep reading the live tables. The swap then
replaces the live tables' contents in ONE transaction of the live database: readers
see the old rows or the new ones, never a mix, and connections that stay open (the
API server, consumers) simply read the new rows afterwards. The live file is never
replaced on disk: with SQLite's WAL, a database file swapped under open connections
would be paired with the other file's log and shared-memory index.
"""

import os
import secrets
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import quote

from projections.database import BUSY_TIMEOUT_MS, Database
from projections.projector import PROJECTION
from projections.schema import migrate

OWNED_TABLES = ("intercepts", "intercept_events", "pending_events")
"""The tables the intercept projection writes; `checkpoints` is swapped for its rows only."""


class FreshProjections:
    """Use as a context manager: discarded unless swapped in or kept."""

    def __init__(self, live: Database) -> None:
        self.live = live
        if live.postgres:
            self.schema = f"intercept_rebuild_{secrets.token_hex(4)}"
            with live.transaction() as cur:
                cur.execute(f'CREATE SCHEMA "{self.schema}"')
            # In the URL, so that a reconnect can never land the rebuild in the live tables.
            options = quote(f"-c search_path={self.schema}")
            self.db = Database(f"{live.url}{'&' if '?' in live.url else '?'}options={options}")
        else:
            folder = Path(live.url.removeprefix("sqlite:///")).parent
            handle, name = tempfile.mkstemp(prefix="projections.rebuild-", suffix=".db", dir=folder)
            os.close(handle)
            self.path = Path(name)
            self.db = Database.sqlite_file(self.path)
        migrate(self.db)

    def __enter__(self) -> "FreshProjections":
        return self

    def __exit__(self, *_) -> None:
        self.discard()

    def swap_in(self) -> None:
        """Replace the live projection's rows and positions with the fresh ones, atomically."""
        self.db.close()
        if self.live.postgres:
            self._swap_postgres()
        else:
            self._swap_sqlite()

    def discard(self) -> None:
        self.db.close()
        if self.live.postgres:
            with self.live.transaction() as cur:
                cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _swap_sqlite(self) -> None:
        conn = sqlite3.connect(self.live.url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("ATTACH DATABASE ? AS fresh", (str(self.path),))
            conn.execute("BEGIN IMMEDIATE")
            try:
                _copy(conn, "fresh")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE fresh")
        finally:
            conn.close()

    def _swap_postgres(self) -> None:
        import psycopg

        with psycopg.connect(self.live.url) as conn:  # one transaction, committed on exit
            # First, before any row: every batch takes its checkpoint rows before the rows
            # it writes (projector.py), so taking them in the same order cannot deadlock,
            # and a batch waiting here then sees the swapped-in position, not the one it
            # read before.
            conn.execute("LOCK TABLE checkpoints IN EXCLUSIVE MODE")
            _copy(conn, f'"{self.schema}"')
            conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')


def _copy(conn, source: str) -> None:
    for table in (*OWNED_TABLES, "checkpoints"):
        columns = ", ".join(
            d[0] for d in conn.execute(f"SELECT * FROM {source}.{table} LIMIT 0").description
        )
        only = f" WHERE projection = '{PROJECTION}'" if table == "checkpoints" else ""
        conn.execute(f"DELETE FROM {table}{only}")
        conn.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source}.{table}{only}"
        )
