"""Every SQL statement of the statistics projection (projections/statistics.py says what).

Two tables, written by the projector in the same transaction as the rows:

- `stats_daily`: per (day of request, merchant, carrier, after-sale status), the
  counters of `statistics.COUNTERS`;
- `stats_latency`: per (carrier, measure, bucket, day, merchant, after-sale status),
  how many intercepts took that long;
- `stats_daily_all`, `stats_latency_all`: the same without the merchant (summed over
  every merchant), what the figures of all merchants read. Their keys start with the
  carrier, so the per-carrier histograms are read in key order, without sorting; the
  per-merchant tables' keys start with the merchant (`_merchant_first`).

`stats_schema` holds the fingerprint of what is counted and the zone whose days the
cells are keyed by; `ensure` rebuilds the tables from the `intercepts` rows when either
changed (a new status or reason in the vocabulary, another `INTERCEPT_TIMEZONE`).
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from projections.statistics import (
    BUCKETS,
    CANCELLED,
    CATEGORIES,
    COUNTERS,
    DAILY_KEYS,
    DECIDED,
    FINGERPRINT,
    LATENCY_KEYS,
    RISK_BUCKET,
    RISK_COUNTERS,
    RISK_KEYS,
    SUCCEEDED,
    SUCCESS_CODES,
    Cells,
    bucket_floor,
)
from storage.database import Cursor, Database, Row

TABLES = (
    "stats_daily",
    "stats_latency",
    "stats_daily_all",
    "stats_latency_all",
    "stats_latency_day",
    "stats_latency_day_all",
    "stats_buckets",
    "stats_risk",
)
_ALL = "_all"
"""The suffix of a table's roll-up over every merchant: the same cells without the merchant,
so that the figures of all merchants read a twentieth of the cells or less."""


def _rolled(keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(k for k in keys if k != "merchant_id")


VIEWS = (
    "daily_stats",
    "carrier_performance",
    "stats_counts",
    "latency_histogram",
    "intercept_facts",
)
"""The analysts' views (docs/analytics.md), derived from the vocabulary like the tables."""
_LOCK = 0x1A7E_57A7  # any fixed number, the same in every process
_BACKFILL_BATCH = 5000


def _table(name: str, keys: Sequence[str], values: str, without_rowid: str) -> str:
    columns = ",\n        ".join(
        f"{k} {'INTEGER' if k == 'bucket' else 'TEXT'} NOT NULL" for k in keys
    )
    return f"""CREATE TABLE {name} (
        {columns},
        {values},
        PRIMARY KEY ({", ".join(_merchant_first(keys))})
    ){without_rowid}"""


_BY_DAY = "stats_latency_day"
_BY_DAY_KEYS = ("merchant_id", "day", "measure", "bucket")
"""The latency histograms per day, over every carrier and after-sale status: what the per-day
figures read (`latency_sums(by="day")` without those filters), in key order, a fifth of the
cells of `stats_latency` or fewer, and no sort."""


def _merchant_first(keys: Sequence[str]) -> tuple[str, ...]:
    """The key in stored order: the per-merchant tables are read only for one merchant
    (or grouped by merchant; every merchant reads the roll-ups), so leading with the
    merchant makes its cells one contiguous range, read in key order without an index."""
    if "merchant_id" not in keys:
        return tuple(keys)
    return ("merchant_id", *_rolled(keys))


def _create(without_rowid: str) -> list[str]:
    counters = ",\n        ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in COUNTERS)
    return [
        _table("stats_daily", DAILY_KEYS, counters, without_rowid),
        _table("stats_latency", LATENCY_KEYS, "n BIGINT NOT NULL", without_rowid),
        _table("stats_daily" + _ALL, _rolled(DAILY_KEYS), counters, without_rowid),
        _table("stats_latency" + _ALL, _rolled(LATENCY_KEYS), "n BIGINT NOT NULL", without_rowid),
        _table(_BY_DAY, _BY_DAY_KEYS, "n BIGINT NOT NULL", without_rowid),
        _table(_BY_DAY + _ALL, _rolled(_BY_DAY_KEYS), "n BIGINT NOT NULL", without_rowid),
        "CREATE TABLE stats_buckets (bucket INTEGER PRIMARY KEY, floor_seconds BIGINT NOT NULL)",
        f"""CREATE TABLE stats_risk (
        merchant_id TEXT NOT NULL,
        carrier TEXT NOT NULL,
        action TEXT NOT NULL,
        parcel_stage TEXT NOT NULL,
        since_pickup TEXT NOT NULL,
        day TEXT NOT NULL,
        {", ".join(f"{c} BIGINT NOT NULL" for c in RISK_COUNTERS)},
        PRIMARY KEY ({", ".join(RISK_KEYS)})
    ){without_rowid}""",
    ]


def _views() -> list[str]:
    as_real = "CAST({} AS DOUBLE PRECISION)"
    counts = []
    for name, enum in CATEGORIES.items():
        for value in enum:
            counts.append(
                f"SELECT day, merchant_id, carrier, after_sale_status, '{name}' AS counted, "
                f"'{value.value}' AS value, {name}__{value.value} AS n FROM stats_daily "
                f"WHERE {name}__{value.value} <> 0"
            )

    def among(statuses) -> str:
        return "status IN (" + ", ".join(f"'{s.value}'" for s in sorted(statuses)) + ")"

    codes = ", ".join(f"'{c}'" for c in sorted(SUCCESS_CODES)) or "''"
    succeeded = f"({among(SUCCEEDED)} OR ({among(DECIDED)} AND rejection_code IN ({codes})))"
    return [
        """CREATE VIEW daily_stats AS
        SELECT day, merchant_id, carrier,
            CAST(SUM(intercepts) AS BIGINT) AS requests,
            CAST(SUM(outcome__cancelled) AS BIGINT) AS cancelled,
            CAST(SUM(outcome__succeeded) AS BIGINT) AS intercepted,
            CAST(SUM(outcome__failed) AS BIGINT) AS failed,
            CAST(SUM(outcome__succeeded + outcome__failed) AS BIGINT) AS decided,
            CAST(SUM(fees_minor) AS BIGINT) AS fees_minor
        FROM stats_daily GROUP BY day, merchant_id, carrier""",
        f"""CREATE VIEW carrier_performance AS
        SELECT merchant_id, carrier,
            CAST(SUM(requests) AS BIGINT) AS requests,
            CAST(SUM(cancelled) AS BIGINT) AS cancelled,
            CAST(SUM(intercepted) AS BIGINT) AS intercepted,
            CAST(SUM(decided) AS BIGINT) AS decided,
            {as_real.format("SUM(intercepted)")} / NULLIF(SUM(decided), 0) AS success_rate,
            {as_real.format("SUM(cancelled)")} / NULLIF(SUM(requests), 0) AS cancel_rate,
            MIN(day) AS first_day, MAX(day) AS last_day
        FROM daily_stats GROUP BY merchant_id, carrier""",
        "CREATE VIEW stats_counts AS\n        " + "\n        UNION ALL ".join(counts),
        """CREATE VIEW latency_histogram AS
        SELECT l.day, l.merchant_id, l.carrier, l.measure, l.bucket, b.floor_seconds,
            CAST(SUM(l.n) AS BIGINT) AS n
        FROM stats_latency l JOIN stats_buckets b ON b.bucket = l.bucket
        GROUP BY l.day, l.merchant_id, l.carrier, l.measure, l.bucket, b.floor_seconds""",
        f"""CREATE VIEW intercept_facts AS
        SELECT intercepts.*, SUBSTR(requested_at, 1, 10) AS request_day,
            CASE WHEN {succeeded} THEN 1 ELSE 0 END AS succeeded,
            CASE WHEN {among(DECIDED)} THEN 1 ELSE 0 END AS decided,
            CASE WHEN {among(CANCELLED)} THEN 1 ELSE 0 END AS was_cancelled
        FROM intercepts""",
    ]


_FINGERPRINT = hashlib.sha256(
    "\n".join([FINGERPRINT, *_create(""), *_views()]).encode()
).hexdigest()[:16]
"""What is counted and how it is stored: any change to either rebuilds the tables."""


DEFAULT_ZONE = "UTC"
"""The zone of new statistics tables when none is given (the engine always gives its own)."""


def ensure(db: Database, zone: str | None = None) -> bool:
    """Create the statistics tables, or rebuild them from the rows when what is counted
    changed or their days are to be another zone's; True when they were (re)built.

    `zone`: the zone whose days the cells are keyed by (the package center's); None keeps
    the zone the tables already have.
    """
    with db.ddl(_LOCK) as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS stats_schema (fingerprint TEXT NOT NULL, zone TEXT)"
        )
        row = cur.execute("SELECT * FROM stats_schema").one()
        stored = row.get("zone") if row is not None else None
        zone = zone or stored or DEFAULT_ZONE
        if row is not None and row["fingerprint"] == _FINGERPRINT and stored == zone:
            return False
        for view in reversed(VIEWS):  # carrier_performance reads daily_stats
            cur.execute(f"DROP VIEW IF EXISTS {view}")
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        # Tables made before the zone was recorded have no column for it.
        cur.execute("DROP TABLE stats_schema")
        cur.execute("CREATE TABLE stats_schema (fingerprint TEXT NOT NULL, zone TEXT)")
        for statement in [*_create(cur.dialect.without_rowid), *_views()]:
            cur.execute(statement)
        cur.executemany(
            "INSERT INTO stats_buckets (bucket, floor_seconds) VALUES (?, ?)",
            [(b, bucket_floor(b)) for b in range(BUCKETS)],
        )
        _backfill(cur, zone)
        cur.execute(
            "INSERT INTO stats_schema (fingerprint, zone) VALUES (?, ?)", (_FINGERPRINT, zone)
        )
        return True


def zone_of(db: Database | Cursor) -> str:
    """The zone whose days the statistics are keyed by."""
    if isinstance(db, Database):
        rows = db.read("SELECT zone FROM stats_schema")
        return (rows[0]["zone"] if rows else None) or DEFAULT_ZONE
    row = db.execute("SELECT zone FROM stats_schema").one()
    return (row["zone"] if row is not None else None) or DEFAULT_ZONE


def _backfill(cur: Cursor, zone: str) -> None:
    """The statistics of the rows already there, read in key order a batch at a time."""
    cells = Cells(zone)
    after = ""
    while True:
        rows = cur.execute(
            "SELECT * FROM intercepts WHERE intercept_id > ? ORDER BY intercept_id LIMIT ?",
            (after, _BACKFILL_BATCH),
        ).all()
        for row in rows:
            cells.add(row)
        if len(rows) < _BACKFILL_BATCH:
            break
        after = rows[-1]["intercept_id"]
    record(cur, cells)


def record_changes(cur: Cursor, changes: Iterable[tuple[Row | None, Row]]) -> None:
    """Rows that moved from their first value to their second, in the caller's transaction."""
    cells = Cells(zone_of(cur))
    for before, after in changes:
        cells.changes(before, after)
    record(cur, cells)


def record(cur: Cursor, cells: Cells) -> None:
    daily, latency, risk = cells.nonzero()
    for suffix in ("", _ALL):
        keys = DAILY_KEYS if not suffix else _rolled(DAILY_KEYS)
        if suffix:
            daily = _roll_up(daily, DAILY_KEYS)
            latency = _roll_up(latency, LATENCY_KEYS)
        by_shape: dict[tuple[str, ...], list[tuple]] = {}
        for key, counters in sorted(daily.items()):
            names = tuple(sorted(counters))
            by_shape.setdefault(names, []).append((*key, *(counters[n] for n in names)))
        for names, values in by_shape.items():
            cur.executemany(_add("stats_daily" + suffix, keys, names), values)
        cur.executemany(
            _add(
                "stats_latency" + suffix, _rolled(LATENCY_KEYS) if suffix else LATENCY_KEYS, ["n"]
            ),
            [(*key, n) for key, n in sorted(latency.items())],
        )
        by_day = _by_day(latency, _rolled(LATENCY_KEYS) if suffix else LATENCY_KEYS)
        day_keys = _rolled(_BY_DAY_KEYS) if suffix else _BY_DAY_KEYS
        cur.executemany(
            _add(_BY_DAY + suffix, day_keys, ["n"]),
            [(*key, n) for key, n in sorted(by_day.items()) if n],
        )
    cur.executemany(_ADD_RISK, [(*key, *values) for key, values in sorted(risk.items())])


def _by_day(latency: dict[tuple, int], keys: Sequence[str]) -> dict[tuple, int]:
    """Latency cells summed over carriers and after-sale statuses, keyed as `_BY_DAY_KEYS`."""
    at = [keys.index(k) for k in _BY_DAY_KEYS if k in keys]
    summed: dict[tuple, int] = {}
    for key, n in latency.items():
        short = tuple(key[i] for i in at)
        summed[short] = summed.get(short, 0) + n
    return summed


def _roll_up(cells: dict, keys: Sequence[str]) -> dict:
    """The same cells summed over every merchant."""
    at = keys.index("merchant_id")
    rolled: dict = {}
    for key, value in cells.items():
        short = key[:at] + key[at + 1 :]
        if isinstance(value, dict):
            into = rolled.setdefault(short, {})
            for name, n in value.items():
                into[name] = into.get(name, 0) + n
        else:
            rolled[short] = rolled.get(short, 0) + value
    return rolled


def _add(table: str, keys: Sequence[str], names: Sequence[str]) -> str:
    columns = (*keys, *names)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in names)
    )


_SUMMED_TABLES: dict[str, tuple[Sequence[str], Sequence[str]]] = {
    "stats_daily": (DAILY_KEYS, COUNTERS),
    "stats_daily" + _ALL: (_rolled(DAILY_KEYS), COUNTERS),
    "stats_latency": (LATENCY_KEYS, ("n",)),
    "stats_latency" + _ALL: (_rolled(LATENCY_KEYS), ("n",)),
    _BY_DAY: (_BY_DAY_KEYS, ("n",)),
    _BY_DAY + _ALL: (_rolled(_BY_DAY_KEYS), ("n",)),
    "stats_risk": (RISK_KEYS, RISK_COUNTERS),
}
"""Each table of cells: its key and its counters (`stats_buckets` is fixed, not counted)."""


def add_from(cur: Cursor, source: str) -> None:
    """Add the cells of the same tables in the attached database `source` to these: the
    statistics of two sets of intercepts are the sums of each one's (a rebuild in parts)."""
    for table, (keys, counters) in _SUMMED_TABLES.items():
        columns = ", ".join((*keys, *counters))
        # `WHERE true`: without it SQLite would read ON CONFLICT as part of the SELECT's join.
        cur.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source}.{table} WHERE true "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
        )


_ADD_RISK = (
    f"INSERT INTO stats_risk ({', '.join((*RISK_KEYS, *RISK_COUNTERS))}) "
    f"VALUES ({', '.join('?' * (len(RISK_KEYS) + len(RISK_COUNTERS)))}) "
    f"ON CONFLICT ({', '.join(RISK_KEYS)}) DO UPDATE SET "
    + ", ".join(f"{c} = stats_risk.{c} + excluded.{c}" for c in RISK_COUNTERS)
)


# ---- reading -------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """Which cells: whole days [since_day, until_day) in the tables' zone, and equality
    filters."""

    since_day: str | None = None
    until_day: str | None = None
    merchant_id: str | None = None
    carrier: str | None = None
    after_sale_status: str | None = None

    def sql(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.since_day is not None:
            clauses.append("day >= ?")
            params.append(self.since_day)
        if self.until_day is not None:
            clauses.append("day < ?")
            params.append(self.until_day)
        for column in ("merchant_id", "carrier", "after_sale_status"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_GROUPS = frozenset({"carrier", "day", "merchant_id"})


def _grouping(by: str | None) -> tuple[str, str]:
    if by is None:
        return "", ""
    if by not in _GROUPS:
        raise ValueError(f"cannot group statistics by {by!r}")
    return f"{by}, ", f" GROUP BY {by}"


def daily_sums(db: Database, where: Where, by: Sequence[str]) -> list[Row]:
    """The counters summed over the cells, per value of the `by` columns."""
    for column in by:
        _grouping(column)
    keys = ", ".join(by)
    clause, params = where.sql()
    # PostgreSQL sums BIGINTs as NUMERIC; the casts keep them integers there too.
    sums = ", ".join(f"CAST(SUM({c}) AS BIGINT) AS {c}" for c in COUNTERS)
    table = "stats_daily" + _suffix(where, by)
    return db.read(
        f"SELECT {keys}, {sums} FROM {table}{clause} GROUP BY {keys} ORDER BY {keys}", params
    )


def _suffix(where: Where, by: Sequence[str | None]) -> str:
    """The roll-up over every merchant when no merchant is asked for or grouped by."""
    return "" if where.merchant_id is not None or "merchant_id" in by else _ALL


def latency_sums(db: Database, where: Where, by: str | None = None) -> list[Row]:
    """(by, measure, bucket, n): the latency histograms, per value of `by`."""
    select, _ = _grouping(by)
    clause, params = where.sql()
    keys = f"{select}measure, bucket"
    table = "stats_latency"
    if by == "day" and where.carrier is None and where.after_sale_status is None:
        table = _BY_DAY  # read in key order: (merchant,) day, measure, bucket
    table += _suffix(where, [by])
    return db.read(
        f"SELECT {keys}, CAST(SUM(n) AS BIGINT) AS n FROM {table}{clause} "
        f"GROUP BY {keys} ORDER BY {keys}",
        params,
    )


def risk_sums(
    db: Database,
    merchant_id: str | None,
    since_day: str | None = None,
    until_day: str | None = None,
    carrier: str | None = None,
) -> list[Row]:
    """(carrier, action, parcel_stage, since_pickup, cases, decided, succeeded, fees_minor)
    per risk bucket, over the days [since_day, until_day) of one merchant's history (all
    when None)."""
    clauses, params = [], []
    for column, value in (("merchant_id", merchant_id), ("carrier", carrier)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since_day is not None:
        clauses.append("day >= ?")
        params.append(since_day)
    if until_day is not None:
        clauses.append("day < ?")
        params.append(until_day)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    keys = ", ".join(RISK_BUCKET)
    sums = ", ".join(f"CAST(SUM({c}) AS BIGINT) AS {c}" for c in RISK_COUNTERS)
    return db.read(
        f"SELECT {keys}, {sums} FROM stats_risk{where} GROUP BY {keys} ORDER BY {keys}", params
    )
