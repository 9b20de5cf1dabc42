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

from domain.events import InterceptEvent
from projections import stats_store
from projections.catchup import EVENT_STORE, ReadLog
from projections.personal import NO_KEYS, Keys
from projections.projector import PROJECTION, apply_within
from projections.recorded import Recorded
from projections.schema import migrate
from projections.stats_store import TABLES as STATS_TABLES
from storage.database import BUSY_TIMEOUT_MS, Cursor, Database
from storage.dialect import POSTGRESQL, SQLITE

_ROLL_FORWARD_BATCH = 1000

OWNED_TABLES = ("intercepts", "intercept_events", "pending_events", *STATS_TABLES)
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
        # The statistics count the live tables' days: the rebuild keeps their zone.
        migrate(self.db, stats_store.zone_of(live))

    def __enter__(self) -> "FreshProjections":
        return self

    def __exit__(self, *_) -> None:
        self.discard()

    def swap_in(self, read: ReadLog | None = None, keys: Keys = NO_KEYS) -> None:
        """Replace the live projection's rows and positions with the fresh ones, atomically.

        `read`: the event store's log the rebuild was read from. Live catch-ups went on
        while the rebuild ran and may have projected events it never read; in the same
        transaction, those are applied over the fresh rows, so that the swap never takes
        the live projections back to an older position (an intercept just acknowledged
        to its owner would vanish until the next catch-up).
        """
        self.db.close()
        if self.live.postgres:
            self._swap_postgres(read, keys)
        else:
            self._swap_sqlite(read, keys)

    def discard(self) -> None:
        self.db.close()
        if self.live.postgres:
            with self.live.transaction() as cur:
                cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _swap_sqlite(self, read: ReadLog | None, keys: Keys) -> None:
        conn = sqlite3.connect(self.live.url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("ATTACH DATABASE ? AS fresh", (str(self.path),))
            conn.execute("BEGIN IMMEDIATE")
            try:
                _swap(conn, "fresh", read, postgres=False, keys=keys)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE fresh")
        finally:
            conn.close()

    def _swap_postgres(self, read: ReadLog | None, keys: Keys) -> None:
        import psycopg

        with psycopg.connect(self.live.url) as conn:  # one transaction, committed on exit
            # First, before any row: every batch takes its checkpoint rows before the rows
            # it writes (projector.py), so taking them in the same order cannot deadlock,
            # and a batch waiting here then sees the swapped-in position, not the one it
            # read before.
            conn.execute("LOCK TABLE checkpoints IN EXCLUSIVE MODE")
            _swap(conn, f'"{self.schema}"', read, postgres=True, keys=keys)
            conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')


def _swap(conn, source: str, read: ReadLog | None, postgres: bool, keys: Keys) -> None:
    cur = Cursor(conn.cursor(), POSTGRESQL if postgres else SQLITE)
    live = _position(cur, "checkpoints")
    _copy(conn, source)
    if read is None:
        return
    position = _position(cur, "checkpoints")
    while position < live:  # no live writer can move `live` meanwhile: the swap holds them
        batch = [(p, e) for p, e in read(position, _ROLL_FORWARD_BATCH) if p <= live]
        if not batch:
            break
        entries = [Recorded(e, p) for p, e in batch if isinstance(e, InterceptEvent)]
        apply_within(cur, entries, {(EVENT_STORE, 0): batch[-1][0]}, keys)
        position = batch[-1][0]


def _position(cur: Cursor, table: str) -> int:
    row = cur.execute(
        f"SELECT position FROM {table} WHERE projection = ? AND source = ? AND partition = 0",
        (PROJECTION, EVENT_STORE),
    ).one()
    return row["position"] if row else 0


def _copy(conn, source: str) -> None:
    for table in (*OWNED_TABLES, "checkpoints"):
        names = _columns(conn, f"{source}.{table}")
        only = f" WHERE projection = '{PROJECTION}'" if table == "checkpoints" else ""
        conn.execute(f"DELETE FROM {table}{only}")
        if not only and names == _columns(conn, table):
            # The same columns in the same order: SQLite then copies the stored records,
            # indexes included, without decoding a row (its transfer optimisation).
            conn.execute(f"INSERT INTO {table} SELECT * FROM {source}.{table}")
            continue
        columns = ", ".join(names)
        conn.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source}.{table}{only}"
        )


def _columns(conn, table: str) -> list[str]:
    return [d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
