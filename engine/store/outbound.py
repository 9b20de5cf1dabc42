"""The carrier gateway's own tables: how far it read the feed, and each intercept's dispatch.

Kept in the event store's database beside the relay's positions. What the gateway
learns from a batch of the feed (a request to send, a cancel to pass on) and the
position after that batch are written in one transaction, and only when the stored
position is still the one the batch was read after; absorbing the same event twice,
or a cancel before its request, leaves the same rows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from domain.vocabulary import DispatchState
from storage.database import Database
from storage.dialect import DDL_LOCK

READER = "carrier-gateway"


class PositionMoved(RuntimeError):
    """Another gateway moved the position since the batch was read: nothing was written."""


_STORED: frozenset[DispatchState] = frozenset(DispatchState) - {DispatchState.SENT}
"""The `request_state` words the table holds: a `DispatchState` each; `sent` is not stored
but read from a pending request's attempts (`Dispatch.state`)."""


@dataclass(frozen=True)
class Dispatch:
    """One intercept as the gateway keeps it. `request_state`: one of `_STORED` (pending,
    accepted, rejected, unreachable, withdrawn or not_connected).
    `cancel_state`: none, pending, done or not_needed."""

    intercept_id: str
    carrier: str | None
    tracking_no: str | None
    merchant_id: str | None
    request: dict[str, Any] | None
    cancel_seen: bool
    request_state: str
    cancel_state: str
    attempts: int
    first_attempt_ms: int | None
    next_attempt_ms: int
    carrier_ref: str | None
    last_error: str | None

    @property
    def action(self) -> str:
        """What is due: the request itself, or the cancel of an accepted request."""
        return "request" if self.request_state == DispatchState.PENDING else "cancel"

    @property
    def state(self) -> DispatchState:
        return dispatch_state(self.request_state, self.attempts)


def dispatch_state(request_state: str, attempts: int) -> DispatchState:
    """The request's dispatch as the front doors show it: a pending request the gateway
    has tried is `sent` (under way, or waiting to be tried again)."""
    state = DispatchState(request_state)
    if state is DispatchState.PENDING and attempts > 0:
        return DispatchState.SENT
    return state


_COLUMNS = (
    "intercept_id, carrier, tracking_no, merchant_id, request, cancel_seen, request_state, "
    "cancel_state, attempts, first_attempt_ms, next_attempt_ms, carrier_ref, last_error"
)


def _dispatch(row: dict[str, Any]) -> Dispatch:
    return Dispatch(
        intercept_id=row["intercept_id"],
        carrier=row["carrier"],
        tracking_no=row["tracking_no"],
        merchant_id=row["merchant_id"],
        request=orjson.loads(row["request"]) if row["request"] else None,
        cancel_seen=bool(row["cancel_seen"]),
        request_state=row["request_state"],
        cancel_state=row["cancel_state"],
        attempts=row["attempts"],
        first_attempt_ms=row["first_attempt_ms"],
        next_attempt_ms=row["next_attempt_ms"],
        carrier_ref=row["carrier_ref"],
        last_error=row["last_error"],
    )


@dataclass(frozen=True)
class Requested:
    intercept_id: str
    carrier: str
    tracking_no: str
    merchant_id: str
    request: dict[str, Any]


@dataclass(frozen=True)
class CancelSeen:
    intercept_id: str


class OutboundStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.ddl(DDL_LOCK) as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS carrier_gateway_positions "
                "(reader TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS carrier_outbound ("
                "intercept_id TEXT PRIMARY KEY, carrier TEXT, tracking_no TEXT, "
                "merchant_id TEXT, request TEXT, cancel_seen INTEGER NOT NULL DEFAULT 0, "
                "request_state TEXT NOT NULL DEFAULT 'pending', "
                "cancel_state TEXT NOT NULL DEFAULT 'none', "
                "attempts INTEGER NOT NULL DEFAULT 0, first_attempt_ms BIGINT, "
                "next_attempt_ms BIGINT NOT NULL, carrier_ref TEXT, last_error TEXT)"
            )
            cur.execute(
                "CREATE INDEX IF NOT EXISTS carrier_outbound_ref "
                "ON carrier_outbound (carrier, carrier_ref)"
            )

    # ---- the feed --------------------------------------------------------

    def position(self) -> int:
        rows = self.db.read(
            "SELECT position FROM carrier_gateway_positions WHERE reader = ?", (READER,)
        )
        return rows[0]["position"] if rows else 0

    def absorb(
        self, facts: list[Requested | CancelSeen], read_after: int, position: int, now_ms: int
    ) -> None:
        """Record what a batch of the feed asks for and the position after it, together."""
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT position FROM carrier_gateway_positions WHERE reader = ?", (READER,)
            ).one()
            if (row["position"] if row else 0) != read_after:
                raise PositionMoved(f"the gateway's position is no longer {read_after}")
            for fact in facts:
                if isinstance(fact, Requested):
                    cur.execute(
                        "INSERT INTO carrier_outbound (intercept_id, carrier, tracking_no, "
                        "merchant_id, request, next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (intercept_id) DO UPDATE SET carrier = excluded.carrier, "
                        "tracking_no = excluded.tracking_no, merchant_id = excluded.merchant_id, "
                        "request = excluded.request WHERE carrier_outbound.request IS NULL",
                        (
                            fact.intercept_id,
                            fact.carrier,
                            fact.tracking_no,
                            fact.merchant_id,
                            orjson.dumps(fact.request).decode(),
                            now_ms,
                        ),
                    )
                else:
                    cur.execute(
                        "INSERT INTO carrier_outbound (intercept_id, cancel_seen, cancel_state, "
                        "next_attempt_ms) VALUES (?, 1, 'pending', ?) "
                        "ON CONFLICT (intercept_id) DO UPDATE SET cancel_seen = 1, "
                        "cancel_state = CASE WHEN carrier_outbound.cancel_state <> 'none' "
                        "THEN carrier_outbound.cancel_state WHEN carrier_outbound.request_state "
                        "IN ('pending', 'accepted') THEN 'pending' ELSE 'not_needed' END",
                        (fact.intercept_id, now_ms),
                    )
            cur.execute(
                "INSERT INTO carrier_gateway_positions (reader, position) VALUES (?, ?) "
                "ON CONFLICT (reader) DO UPDATE SET position = excluded.position",
                (READER, position),
            )

    # ---- dispatching -------------------------------------------------------

    def due(self, now_ms: int, limit: int) -> list[Dispatch]:
        rows = self.db.read(
            f"SELECT {_COLUMNS} FROM carrier_outbound WHERE next_attempt_ms <= ? AND ("
            "(request_state = 'pending' AND request IS NOT NULL) OR "
            "(request_state = 'accepted' AND cancel_state = 'pending')) "
            "ORDER BY next_attempt_ms, intercept_id LIMIT ?",
            (now_ms, limit),
        )
        return [_dispatch(r) for r in rows]

    def get(self, intercept_id: str) -> Dispatch | None:
        rows = self.db.read(
            f"SELECT {_COLUMNS} FROM carrier_outbound WHERE intercept_id = ?", (intercept_id,)
        )
        return _dispatch(rows[0]) if rows else None

    def all(self) -> list[Dispatch]:
        rows = self.db.read(f"SELECT {_COLUMNS} FROM carrier_outbound ORDER BY intercept_id")
        return [_dispatch(r) for r in rows]

    def by_ref(self, carrier: str, carrier_ref: str) -> str | None:
        rows = self.db.read(
            "SELECT intercept_id FROM carrier_outbound WHERE carrier = ? AND carrier_ref = ?",
            (carrier, carrier_ref),
        )
        return rows[0]["intercept_id"] if rows else None

    def settle(self, intercept_id: str, **changes: Any) -> None:
        """Set the dispatch's new state after the carrier answered (or did not)."""
        names = sorted(changes)
        assigns = ", ".join(f"{name} = ?" for name in names)
        with self.db.transaction() as cur:
            cur.execute(
                f"UPDATE carrier_outbound SET {assigns} WHERE intercept_id = ?",
                (*(changes[n] for n in names), intercept_id),
            )

    def states(self, intercept_ids: Sequence[str]) -> dict[str, DispatchState]:
        """The dispatch of each of these intercepts the gateway has read; one query."""
        if not intercept_ids:
            return {}
        marks = ", ".join("?" for _ in intercept_ids)
        rows = self.db.read(
            "SELECT intercept_id, request_state, attempts FROM carrier_outbound "
            f"WHERE intercept_id IN ({marks})",
            tuple(intercept_ids),
        )
        return {r["intercept_id"]: dispatch_state(r["request_state"], r["attempts"]) for r in rows}

    def counts(self) -> dict[str, int]:
        rows = self.db.read(
            "SELECT request_state, COUNT(*) AS n FROM carrier_outbound GROUP BY request_state"
        )
        return {r["request_state"]: r["n"] for r in rows}
