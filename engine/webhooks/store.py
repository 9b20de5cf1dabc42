"""The webhook tables, beside the events in the event store's database: endpoints, the
delivery log, and the dispatcher's position (in `process_positions`).

The fan-out writes a batch's deliveries and the new position in one transaction, and each
attempt updates its delivery in one transaction, so a crash anywhere loses no delivery and
makes none twice in the log (an attempt cut short is simply made again: at least once).
"""

from dataclasses import dataclass
from typing import Any

from engine.store.positions import ProcessPositions
from storage.database import Database
from storage.dialect import DDL_LOCK

DISPATCHER = "webhooks"
"""The dispatcher's name in `process_positions`."""

_ENDPOINTS = """CREATE TABLE IF NOT EXISTS webhook_endpoints (
    endpoint_id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    from_position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    disabled_reason TEXT,
    removed_at TEXT
)"""
_DELIVERIES = """CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    intercept_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    position BIGINT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    first_attempt_at TEXT,
    last_attempt_at TEXT,
    last_status INTEGER,
    last_error TEXT,
    delivered_at TEXT,
    created_at TEXT NOT NULL
)"""
_INDEXES = [
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_queue ON webhook_deliveries "
    "(status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_order ON webhook_deliveries "
    "(endpoint_id, intercept_id, position)",
    "CREATE INDEX IF NOT EXISTS webhook_endpoints_merchant ON webhook_endpoints (merchant_id)",
]

ENDPOINT_COLUMNS = (
    "endpoint_id, merchant_id, url, events, from_position, created_at, disabled_at, "
    "disabled_reason, removed_at"
)
DELIVERY_COLUMNS = (
    "delivery_id, endpoint_id, merchant_id, intercept_id, event_id, event_type, position, "
    "status, attempts, next_attempt_at, first_attempt_at, last_attempt_at, last_status, "
    "last_error, delivered_at, created_at"
)


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    merchant_id: str
    url: str
    events: frozenset[str]  # empty: every event type
    secret: str
    from_position: int

    def wants(self, event_type: str, position: int) -> bool:
        return position > self.from_position and (not self.events or event_type in self.events)


class WebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.ddl(DDL_LOCK) as cur:
            for ddl in (_ENDPOINTS, _DELIVERIES, *_INDEXES):
                cur.execute(ddl)
        self.positions = ProcessPositions(db)

    # ---- endpoints ---------------------------------------------------------

    def add_endpoint(self, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        with self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO webhook_endpoints ({columns}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )

    def endpoints(self, merchant_id: str | None, include_removed: bool = False) -> list[dict]:
        sql = f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE 1 = 1"
        params: list[Any] = []
        if merchant_id is not None:
            sql += " AND merchant_id = ?"
            params.append(merchant_id)
        if not include_removed:
            sql += " AND removed_at IS NULL"
        return self.db.read(sql + " ORDER BY created_at, endpoint_id", params)

    def endpoint(self, endpoint_id: str) -> dict | None:
        rows = self.db.read(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE endpoint_id = ?",
            (endpoint_id,),
        )
        return rows[0] if rows else None

    def subscribed(self) -> list[Endpoint]:
        """Every endpoint not removed, disabled ones too: what they miss waits for them."""
        rows = self.db.read(
            "SELECT endpoint_id, merchant_id, url, events, secret, from_position "
            "FROM webhook_endpoints WHERE removed_at IS NULL"
        )
        return [
            Endpoint(
                r["endpoint_id"],
                r["merchant_id"],
                r["url"],
                frozenset(e for e in r["events"].split(",") if e),
                r["secret"],
                r["from_position"],
            )
            for r in rows
        ]

    def secret_of(self, endpoint_id: str) -> str | None:
        rows = self.db.read(
            "SELECT secret FROM webhook_endpoints WHERE endpoint_id = ? AND removed_at IS NULL",
            (endpoint_id,),
        )
        return rows[0]["secret"] if rows else None

    def remove_endpoint(self, endpoint_id: str, now: str) -> bool:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE webhook_endpoints SET removed_at = ? "
                "WHERE endpoint_id = ? AND removed_at IS NULL",
                (now, endpoint_id),
            )
            found = cur.execute(
                "SELECT removed_at FROM webhook_endpoints WHERE endpoint_id = ?", (endpoint_id,)
            ).one()
        return found is not None

    def disable(self, endpoint_id: str, now: str, reason: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? "
                "WHERE endpoint_id = ? AND disabled_at IS NULL",
                (now, reason[:500], endpoint_id),
            )

    # ---- the delivery log ----------------------------------------------------

    def fan_out(self, deliveries: list[dict[str, Any]], position: int) -> None:
        """A batch's deliveries and the dispatcher's new position, in one transaction."""
        with self.db.transaction() as cur:
            if deliveries:
                columns = list(deliveries[0])
                cur.executemany(
                    f"INSERT INTO webhook_deliveries ({', '.join(columns)}) VALUES "
                    f"({', '.join('?' * len(columns))}) ON CONFLICT (delivery_id) DO NOTHING",
                    [tuple(d[c] for c in columns) for d in deliveries],
                )
            cur.execute(
                "INSERT INTO process_positions (reader, position) VALUES (?, ?) "
                "ON CONFLICT (reader) DO UPDATE SET position = excluded.position",
                (DISPATCHER, position),
            )

    def due(self, now: str, limit: int) -> list[dict]:
        """Pending deliveries due now, each the oldest pending one of its endpoint and
        intercept: one intercept's events reach an endpoint in order."""
        return self.db.read(
            "SELECT d.delivery_id, d.endpoint_id, d.intercept_id, d.position, d.body, "
            "d.attempts, d.first_attempt_at, e.url, e.secret FROM webhook_deliveries d "
            "JOIN webhook_endpoints e ON e.endpoint_id = d.endpoint_id "
            "WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
            "AND e.disabled_at IS NULL AND e.removed_at IS NULL "
            "AND d.position = (SELECT MIN(x.position) FROM webhook_deliveries x "
            "WHERE x.endpoint_id = d.endpoint_id AND x.intercept_id = d.intercept_id "
            "AND x.status = 'pending') ORDER BY d.position LIMIT ?",
            (now, limit),
        )

    def delivered(self, delivery_id: str, now: str, status: int) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, "
                "first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?, "
                "last_status = ?, last_error = NULL, delivered_at = ? WHERE delivery_id = ?",
                (now, now, status, now, delivery_id),
            )

    def failed(
        self, delivery_id: str, now: str, status: int | None, error: str, next_at: str
    ) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, "
                "first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?, "
                "last_status = ?, last_error = ?, next_attempt_at = ? WHERE delivery_id = ?",
                (now, now, status, error[:500], next_at, delivery_id),
            )

    def deliveries(
        self, merchant_id: str | None, endpoint_id: str | None, limit: int = 100
    ) -> list[dict]:
        sql = f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE 1 = 1"
        params: list[Any] = []
        if merchant_id is not None:
            sql += " AND merchant_id = ?"
            params.append(merchant_id)
        if endpoint_id is not None:
            sql += " AND endpoint_id = ?"
            params.append(endpoint_id)
        return self.db.read(sql + " ORDER BY position DESC, endpoint_id LIMIT ?", (*params, limit))

    def delivery(self, delivery_id: str) -> dict | None:
        rows = self.db.read(
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE delivery_id = ?",
            (delivery_id,),
        )
        return rows[0] if rows else None

    def redeliver(self, delivery_id: str, now: str) -> None:
        """Send it again, under the same webhook-id; its endpoint is enabled again."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, "
                "first_attempt_at = NULL WHERE delivery_id = ?",
                (now, delivery_id),
            )
            cur.execute(
                "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL "
                "WHERE endpoint_id = (SELECT endpoint_id FROM webhook_deliveries "
                "WHERE delivery_id = ?)",
                (delivery_id,),
            )
            # Failing since then: its other pending deliveries start their horizon again.
            cur.execute(
                "UPDATE webhook_deliveries SET first_attempt_at = NULL WHERE status = 'pending' "
                "AND endpoint_id = (SELECT endpoint_id FROM webhook_deliveries "
                "WHERE delivery_id = ?)",
                (delivery_id,),
            )
