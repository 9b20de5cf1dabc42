"""Event store recorders that write each event's chain link in the event's own transaction.

The application names them through the library's APPLICATION_RECORDER_TOPIC, so the
event store stays the library's, tables and all, with one table beside its events:
`<events table>_chain`. A link is never written without its event, nor an event
without its link. They are the library's recorders still, and pass its own recorder
test cases (tests/integration/test_library_recorder_cases.py).

`plain_state` turns stored bytes back into the event's JSON; the application sets it
from its mapper when the settings compress or encrypt (docs/audit.md).
"""

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import InterfaceError, StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment

from audit.chain import ChainLink, Plain, StoredRecord, as_stored, extend, stored_predecessors
from storage.dialect import POSTGRESQL, SQLITE

_COLUMNS = "notification_id, aggregate_id, version, prev_hash, event_hash, log_hash"
_TABLE = """CREATE TABLE IF NOT EXISTS {table} (
    notification_id {key},
    aggregate_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    event_hash TEXT NOT NULL,
    log_hash TEXT NOT NULL)"""

_IDS_PER_QUERY = 500  # well under SQLite's limit on bound parameters

Part = tuple[int, int]
"""(k, n): the k-th of n parts of the log, split by aggregate (`ChainReads.select_log`)."""


def part_digits(part: Part) -> list[str]:
    """The last hex digits of the aggregate ids in part (k, n)."""
    k, n = part
    if n < 1 or 16 % n or not 0 <= k < n:
        raise ValueError(f"not a part of the log: {k} of {n} (n must divide 16)")
    return [f"{d:x}" for d in range(16) if d % n == k]


def _link(row: Any) -> ChainLink:
    return ChainLink(
        int(row["notification_id"]),
        UUID(row["aggregate_id"]),
        int(row["version"]),
        row["prev_hash"],
        row["event_hash"],
        row["log_hash"],
    )


class ChainReads:
    """Reading the chain: the same SQL on SQLite and PostgreSQL."""

    plain_state: Plain = staticmethod(as_stored)
    _rendered: dict[str, Any]

    def _sql(self, template: str) -> Any:
        """The statement for a template, rendered once per recorder: every command runs the
        same few."""
        statement = self._rendered.get(template)
        if statement is None:
            statement = self._rendered[template] = self._render(template)
        return statement

    def _render(self, template: str) -> Any:
        raise NotImplementedError

    def _chain_query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def _predecessor_hashes(self, cursor: Any, wanted: Sequence[tuple[UUID, int]]) -> dict:
        """The stored event hashes of these (aggregate, version)s, read in the insert's
        transaction, a batch's in one query (per 250)."""
        found: dict[tuple[UUID, int], str] = {}
        for first in range(0, len(wanted), _PAIRS_PER_QUERY):
            chunk = wanted[first : first + _PAIRS_PER_QUERY]
            cursor.execute(
                self._sql(_PREVIOUS + " OR ".join([_ONE_PREVIOUS] * len(chunk))),
                [p for aggregate, version in chunk for p in (self._stored_id(aggregate), version)],
            )
            for row in cursor.fetchall():
                stored = row["aggregate_id"]
                aggregate = stored if isinstance(stored, UUID) else UUID(stored)
                found[aggregate, int(row["version"])] = row["event_hash"]
        return found

    def chain_links(self, after: int, limit: int) -> list[ChainLink]:
        """Links in position order, after position `after`."""
        rows = self._chain_query(
            f"SELECT {_COLUMNS} FROM {{table}} WHERE notification_id > ? "
            "ORDER BY notification_id LIMIT ?",
            (after, limit),
        )
        return [_link(r) for r in rows]

    def chain_links_between(self, first: int, last: int) -> list[ChainLink]:
        rows = self._chain_query(
            f"SELECT {_COLUMNS} FROM {{table}} WHERE notification_id BETWEEN ? AND ? "
            "ORDER BY notification_id",
            (first, last),
        )
        return [_link(r) for r in rows]

    def chain_of(self, aggregate_id: UUID) -> list[ChainLink]:
        """The links of one aggregate's stored events, in version order."""
        rows = self._chain_query(
            f"SELECT {', '.join('c.' + c for c in _COLUMNS.split(', '))} FROM {{events}} e "
            "JOIN {table} c ON c.notification_id = e.{position} "
            "WHERE e.originator_id = ? ORDER BY e.originator_version",
            (self._stored_id(aggregate_id),),
        )
        return [_link(r) for r in rows]

    def _stored_id(self, aggregate_id: UUID) -> Any:
        raise NotImplementedError

    def select_log(
        self, after: int, limit: int, topics: Sequence[str], part: Part | None = None
    ) -> list[Any]:
        """Log entries of these topics after a position: rows of (position, originator_id,
        originator_version, topic, state), the id as stored (hex text on SQLite).

        The library's select_notifications makes a UUID and a Notification of every
        entry; a catch-up hands the stored id straight to the event's validation.

        `part`: (k, n), only the aggregates whose id's last hex digit is k modulo n (n
        divides 16): n readers then share the log, each aggregate's events all in one.
        """
        digits: list[str] = []
        clause = ""
        if part is not None:
            digits = part_digits(part)
            clause = f"AND {{last_id_digit}} IN ({', '.join('?' * len(digits))}) "
        return self._chain_query(
            "SELECT {position} AS position, originator_id, originator_version, topic, state "
            f"FROM {{events}} WHERE {{position}} > ? AND topic IN ({', '.join('?' * len(topics))}) "
            f"{clause}ORDER BY {{position}} LIMIT ?",
            [after, *topics, *digits, limit],
        )

    def select_published(self, after: int, limit: int, topics: Sequence[str]) -> list[Any]:
        """`select_log`'s entries, each with its chain link's three hashes (NULL when an
        entry has none): rows of (position, originator_id, originator_version, topic, state,
        prev_hash, event_hash, log_hash), in one statement.

        What the relay publishes; the links come from the same snapshot as the events.
        Rows are plain tuples, in that order, on either database.
        """
        rows = self._chain_query(
            "SELECT e.{position} AS position, e.originator_id, e.originator_version, e.topic, "
            "e.state, c.prev_hash, c.event_hash, c.log_hash "
            "FROM {events} e LEFT JOIN {table} c ON c.notification_id = e.{position} "
            f"WHERE e.{{position}} > ? AND e.topic IN ({', '.join('?' * len(topics))}) "
            "ORDER BY e.{position} LIMIT ?",
            [after, *topics, limit],
        )
        return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]

    def select_events_of(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of several aggregates in one query, each in version order.

        A command reads up to three aggregates (its intercept, the merchant's policy, the
        parcel's registry) and a batch reads those of all its commands: one round trip
        instead of one per aggregate. (Past 500 ids, each 500 are their own read; a write
        racing them is caught when the batch is recorded, as a version conflict.)
        """
        found: dict[UUID, list[StoredEvent]] = {i: [] for i in aggregate_ids}
        ids = list(found)
        for first in range(0, len(ids), _IDS_PER_QUERY):
            # Each id as the store keeps it, to find the asked one again without parsing it.
            chunk = {self._stored_id(i): i for i in ids[first : first + _IDS_PER_QUERY]}
            rows = self._chain_query(
                "SELECT originator_id, originator_version, topic, state FROM {events} "
                f"WHERE originator_id IN ({', '.join('?' * len(chunk))}) "
                # The primary key's order: no sort step.
                "ORDER BY originator_id, originator_version",
                list(chunk),
            )
            for row in rows:
                aggregate = chunk[row["originator_id"]]
                found[aggregate].append(
                    StoredEvent(
                        aggregate, row["originator_version"], row["topic"], bytes(row["state"])
                    )
                )
        return found

    def chain_head(self) -> ChainLink | None:
        rows = self._chain_query(
            f"SELECT {_COLUMNS} FROM {{table}} ORDER BY notification_id DESC LIMIT 1", ()
        )
        return _link(rows[0]) if rows else None


_INSERT = f"INSERT INTO {{table}} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
# Found through the events' own primary key: one index fewer to write with every event.
_PREVIOUS = (
    "SELECT e.originator_id AS aggregate_id, e.originator_version AS version, c.event_hash "
    "FROM {events} e JOIN {table} c ON c.notification_id = e.{position} WHERE "
)
_ONE_PREVIOUS = "(e.originator_id = ? AND e.originator_version = ?)"
"""One term per event whose predecessor is stored: each a search of the primary key."""
_PAIRS_PER_QUERY = _IDS_PER_QUERY // 2
_PREVIOUS_MANY = (
    "SELECT e.originator_id, e.originator_version, c.event_hash FROM {events} e JOIN {table} c "
    "ON c.notification_id = e.{position} "
    "WHERE (e.originator_id, e.originator_version) IN "
    "(SELECT * FROM unnest(?::uuid[], ?::bigint[]))"
)
"""PostgreSQL: the previous hashes of many (aggregate, version) pairs in one query."""
_LAST_ROW = "SELECT MAX(rowid) FROM {events}"
_ROW_OF = "SELECT rowid FROM {events} WHERE originator_id = ? AND originator_version = ?"
_HEAD = "SELECT log_hash FROM {table} ORDER BY notification_id DESC LIMIT 1"
_TRACK = (
    "INSERT INTO process_positions (reader, position) VALUES (?, ?) "
    "ON CONFLICT (reader) DO UPDATE SET position = excluded.position"
)
"""A reader of the log that records events (the automatic rule) keeps its position in the
events' own transaction: `put(events, tracking=(reader, position))`. The table is made by
engine/store/positions.py's ProcessPositions before any such reader runs."""


def _values(link: ChainLink) -> tuple:
    return (
        link.position,
        str(link.aggregate_id),
        link.version,
        link.prev_hash,
        link.event_hash,
        link.log_hash,
    )


_STATEMENTS = 64
"""Compiled statements each event-store connection keeps. The library opens its SQLite
connections with `cached_statements=True`, a cache of one: a command's reads, inserts,
chain head and links would each be compiled again on every command."""


class _StatementCachingPool(SQLiteConnectionPool):
    """The library's pool, its connections made exactly as the library makes them but
    for the size of their statement cache."""

    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: the library issues BEGIN itself
                cached_statements=_STATEMENTS,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            cursor = c.cursor()
            cursor.execute("PRAGMA journal_mode;")
            if cursor.fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


def _caching_statements(datastore: Any) -> None:
    """Give the datastore the statement-caching pool, while it has no connection yet."""
    pool = datastore.pool
    if type(pool) is not SQLiteConnectionPool or pool.num_in_use or pool.num_in_pool:
        return
    datastore.pool = _StatementCachingPool(
        db_name=pool.db_name,
        lock_timeout=pool.lock_timeout,
        pool_size=pool.pool_size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.pool_timeout,
        max_age=pool.max_age,
        pre_ping=pool.pre_ping,
    )
    pool.close()


_KNOWN_HASHES = 8192
"""Event hashes of links this recorder committed, kept for the next events of the same
aggregates (a cancel's predecessor is the request just recorded)."""


class _Committed:
    """What a recorder knows of the chain from its own commits: its last link, and the
    event hashes of the links it wrote.

    A stored link never changes and the events' primary key lets no other writer store
    the same (aggregate, version), so a hash once committed stays true. The last link is
    the log's head only while no one else has written after it: an insert checks that its
    first position directly follows it (SQLite gives a new row the largest rowid plus
    one) and reads the head otherwise.
    """

    def __init__(self) -> None:
        self.head: ChainLink | None = None
        # Ordered by when learnt, the oldest dropped first (in constant time).
        self.hashes: OrderedDict[tuple[UUID, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def head_before(self, position: int) -> str | None:
        head = self.head
        return head.log_hash if head is not None and head.position == position - 1 else None

    def learn(self, links: Sequence[ChainLink]) -> None:
        with self._lock:
            hashes = self.hashes
            for k in links:
                hashes[k.aggregate_id, k.version] = k.event_hash
            while len(hashes) > _KNOWN_HASHES:
                hashes.popitem(last=False)
            if links and (self.head is None or links[-1].position > self.head.position):
                self.head = links[-1]

    def forget(self) -> None:
        with self._lock:
            self.head = None


class ChainedSQLiteRecorder(ChainReads, SQLiteApplicationRecorder):
    def __init__(self, datastore, events_table_name: str = "stored_events") -> None:
        self.chain_table = f"{events_table_name}_chain"
        self._rendered = {}
        self._committed = _Committed()
        _caching_statements(datastore)
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            _TABLE.format(table=self.chain_table, key=SQLITE.serial_key),
        ]

    def _render(self, template: str) -> str:
        return template.format(
            table=self.chain_table,
            events=self.events_table_name,
            position=SQLITE.events_position,
            last_id_digit="substr(originator_id, -1)",  # hex text, as the library stores it
        )

    def _stored_id(self, aggregate_id: UUID) -> str:
        return aggregate_id.hex  # as the library stores it

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any):
        written: list[ChainLink] = []
        pool = self.datastore.pool
        try:
            conn = pool.get_connection(is_writer=True)
            try:
                # The library's transaction (its BEGIN, commit or rollback, and the errors it
                # raises) without the two context managers its datastore wraps around it.
                with SQLiteTransaction(conn, commit=True) as transaction, transaction as c:
                    positions = self._insert_events(
                        c, stored_events, chain_written=written, **kwargs
                    )
            finally:
                pool.put_connection(conn)
        except BaseException:
            self._committed.forget()
            raise
        # Only now committed: what the next insert may take without reading it again.
        self._committed.learn(written)
        return positions

    def _insert_events(self, c, stored_events: Sequence[StoredEvent], **kwargs: Any):
        positions = self._insert_rows(c, stored_events)
        committed = self._committed
        # The events' INSERT holds the write lock: no other writer can move the head now.
        prev_log = committed.head_before(positions[0]) if positions else None
        if prev_log is None:
            c.execute(self._sql(_HEAD))
            head = c.fetchone()
            prev_log = head[0] if head else None
        # The library types a stored id as UUID | str; the engine's mapper writes UUIDs.
        records = list(zip(positions, cast(Sequence[StoredRecord], stored_events), strict=True))
        known = committed.hashes
        previous: dict[tuple[UUID, int], str] = {}
        missing: list[tuple[UUID, int]] = []
        for wanted in stored_predecessors(records):
            known_hash = known.get(wanted)  # one lookup: another thread may drop it meanwhile
            if known_hash is None:
                missing.append(wanted)
            else:
                previous[wanted] = known_hash
        if missing:
            previous.update(self._predecessor_hashes(c, missing))
        links = extend(
            records,
            lambda aggregate, version: previous.get((aggregate, version)),
            prev_log,
            self.plain_state,
        )
        c.executemany(self._sql(_INSERT), [_values(k) for k in links])
        tracking = kwargs.get("tracking")
        if tracking is not None:
            c.execute(self._sql(_TRACK), tracking)
        written = kwargs.get("chain_written")
        if written is not None:
            written.extend(links)
        return positions

    def _insert_rows(self, c, stored_events: Sequence[StoredEvent]) -> list[int]:
        """The library's insert of the events, the rows after the first in one statement.

        Each new row takes the largest rowid plus one, so when the largest after the insert
        is the first row's plus the count, the rows took the positions between, in order.
        Otherwise (a table at the largest rowid SQLite allows numbers rows at random) each
        row's position is read back.
        """
        rows = [
            (
                s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                s.originator_version,
                s.topic,
                s.state,
            )
            for s in stored_events
        ]
        if not rows:
            return []
        c.execute(self.insert_events_statement, rows[0])
        first = c.lastrowid
        if len(rows) == 1:
            return [first]
        c.executemany(self.insert_events_statement, rows[1:])
        c.execute(self._sql(_LAST_ROW))
        last = c.fetchone()[0]
        if last == first + len(rows) - 1:
            return list(range(first, last + 1))
        found = [first]
        for row in rows[1:]:
            c.execute(self._sql(_ROW_OF), row[:2])
            found.append(c.fetchone()[0])
        return found

    def _chain_query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        # One statement is its own read transaction: no BEGIN and ROLLBACK around it, and
        # straight on the pooled connection (every command reads its aggregates so).
        pool = self.datastore.pool
        conn = pool.get_connection(is_writer=False)
        try:
            return conn._sqlite_conn.execute(self._sql(sql), params).fetchall()
        finally:
            pool.put_connection(conn)


@cache
def _postgres_class():
    """Defined on demand: psycopg is only needed where PostgreSQL is configured."""
    from eventsourcing.postgres import PostgresApplicationRecorder
    from psycopg.sql import SQL, Identifier

    class ChainedPostgresRecorder(ChainReads, PostgresApplicationRecorder):
        def __init__(self, datastore, *, events_table_name: str = "stored_events") -> None:
            self._rendered = {}
            super().__init__(datastore, events_table_name=events_table_name)
            if self.datastore.enable_db_functions:
                # That path inserts through a stored function and would skip the links.
                raise ValueError(
                    "POSTGRES_ENABLE_DB_FUNCTIONS cannot be used with the hash chain; unset it"
                )
            self.chain_table = f"{events_table_name}_chain"
            self.check_identifier_length(self.chain_table)
            self.sql_create_statements.append(
                SQL(_TABLE.format(table="{table}", key=POSTGRESQL.serial_key)).format(
                    table=self._qualified()
                )
            )

        def _qualified(self):
            return Identifier(self.datastore.schema, self.chain_table)

        def _render(self, template: str):
            return SQL(POSTGRESQL.sql(template)).format(
                table=self._qualified(),
                position=SQL(POSTGRESQL.events_position),
                events=Identifier(self.datastore.schema, self.events_table_name),
                last_id_digit=SQL("right(CAST(originator_id AS TEXT), 1)"),
            )

        def _stored_id(self, aggregate_id: UUID) -> UUID:
            return aggregate_id

        def insert_events(self, stored_events, **kwargs):
            # Every writer of the log waits for the one holding the events' EXCLUSIVE lock
            # (taken by the library before its INSERT, held until commit): two servers on
            # one database take turns there. What can be read before it is: the previous
            # hash of each aggregate was committed before this batch read the aggregate
            # (or is in the batch), so one query here replaces one round trip per event
            # under the lock; only the head of the log must be read once it is held.
            previous = self._previous_hashes(stored_events)
            return super().insert_events(stored_events, chain_previous=previous, **kwargs)

        def _previous_hashes(self, stored_events) -> dict[tuple[UUID, int], str]:
            wanted = {(e.originator_id, e.originator_version - 1) for e in stored_events}
            wanted -= {(e.originator_id, e.originator_version) for e in stored_events}
            wanted = {(a, v) for a, v in wanted if v >= 1}
            if not wanted:
                return {}
            ids, versions = zip(*wanted, strict=True)
            rows = self._chain_query(_PREVIOUS_MANY, (list(ids), list(versions)))
            return {(r["originator_id"], r["originator_version"]): r["event_hash"] for r in rows}

        def _fetch_ids_after_insert_events(self, curs, stored_events, **kwargs):
            positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            # Still inside the insert's transaction, under its EXCLUSIVE lock on the events.
            curs.execute(self._sql(_HEAD))
            head = curs.fetchone()
            records = list(zip(positions, stored_events, strict=True))
            # What the read before the lock did not find is read now, in one query.
            previous = dict(kwargs.get("chain_previous") or {})
            missing = [p for p in stored_predecessors(records) if p not in previous]
            previous.update(self._predecessor_hashes(curs, missing))
            links = extend(
                records,
                lambda aggregate, version: previous.get((aggregate, version)),
                head["log_hash"] if head else None,
                self.plain_state,
            )
            curs.executemany(self._sql(_INSERT), [_values(k) for k in links])
            tracking = kwargs.get("tracking")
            if tracking is not None:
                curs.execute(self._sql(_TRACK), tracking)
            return positions

        def _chain_query(self, sql: str, params: Sequence[Any]) -> list[Any]:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self._sql(sql), params)
                return curs.fetchall()

    return ChainedPostgresRecorder


_RECORDERS = {
    "eventsourcing.sqlite": "engine.store.recorders:ChainedSQLiteRecorder",
    "eventsourcing.postgres": "engine.store.recorders:ChainedPostgresRecorder",
}


def __getattr__(name: str):
    if name == "ChainedPostgresRecorder":
        return _postgres_class()
    raise AttributeError(name)


def with_chain(env: Environment) -> Environment:
    """The application's environment, naming the chained recorder for its persistence."""
    topic = _RECORDERS.get(env.get("PERSISTENCE_MODULE") or "")
    if topic is not None:
        for key in env.create_keys("APPLICATION_RECORDER_TOPIC"):
            env[key] = topic
    return env
