"""Applies batches of published events to the projection tables, exactly once each.

Each batch is one transaction: rows, timeline and the source positions move
together, so a crash anywhere leaves either all of a batch or none of it.
Events apply in version order per intercept: a duplicate is a no-op, and an
event that arrives before its predecessor waits in `pending_events`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.envelope import Envelope
from projections.database import Cursor, Database
from projections.intercepts import COLUMNS, MUTABLE, Row, row_after
from projections.recorded import Recorded
from projections.timefmt import stamp

Delivered = Envelope | Recorded
"""An event as the projector reads it: published, or typed with its log position."""

PROJECTION = "intercepts"
_ROWS_PER_QUERY = 500  # well under SQLite's limit on bound parameters

_UPSERT_ROW = (
    f"INSERT INTO intercepts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    # Only what later events change: an update that names an indexed column rewrites
    # that index's entry even when the value stays, and every index here is on columns
    # fixed at the request.
    "ON CONFLICT (intercept_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in MUTABLE)
)
_INSERT_TIMELINE = (
    "INSERT INTO intercept_events "
    "(intercept_id, version, event_type, occurred_at, recorded_at, actor, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (intercept_id, version) DO NOTHING"
)
_UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (projection, source, partition, position) VALUES (?, ?, ?, ?) "
    # Never backwards: a consumer that lost its partitions mid-batch may finish late.
    "ON CONFLICT (projection, source, partition) DO UPDATE SET position = "
    "CASE WHEN excluded.position > checkpoints.position "
    "THEN excluded.position ELSE checkpoints.position END"
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


class PositionMoved(RuntimeError):
    """The stored position is no longer the one the batch was read after: nothing was written."""


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    held: int = 0
    released: int = 0


class Projector:
    def __init__(self, db: Database) -> None:
        self.db = db

    def positions(self, source: str) -> dict[int, int]:
        rows = self.db.read(
            "SELECT partition, position FROM checkpoints WHERE projection = ? AND source = ?",
            (PROJECTION, source),
        )
        return {r["partition"]: r["position"] for r in rows}

    def reset_positions(self, source: str) -> None:
        """Forget where this source was read up to: the next read starts from its beginning."""
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM checkpoints WHERE projection = ? AND source = ?", (PROJECTION, source)
            )

    def apply(
        self,
        envelopes: Sequence[Delivered],
        checkpoints: Mapping[tuple[str, int], int],
        read_after: Mapping[tuple[str, int], int] | None = None,
    ) -> BatchResult:
        """Apply envelopes and record the source positions they came from, atomically.

        `read_after`: the positions the batch was read after. The batch is then applied
        only if they are still the stored ones, checked inside its transaction; otherwise
        PositionMoved. A position read before a replay's swap is not one to build on: the
        swap may have rolled the rows back past it, and applying on top would skip for
        good the events in between.
        """
        with self.db.transaction() as cur:
            self._take_turns(cur, checkpoints)
            if read_after is not None:
                _unmoved(cur, read_after)
            return apply_within(cur, envelopes, checkpoints)

    def _take_turns(self, cur: Cursor, checkpoints: Mapping[tuple[str, int], int]) -> None:
        """Serialise batches that advance the same (source, partition).

        Two consumers may briefly own one partition during a rebalance, and two
        catch-ups may run at once. On SQLite BEGIN IMMEDIATE already makes writers
        take turns; on PostgreSQL each batch locks its checkpoint rows first, so one
        batch's version checks cannot read rows another is about to overwrite.
        """
        if not self.db.postgres:
            return
        for source, partition in sorted(checkpoints):  # one order everywhere: no deadlocks
            key = (PROJECTION, source, partition)
            cur.execute(_CLAIM_CHECKPOINT, key)
            cur.execute(_LOCK_CHECKPOINT, key)


def apply_within(
    cur: Cursor, envelopes: Sequence[Delivered], checkpoints: Mapping[tuple[str, int], int]
) -> BatchResult:
    """Apply in a transaction the caller already holds (a replay's swap), with the positions."""
    result = _Batch(cur).run(envelopes)
    cur.executemany(
        _UPSERT_CHECKPOINT,
        [(PROJECTION, src, part, pos) for (src, part), pos in checkpoints.items()],
    )
    return result


def _unmoved(cur: Cursor, read_after: Mapping[tuple[str, int], int]) -> None:
    for (source, partition), expected in read_after.items():
        row = cur.execute(
            "SELECT position FROM checkpoints WHERE projection = ? AND source = ? AND partition = ?",
            (PROJECTION, source, partition),
        ).one()
        if (row["position"] if row else 0) != expected:
            raise PositionMoved(f"{source}[{partition}] is no longer at {expected}")


class _Batch:
    def __init__(self, cur: Cursor) -> None:
        self.cur = cur
        self.rows: dict[str, Row | None] = {}
        self.changed: set[str] = set()
        self.timeline: list[tuple] = []
        self.result = BatchResult()
        self.waiting = {
            r["intercept_id"]
            for r in cur.execute("SELECT DISTINCT intercept_id FROM pending_events").all()
        }

    def run(self, envelopes: Sequence[Delivered]) -> BatchResult:
        keyed = [(str(e.intercept_id), e) for e in envelopes]
        self._load_rows({key for key, _ in keyed})
        for key, envelope in keyed:
            self._offer(key, envelope)
        # In key order: each index page is then visited once per batch, not at random.
        self.cur.executemany(_UPSERT_ROW, [self._values(i) for i in sorted(self.changed)])
        self.cur.executemany(_INSERT_TIMELINE, sorted(self.timeline))
        return self.result

    def _load_rows(self, keys: set[str]) -> None:
        """The current rows of every intercept in the batch, a few queries for all of them."""
        wanted = list(keys)
        for first in range(0, len(wanted), _ROWS_PER_QUERY):
            chunk = wanted[first : first + _ROWS_PER_QUERY]
            found = self.cur.execute(
                f"SELECT * FROM intercepts WHERE intercept_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ).all()
            self.rows.update(dict.fromkeys(chunk))
            self.rows.update((row["intercept_id"], row) for row in found)

    def _offer(self, key: str, envelope: Delivered) -> None:
        row = self.rows[key]
        current = row["version"] if row else 0
        if envelope.version <= current:
            self.result.duplicates += 1
        elif envelope.version > current + 1:
            self._hold(key, envelope)
        else:
            self._apply(key, row, envelope)
            self._release_waiting(key)

    def _apply(self, key: str, row: Row | None, envelope: Delivered) -> None:
        event = envelope.event()
        self.rows[key] = row_after(row, event)
        self.changed.add(key)
        self.timeline.append(
            (
                key,
                envelope.version,
                envelope.event_type,
                stamp(envelope.occurred_at),
                stamp(envelope.recorded_at),
                envelope.actor,
                event.payload_json(),
            )
        )
        self.result.applied += 1

    def _hold(self, key: str, envelope: Delivered) -> None:
        self.cur.execute(
            "INSERT INTO pending_events (intercept_id, version, envelope) VALUES (?, ?, ?) "
            "ON CONFLICT (intercept_id, version) DO NOTHING",
            (key, envelope.version, envelope.model_dump_json()),
        )
        self.waiting.add(key)
        self.result.held += 1

    def _release_waiting(self, key: str) -> None:
        while key in self.waiting:
            next_version = self.rows[key]["version"] + 1  # type: ignore[index]
            found = self.cur.execute(
                "SELECT envelope FROM pending_events WHERE intercept_id = ? AND version <= ? "
                "ORDER BY version",
                (key, next_version),
            ).all()
            self.cur.execute(
                "DELETE FROM pending_events WHERE intercept_id = ? AND version <= ?",
                (key, next_version),
            )
            waiting = self.cur.execute(
                "SELECT 1 FROM pending_events WHERE intercept_id = ? LIMIT 1", (key,)
            ).one()
            if waiting is None:
                self.waiting.discard(key)
            ready = [Envelope.model_validate_json(r["envelope"]) for r in found]
            ready = [e for e in ready if e.version == next_version]
            if not ready:
                return
            self._apply(key, self.rows[key], ready[0])
            self.result.released += 1

    def _values(self, intercept_id: str) -> tuple:
        row = self.rows[intercept_id]
        return tuple(row[c] for c in COLUMNS)  # type: ignore[index]
