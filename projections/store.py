"""Every SQL statement the projections run, in one place (the tables' DDL is schema.py's).

Written once, with `?` placeholders, in the SQL SQLite and PostgreSQL share; what
differs (placeholders, how a writer begins, row locks, DDL locks) is the connection's
dialect (storage/dialect.py). The projector, the point-in-time views and the queries
call these and hold no SQL of their own.
"""

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from projections.personal import erased_data
from projections.row import COLUMNS, MUTABLE
from projections.timefmt import stamp
from storage.database import Cursor, Database, Row

if TYPE_CHECKING:
    from projections.queries import Filters

_ROWS_PER_QUERY = 500  # well under SQLite's limit on bound parameters
_VALUES = itemgetter(*COLUMNS)
"""A row's values in column order, picked in one call (a rebuild writes millions of rows)."""

_INSERT_ROW = (
    f"INSERT INTO intercepts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
)
_UPSERT_ROW = (
    _INSERT_ROW
    # Only what later events change: an update that names an indexed column rewrites
    # that index's entry even when the value stays, and every index here is on columns
    # fixed at the request.
    + "ON CONFLICT (intercept_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in MUTABLE)
)
_REPLACE_ROW = (
    _INSERT_ROW
    + "ON CONFLICT (intercept_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
)
_TIMELINE_COLUMNS = "(intercept_id, version, event_type, occurred_at, recorded_at, actor, data)"
_INSERT_TIMELINE = f"INSERT INTO intercept_events {_TIMELINE_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)"
_FORWARD_ONLY = (
    # Never backwards: a consumer that lost its partitions mid-batch may finish late.
    "ON CONFLICT (projection, source, partition) DO UPDATE SET position = "
    "CASE WHEN excluded.position > checkpoints.position "
    "THEN excluded.position ELSE checkpoints.position END"
)
_UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (projection, source, partition, position) VALUES (?, ?, ?, ?) "
    + _FORWARD_ONLY
)
# Position 0 reads the same as no row: a claimed checkpoint changes no consumer's start.
_CLAIM_CHECKPOINT = (
    "INSERT INTO checkpoints (projection, source, partition, position) VALUES (?, ?, ?, 0) "
    "ON CONFLICT (projection, source, partition) DO NOTHING"
)
_LOCK_CHECKPOINT = (
    "SELECT position FROM checkpoints WHERE projection = ? AND source = ? AND partition = ? "
    "FOR UPDATE"
)


class Tables:
    """The projection tables inside one transaction (a cursor of `Database.transaction`)."""

    def __init__(self, cur: Cursor) -> None:
        self.cur = cur

    # ---- intercepts ------------------------------------------------------

    def rows_of(self, keys: Iterable[str]) -> dict[str, Row | None]:
        """The current row of each intercept (None where it has none), a few queries for all."""
        wanted = list(keys)
        rows: dict[str, Row | None] = dict.fromkeys(wanted)
        for first in range(0, len(wanted), _ROWS_PER_QUERY):
            chunk = wanted[first : first + _ROWS_PER_QUERY]
            found = self.cur.execute(
                f"SELECT * FROM intercepts WHERE intercept_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ).all()
            rows.update((row["intercept_id"], row) for row in found)
        return rows

    def row_of(self, key: str) -> Row | None:
        return self.cur.execute("SELECT * FROM intercepts WHERE intercept_id = ?", (key,)).one()

    def insert_rows(self, rows: Iterable[Row]) -> None:
        """Rows of intercepts that have none yet (a conflict is an error, not an update)."""
        self.cur.executemany(_INSERT_ROW, [_VALUES(r) for r in rows])

    def update_rows(self, rows: Iterable[Row]) -> None:
        """Insert or update rows; an update writes only the columns later events change."""
        self.cur.executemany(_UPSERT_ROW, [_VALUES(r) for r in rows])

    def replace_rows(self, rows: Iterable[Row]) -> None:
        """Insert or overwrite whole rows."""
        self.cur.executemany(_REPLACE_ROW, [_VALUES(r) for r in rows])

    # ---- timeline --------------------------------------------------------

    def append_timeline(self, entries: Sequence[tuple], *, redelivered: bool = False) -> None:
        """Timeline lines (intercept_id, version, event_type, occurred_at, recorded_at,
        actor, data); with `redelivered`, a line already there is left as it is."""
        sql = _INSERT_TIMELINE
        if redelivered:
            sql += " ON CONFLICT (intercept_id, version) DO NOTHING"
        self.cur.executemany(sql, entries)

    def erase_timeline(self, key: str, subject: str) -> None:
        """Rewrite the intercept's timeline lines holding `subject`'s sealed values."""
        lines = self.cur.execute(
            "SELECT version, data FROM intercept_events WHERE intercept_id = ?", (key,)
        ).all()
        for line in lines:
            data = erased_data(line["data"], subject)
            if data is not None:
                self.cur.execute(
                    "UPDATE intercept_events SET data = ? WHERE intercept_id = ? AND version = ?",
                    (data, key, line["version"]),
                )

    # ---- events waiting for their predecessor ----------------------------

    def waiting(self) -> set[str]:
        """The intercepts with events held back."""
        rows = self.cur.execute("SELECT DISTINCT intercept_id FROM pending_events").all()
        return {r["intercept_id"] for r in rows}

    def hold(self, key: str, version: int, envelope_json: str) -> None:
        self.cur.execute(
            "INSERT INTO pending_events (intercept_id, version, envelope) VALUES (?, ?, ?) "
            "ON CONFLICT (intercept_id, version) DO NOTHING",
            (key, version, envelope_json),
        )

    def release(self, key: str, up_to: int) -> tuple[list[str], bool]:
        """Take the held envelopes of `key` up to a version, in version order, out of
        waiting; and whether any of its events still wait."""
        found = self.cur.execute(
            "SELECT envelope FROM pending_events WHERE intercept_id = ? AND version <= ? "
            "ORDER BY version",
            (key, up_to),
        ).all()
        self.cur.execute(
            "DELETE FROM pending_events WHERE intercept_id = ? AND version <= ?", (key, up_to)
        )
        more = self.cur.execute(
            "SELECT 1 FROM pending_events WHERE intercept_id = ? LIMIT 1", (key,)
        ).one()
        return [r["envelope"] for r in found], more is not None

    # ---- positions -------------------------------------------------------

    def advance(self, projection: str, positions: Iterable[tuple[str, int, int]]) -> None:
        """Move (source, partition, position) checkpoints forward, never backwards."""
        self.cur.executemany(
            _UPSERT_CHECKPOINT, [(projection, src, part, pos) for src, part, pos in positions]
        )

    def position(self, projection: str, source: str, partition: int) -> int:
        """Where (source, partition) stands inside this transaction; 0 when never advanced."""
        row = self.cur.execute(
            "SELECT position FROM checkpoints WHERE projection = ? AND source = ? AND partition = ?",
            (projection, source, partition),
        ).one()
        return row["position"] if row else 0

    def take_turns(self, projection: str, keys: Iterable[tuple[str, int]]) -> None:
        """Serialise transactions that advance the same (source, partition).

        Where the dialect has row locks (PostgreSQL), each locks its checkpoint rows
        first, in one order everywhere (no deadlocks), so one batch's version checks
        cannot read rows another is about to overwrite. SQLite's writers take turns
        already: its transactions begin IMMEDIATE.
        """
        if not self.cur.dialect.row_locks:
            return
        for source, partition in sorted(keys):
            key = (projection, source, partition)
            self.cur.execute(_CLAIM_CHECKPOINT, key)
            self.cur.execute(_LOCK_CHECKPOINT, key)


_PART_TABLES = ("intercepts", "intercept_events", "pending_events")
"""The tables in which each intercept has rows of its own (the statistics' cells are shared)."""


def add_part(cur: Cursor, source: str) -> None:
    """Add the rows of an attached database `source`, filled from another part of the log
    (other intercepts), to these: its rows and timeline lines, and its positions where
    further on."""
    for table in _PART_TABLES:
        # The same migrations made both tables: the same columns in the same order.
        cur.execute(f"INSERT INTO {table} SELECT * FROM {source}.{table}")
    cur.execute(
        "INSERT INTO checkpoints (projection, source, partition, position) "
        f"SELECT projection, source, partition, position FROM {source}.checkpoints WHERE true "
        + _FORWARD_ONLY
    )


def positions(db: Database, projection: str, source: str) -> dict[int, int]:
    rows = db.read(
        "SELECT partition, position FROM checkpoints WHERE projection = ? AND source = ?",
        (projection, source),
    )
    return {r["partition"]: r["position"] for r in rows}


# Where the event store's log stood when every reader of these projections had read it
# all (the embedded CLI's catch-up): a read finding the log still there needs no catch-up.
_CAUGHT_UP = ("caught_up", "eventstore_head", 0)


def caught_up_head(db: Database) -> int | None:
    """The log position the projections were last wholly caught up to; None if never."""
    return positions(db, *_CAUGHT_UP[:2]).get(_CAUGHT_UP[2])


def mark_caught_up(db: Database, head: int) -> None:
    """Every event up to `head` is projected (read before the catch-up that projected it)."""
    with db.transaction() as cur:
        cur.execute(_UPSERT_CHECKPOINT, (*_CAUGHT_UP, head))


def secondary_indexes(db: Database) -> list[tuple[str, str]]:
    """(name, the statement that creates it) of each index no key needs."""
    return [(r["name"], r["sql"]) for r in db.read(db.dialect.secondary_indexes)]


def reset_positions(db: Database, projection: str, source: str) -> None:
    with db.transaction() as cur:
        cur.execute(
            "DELETE FROM checkpoints WHERE projection = ? AND source = ?", (projection, source)
        )


# ---- queries --------------------------------------------------------------


def _where(f: "Filters") -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("merchant_id", f.merchant_id),
        ("status", f.status),
        ("carrier", f.carrier),
        ("after_sale_status", f.after_sale_status),
        ("order_id", f.order_id),
        ("tracking_no", f.tracking_no),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.since is not None:
        clauses.append("requested_at >= ?")
        params.append(stamp(f.since))
    if f.until is not None:
        clauses.append("requested_at < ?")
        params.append(stamp(f.until))
    if f.conflicts_only:
        clauses.append("conflict IS NOT NULL")
    return clauses, params


def newest_intercepts(
    db: Database, filters: "Filters", limit: int, before: tuple[str, str] | None = None
) -> list[Row]:
    """Rows newest first (requested_at, then id), after the (requested_at, id) `before`."""
    where, params = _where(filters)
    if before:
        at, iid = before
        where.append("(requested_at < ? OR (requested_at = ? AND intercept_id < ?))")
        params += [at, at, iid]
    sql = "SELECT * FROM intercepts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY requested_at DESC, intercept_id DESC LIMIT ?"
    return db.read(sql, [*params, limit])


def intercept(db: Database, intercept_id: str) -> Row | None:
    rows = db.read("SELECT * FROM intercepts WHERE intercept_id = ?", (intercept_id,))
    return rows[0] if rows else None


def timeline(db: Database, intercept_id: str) -> list[Row]:
    return db.read(
        "SELECT version, event_type, occurred_at, recorded_at, actor, data FROM intercept_events "
        "WHERE intercept_id = ? ORDER BY version",
        (intercept_id,),
    )


def timeline_lines(db: Database) -> int:
    """How many timeline lines the projections hold (one per applied event)."""
    return db.read("SELECT COUNT(*) AS n FROM intercept_events")[0]["n"]


def counts(db: Database, filters: "Filters") -> tuple[list[Row], list[Row], Row]:
    """Intercepts by status, by conflict, and the totals (intercepts, fees_minor)."""
    where, params = _where(filters)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    by_status = db.read(
        f"SELECT status, COUNT(*) AS n FROM intercepts{clause} GROUP BY status ORDER BY status",
        params,
    )
    conflicts = db.read(
        f"SELECT conflict, COUNT(*) AS n FROM intercepts{clause}"
        f"{' AND' if clause else ' WHERE'} conflict IS NOT NULL GROUP BY conflict ORDER BY conflict",
        params,
    )
    totals = db.read(
        # PostgreSQL sums BIGINTs as NUMERIC; the cast keeps it an integer there too.
        "SELECT COUNT(*) AS intercepts, "
        f"CAST(COALESCE(SUM(fees_minor), 0) AS BIGINT) AS fees_minor FROM intercepts{clause}",
        params,
    )[0]
    return by_status, conflicts, totals


def count_intercepts(db: Database, filters: "Filters") -> int:
    where, params = _where(filters)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return db.read(f"SELECT COUNT(*) AS n FROM intercepts{clause}", params)[0]["n"]


def intercept_ids(db: Database, column: str, value: str, merchant_id: str | None) -> list[str]:
    """Ids of the intercepts whose `order_id` or `tracking_no` is `value`, oldest first."""
    if column not in ("order_id", "tracking_no"):
        raise ValueError(f"not a column to find intercepts by: {column!r}")
    sql = f"SELECT intercept_id FROM intercepts WHERE {column} = ?"
    params = [value]
    if merchant_id:
        sql += " AND merchant_id = ?"
        params.append(merchant_id)
    return [
        r["intercept_id"] for r in db.read(sql + " ORDER BY requested_at, intercept_id", params)
    ]


# ---- schema -----------------------------------------------------------------


def upgrade(db: Database, migrations: dict[int, list[str]], target: int, lock: int) -> int:
    """Run the migrations after the version in place, up to `target`, in one transaction
    under the DDL lock `lock`; returns the version there was before."""
    # Processes starting together would race each other's CREATE TABLEs (PostgreSQL).
    with db.ddl(lock) as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = cur.execute("SELECT MAX(version) AS v FROM schema_version").one()
        current = (row or {}).get("v") or 0
        for version in range(current + 1, target + 1):
            for statement in migrations[version]:
                cur.execute(statement)
            cur.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    return current


def journey_counts(db: Database) -> dict[str, Any]:
    """What carriers did: rejections by code, intercepts that stopped the parcel, returns,
    redirects delivered, and each raised flag, over every intercept."""
    rejected = db.read(
        "SELECT rejection_code AS code, COUNT(*) AS n FROM intercepts "
        "WHERE rejection_code IS NOT NULL GROUP BY rejection_code ORDER BY rejection_code"
    )
    steps = db.read(
        'SELECT COUNT(confirmed_at) AS intercepted, COUNT(returning_at) AS "returning", '
        "COUNT(returned_at) AS returned, "
        "COUNT(delivered_to_new_address_at) AS delivered_to_new_address, "
        "COUNT(released_at) AS released FROM intercepts"
    )[0]
    flags = db.read("SELECT flags FROM intercepts WHERE flags IS NOT NULL AND flags <> ''")
    raised: dict[str, int] = {}
    for row in flags:
        for flag in row["flags"].split(","):
            raised[flag] = raised.get(flag, 0) + 1
    return {
        "rejected": {r["code"]: r["n"] for r in rejected},
        **{k: int(v) for k, v in steps.items()},
        "flags": dict(sorted(raised.items())),
    }
