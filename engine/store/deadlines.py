"""The deadline watch: when each intercept's policy deadlines fall due, indexed by that moment.

The deadline process follows the log (requests and policies) from its position in
`process_positions` (reader `deadlines`) and keeps one row per intercept and deadline
the merchant's policy sets: the request's moment, the policy's minutes, and `due_ms`,
the first millisecond at which the deadline has passed. A policy set later moves the due
moments of that merchant's rows (or clears them when it drops the deadline). A batch's
rows and the new position are written in one transaction.

A tick reads only rows whose `due_ms` has come (`deadline_watch_due`), so its cost grows
with what is due, not with the intercepts still open; each row is checked once and then
dropped, whether the check stalled the intercept or found the carrier had answered.
Nothing here reads the clock: the tick hands in `now`.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.vocabulary import Deadline
from engine.store.positions import ProcessPositions
from storage.database import Database
from storage.dialect import DDL_LOCK

WATCHER = "deadlines"
"""The deadline process's name in `process_positions`."""

_WATCH = """CREATE TABLE IF NOT EXISTS deadline_watch (
    intercept_id TEXT NOT NULL,
    deadline TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    requested_ms BIGINT NOT NULL,
    minutes INTEGER,
    due_ms BIGINT,
    PRIMARY KEY (intercept_id, deadline)
)"""
_LIMITS = """CREATE TABLE IF NOT EXISTS deadline_limits (
    merchant_id TEXT NOT NULL,
    deadline TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, deadline)
)"""
_INDEXES = [
    "CREATE INDEX IF NOT EXISTS deadline_watch_due ON deadline_watch (due_ms)",
    "CREATE INDEX IF NOT EXISTS deadline_watch_merchant ON deadline_watch (merchant_id, deadline)",
]
DUE = (
    "SELECT intercept_id, deadline, minutes, due_ms FROM deadline_watch "
    "WHERE due_ms <= ? ORDER BY due_ms LIMIT ?"
)


def ms_after(moment: datetime) -> int:
    """`moment` in Unix milliseconds, rounded up: a due moment never falls early."""
    return math.ceil(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Requested:
    intercept_id: str
    merchant_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class Limits:
    """A policy's deadlines as set: minutes, or None for a deadline it does not set."""

    merchant_id: str
    minutes: dict[Deadline, int | None]


@dataclass(frozen=True)
class Due:
    intercept_id: str
    deadline: Deadline
    minutes: int


class DeadlineWatch:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.ddl(DDL_LOCK) as cur:
            for ddl in (_WATCH, _LIMITS, *_INDEXES):
                cur.execute(ddl)
        self.positions = ProcessPositions(db)

    def position(self) -> int:
        return self.positions.get(WATCHER)

    def absorb(self, facts: Iterable[Requested | Limits], position: int) -> None:
        """A batch of the log, in its order, and the position after it: one transaction."""
        with self.db.transaction() as cur:
            for fact in facts:
                if isinstance(fact, Limits):
                    for deadline, minutes in fact.minutes.items():
                        key = (fact.merchant_id, deadline.value)
                        if minutes is None:
                            cur.execute(
                                "DELETE FROM deadline_limits WHERE merchant_id = ? "
                                "AND deadline = ?",
                                key,
                            )
                        else:
                            cur.execute(
                                "INSERT INTO deadline_limits (merchant_id, deadline, minutes) "
                                "VALUES (?, ?, ?) ON CONFLICT (merchant_id, deadline) "
                                "DO UPDATE SET minutes = excluded.minutes",
                                (*key, minutes),
                            )
                        # NULL minutes make a NULL due moment: no longer watched.
                        cur.execute(
                            "UPDATE deadline_watch SET minutes = ?, "
                            "due_ms = requested_ms + ? * 60000 "
                            "WHERE merchant_id = ? AND deadline = ?",
                            (minutes, minutes, *key),
                        )
                    continue
                at = ms_after(fact.occurred_at)
                for deadline in Deadline:
                    limit = (
                        "(SELECT minutes FROM deadline_limits WHERE merchant_id = ? "
                        "AND deadline = ?)"
                    )
                    cur.execute(
                        "INSERT INTO deadline_watch (intercept_id, deadline, merchant_id, "
                        f"requested_ms, minutes, due_ms) VALUES (?, ?, ?, ?, {limit}, "
                        f"? + {limit} * 60000) ON CONFLICT (intercept_id, deadline) DO NOTHING",
                        (
                            fact.intercept_id,
                            deadline.value,
                            fact.merchant_id,
                            at,
                            fact.merchant_id,
                            deadline.value,
                            at,
                            fact.merchant_id,
                            deadline.value,
                        ),
                    )
            cur.execute(
                "INSERT INTO process_positions (reader, position) VALUES (?, ?) "
                "ON CONFLICT (reader) DO UPDATE SET position = excluded.position",
                (WATCHER, position),
            )

    def due(self, now: datetime, limit: int) -> list[Due]:
        """The rows whose deadline has passed at `now`, the earliest first."""
        rows = self.db.read(DUE, (math.floor(now.timestamp() * 1000), limit))
        return [Due(r["intercept_id"], Deadline(r["deadline"]), r["minutes"]) for r in rows]

    def checked(self, intercept_id: str, deadline: Deadline) -> None:
        """Checked once: stalled now, or the carrier answered in time; never due again."""
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM deadline_watch WHERE intercept_id = ? AND deadline = ?",
                (intercept_id, deadline.value),
            )

    def watched(self) -> int:
        """Rows with a due moment: deadlines some tick will check."""
        rows = self.db.read("SELECT count(*) AS n FROM deadline_watch WHERE due_ms IS NOT NULL")
        return rows[0]["n"]
