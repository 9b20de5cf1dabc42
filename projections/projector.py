"""Applies batches of published events to the projection tables, exactly once each.

Each batch is one transaction: rows, timeline and the source positions move
together, so a crash anywhere leaves either all of a batch or none of it.
Events apply in version order per intercept: a duplicate is a no-op, and an
event that arrives before its predecessor waits in `pending_events`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from domain.envelope import Envelope
from domain.events import Erased
from projections.intercepts import Row, row_after
from projections.personal import NO_KEYS, Keys, erased_data
from projections.personal_events import opened, timeline_data
from projections.recorded import Recorded
from projections.stats_store import record_changes
from projections.store import Tables, positions, reset_positions
from projections.timefmt import stamp
from storage.database import Cursor, Database

Delivered = Envelope | Recorded
"""An event as the projector reads it: published, or typed with its log position."""

PROJECTION = "intercepts"
ERASABLE = ("intercepts", "intercept_events", "pending_events")
"""The tables an erasure rewrites, scrubbed after it (storage.database.Database.scrub)."""


class PositionMoved(RuntimeError):
    """The stored position is no longer the one the batch was read after: nothing was written."""


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    held: int = 0
    released: int = 0
    erased: int = 0


class Projector:
    def __init__(self, db: Database, keys: Keys = NO_KEYS, scrub_erased: bool = False) -> None:
        self.db = db
        self.keys = keys
        # The live projections: once a batch has rewritten personal data to [erased],
        # no old copy of it may stay in the database's files (docs/privacy.md).
        self.scrub_erased = scrub_erased

    def positions(self, source: str) -> dict[int, int]:
        return positions(self.db, PROJECTION, source)

    def reset_positions(self, source: str) -> None:
        """Forget where this source was read up to: the next read starts from its beginning."""
        reset_positions(self.db, PROJECTION, source)

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
            tables = Tables(cur)
            self._take_turns(tables, checkpoints)
            if read_after is not None:
                _unmoved(tables, read_after)
            result = apply_within(cur, envelopes, checkpoints, self.keys)
        if result.erased and self.scrub_erased:
            self.db.scrub(ERASABLE)
        return result

    def _take_turns(self, tables: Tables, checkpoints: Mapping[tuple[str, int], int]) -> None:
        """Two consumers may briefly own one partition during a rebalance, and two
        catch-ups may run at once: batches advancing one (source, partition) take turns."""
        tables.take_turns(PROJECTION, checkpoints)


def apply_within(
    cur: Cursor,
    envelopes: Sequence[Delivered],
    checkpoints: Mapping[tuple[str, int], int],
    keys: Keys = NO_KEYS,
    filling: bool = False,
) -> BatchResult:
    """Apply in a transaction the caller already holds (a replay's swap), with the positions.

    `filling`: the tables are being filled by this writer alone (projections/bulk.py), so
    a row or timeline line not there when the batch read them cannot appear meanwhile:
    new ones are inserted plainly, without a conflict clause to evaluate.
    """
    tables = Tables(cur)
    result = _Batch(tables, keys, filling).run(envelopes)
    tables.advance(PROJECTION, [(src, part, pos) for (src, part), pos in checkpoints.items()])
    return result


def _unmoved(tables: Tables, read_after: Mapping[tuple[str, int], int]) -> None:
    for (source, partition), expected in read_after.items():
        if tables.position(PROJECTION, source, partition) != expected:
            raise PositionMoved(f"{source}[{partition}] is no longer at {expected}")


class _Batch:
    def __init__(self, tables: Tables, keys: Keys, filling: bool = False) -> None:
        self.tables = tables
        self.keys = keys
        self.filling = filling
        self.rows: dict[str, Row | None] = {}
        self.changed: set[str] = set()
        self.timeline: list[tuple] = []
        self.result = BatchResult()
        self.waiting = tables.waiting()

    def run(self, envelopes: Sequence[Delivered]) -> BatchResult:
        # An intercept's id as text once per batch, however many of its events it holds.
        texts: dict[UUID, str] = {}
        keyed = []
        for e in envelopes:
            iid = e.intercept_id
            key = texts.get(iid)
            if key is None:
                key = texts[iid] = str(iid)
            keyed.append((key, e))
        # The current rows of every intercept in the batch, a few queries for all of them.
        self.rows.update(self.tables.rows_of({key for key, _ in keyed}))
        before = dict(self.rows)
        for key, envelope in keyed:
            self._offer(key, envelope)
        # In key order: each index page is then visited once per batch, not at random.
        changed = sorted(self.changed)
        if self.filling:
            self.tables.insert_rows(self.rows[k] for k in changed if before[k] is None)  # type: ignore[misc]
            changed = [k for k in changed if before[k] is not None]
        self.tables.update_rows(self.rows[k] for k in changed)  # type: ignore[misc]
        self.tables.append_timeline(sorted(self.timeline), redelivered=not self.filling)
        # The statistics move with the rows, in the same transaction: a sum over rows.
        record_changes(self.tables.cur, ((before[k], self.rows[k]) for k in self.changed))  # type: ignore[misc]
        return self.result

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
        self.rows[key] = row_after(row, opened(event, self.keys))
        self.changed.add(key)
        if isinstance(event, Erased):
            self._erase_timeline(key, event.subject)
            self.result.erased += 1
        self.timeline.append(
            (
                key,
                envelope.version,
                envelope.event_type,
                stamp(envelope.occurred_at),
                stamp(envelope.recorded_at),
                envelope.actor,
                timeline_data(event, self.keys),
            )
        )
        self.result.applied += 1

    def _erase_timeline(self, key: str, subject: str) -> None:
        """The subject's sealed values in this intercept's timeline become `[erased]`, in
        the lines already written and in those of this batch."""
        self.tables.erase_timeline(key, subject)
        for i, line in enumerate(self.timeline):
            if line[0] == key and (data := erased_data(line[6], subject)) is not None:
                self.timeline[i] = (*line[:6], data)

    def _hold(self, key: str, envelope: Delivered) -> None:
        self.tables.hold(key, envelope.version, envelope.model_dump_json())
        self.waiting.add(key)
        self.result.held += 1

    def _release_waiting(self, key: str) -> None:
        while key in self.waiting:
            next_version = self.rows[key]["version"] + 1  # type: ignore[index]
            found, more = self.tables.release(key, next_version)
            if not more:
                self.waiting.discard(key)
            ready = [Envelope.model_validate_json(r) for r in found]
            ready = [e for e in ready if e.version == next_version]
            if not ready:
                return
            self._apply(key, self.rows[key], ready[0])
            self.result.released += 1
