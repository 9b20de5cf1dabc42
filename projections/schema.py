"""The projection tables: a contract for analysts (see docs/projections.md).

`migrate` is explicit and repeatable: it brings any earlier schema up to the
current one and does nothing when already there.
"""

from projections import stats_store, store
from projections.row import ROW, added_in, create_table
from storage.database import Database

_AFTER_SALES = [  # the package center's after-sale records (projections/after_sales.py)
    """CREATE TABLE IF NOT EXISTS after_sales (
        after_sale_key TEXT PRIMARY KEY,
        merchant_id TEXT NOT NULL,
        after_sale_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        tracking_no TEXT NOT NULL,
        carrier TEXT NOT NULL,
        amount_minor BIGINT NOT NULL,
        currency TEXT NOT NULL,
        status TEXT NOT NULL,
        parcel_stage TEXT NOT NULL,
        reports INTEGER NOT NULL,
        auto_rule TEXT NOT NULL,
        stopped_by TEXT,
        message TEXT,
        intercept_id TEXT,
        reported_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        version INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS after_sales_merchant ON after_sales (merchant_id, reported_at)",
]
_TABLES = {4: _AFTER_SALES}
"""Tables beside the intercepts row, by the schema version that added them. A column added
later takes `since=` the next version after `SCHEMA_VERSION`, not after its row's last."""

SCHEMA_VERSION = max(*(c.since for c in ROW), *_TABLES)
_MIGRATION_LOCK = 0x1A7E_5C4E  # any fixed number, the same in every process

_V1 = [
    create_table(1),  # the row as projections/row.py declares it
    "CREATE INDEX IF NOT EXISTS intercepts_merchant_time ON intercepts (merchant_id, requested_at)",
    "CREATE INDEX IF NOT EXISTS intercepts_parcel ON intercepts (carrier, tracking_no)",
    "CREATE INDEX IF NOT EXISTS intercepts_order ON intercepts (merchant_id, order_id)",
    """CREATE TABLE IF NOT EXISTS intercept_events (
        intercept_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (intercept_id, version)
    )""",
    """CREATE TABLE IF NOT EXISTS pending_events (
        intercept_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        envelope TEXT NOT NULL,
        PRIMARY KEY (intercept_id, version)
    )""",
    """CREATE TABLE IF NOT EXISTS checkpoints (
        projection TEXT NOT NULL,
        source TEXT NOT NULL,
        partition INTEGER NOT NULL,
        position BIGINT NOT NULL,
        PRIMARY KEY (projection, source, partition)
    )""",
]

# A later version adds the columns projections/row.py declares with `since=N`; a version
# that needs more (an index, a backfill) appends its statements to its entry here.
_MIGRATIONS = {
    1: _V1,
    **{v: [*added_in(v), *_TABLES.get(v, [])] for v in range(2, SCHEMA_VERSION + 1)},
}


def migrate(db: Database, zone: str | None = None) -> int:
    """Create or upgrade the tables; returns the schema version now in place. `zone`: the
    package center's, whose days the statistics count in (None keeps the one in place)."""
    return upgrade(db, zone)[1]


def upgrade(db: Database, zone: str | None = None) -> tuple[int, int]:
    """Create or upgrade the tables, all in one transaction: (version before, version after)."""
    current = store.upgrade(db, _MIGRATIONS, SCHEMA_VERSION, _MIGRATION_LOCK)
    # Derived from the rows: (re)built from them whenever what it counts changed.
    stats_store.ensure(db, zone)
    return current, SCHEMA_VERSION
