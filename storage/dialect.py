"""What differs between SQLite and PostgreSQL, in one place.

SQL elsewhere is written once, in the SQL both understand, with `?` placeholders;
the dialect turns it into its own and says how to begin a writing transaction, how
to serialise DDL between processes and which row locks exist.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    placeholder: str
    begin: str
    """Begins a writing transaction. SQLite's IMMEDIATE takes the write lock at once, so
    writers take turns instead of failing when one upgrades a read lock."""
    serial_key: str
    """The column type of a table keyed by a log position."""
    row_locks: bool
    """Whether `SELECT ... FOR UPDATE` exists (SQLite has one writer at a time anyway)."""
    events_position: str
    """The column holding an event's position in the library's events table."""
    without_rowid: str = ""
    """What ends a table kept in its key's order (SQLite's clustered tables)."""

    def sql(self, text: str) -> str:
        """`text`, written with `?` placeholders, in this dialect."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def lock_timeout(self, milliseconds: int) -> list[str]:
        """Statements that bound a transaction's wait for another writer's lock.

        SQLite's busy timeout is set on its connection instead.
        """
        if self.name == "postgresql":
            return [f"SET LOCAL lock_timeout = {int(milliseconds)}"]
        return []

    def ddl_lock(self, key: int) -> list[tuple[str, tuple[int]]]:
        """Statements (with parameters) that make processes run their DDL one at a time.

        On PostgreSQL, concurrent `CREATE TABLE IF NOT EXISTS` of one table can fail
        ("duplicate key value violates unique constraint"): a transaction-scoped
        advisory lock on `key` serialises them. SQLite's BEGIN IMMEDIATE already does.
        """
        if self.name == "postgresql":
            return [(self.sql("SELECT pg_advisory_xact_lock(?)"), (key,))]
        return []

    @property
    def secondary_indexes(self) -> str:
        """A query for the indexes no key or constraint needs: (name, sql) to create each.

        A new database is filled faster without them, built once at the end.
        """
        if self.name == "postgresql":
            return (
                "SELECT indexname AS name, indexdef AS sql FROM pg_indexes "
                "WHERE schemaname = current_schema() AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint "
                "WHERE connamespace = current_schema()::regnamespace) ORDER BY indexname"
            )
        # Keys' own indexes (sqlite_autoindex_*) have no SQL: they stay.
        return (
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "ORDER BY name"
        )


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    begin="BEGIN IMMEDIATE",
    serial_key="INTEGER PRIMARY KEY",
    row_locks=False,
    events_position="rowid",
    without_rowid=" WITHOUT ROWID",
)
POSTGRESQL = Dialect(
    name="postgresql",
    placeholder="%s",
    begin="BEGIN",
    serial_key="BIGINT PRIMARY KEY",
    row_locks=True,
    events_position="notification_id",
)

DDL_LOCK = 0x1A7E_C0DE
"""The advisory lock every intercept process takes around the event store's DDL (any
fixed number, the same everywhere)."""


def dialect_of(url: str) -> Dialect:
    return POSTGRESQL if url.startswith(("postgresql://", "postgres://")) else SQLITE
