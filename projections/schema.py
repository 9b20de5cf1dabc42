"""The projection tables: a contract for analysts (see docs/projections.md).

`migrate` is explicit and repeatable: it brings any earlier schema up to the
current one and does nothing when already there.
"""

from projections import store
from storage.database import Database

SCHEMA_VERSION = 1
_MIGRATION_LOCK = 0x1A7E_5C4E  # any fixed number, the same in every process

_V1 = [
    """CREATE TABLE IF NOT EXISTS intercepts (
        intercept_id TEXT PRIMARY KEY,
        merchant_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        tracking_no TEXT NOT NULL,
        carrier TEXT NOT NULL,
        amount_minor BIGINT NOT NULL,
        currency TEXT NOT NULL,
        action TEXT NOT NULL,
        request_reason TEXT NOT NULL,
        after_sale_status TEXT NOT NULL,
        status TEXT NOT NULL,
        conflict TEXT,
        cancel_reason TEXT,
        failure_reason TEXT,
        fees_minor BIGINT NOT NULL,
        evidence_count INTEGER NOT NULL,
        requested_at TEXT NOT NULL,
        accepted_at TEXT,
        confirmed_at TEXT,
        failed_at TEXT,
        cancelled_at TEXT,
        released_at TEXT,
        updated_at TEXT NOT NULL,
        version INTEGER NOT NULL
    )""",
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

_MIGRATIONS = {1: _V1}


def migrate(db: Database) -> int:
    """Create or upgrade the tables; returns the schema version now in place."""
    return upgrade(db)[1]


def upgrade(db: Database) -> tuple[int, int]:
    """Create or upgrade the tables, all in one transaction: (version before, version after)."""
    current = store.upgrade(db, _MIGRATIONS, SCHEMA_VERSION, _MIGRATION_LOCK)
    return current, SCHEMA_VERSION
