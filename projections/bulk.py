"""Filling empty projections from the start of the event store's log: a rebuild.

The projector's own batches (projections/projector.py), with what only a new database
that nothing else reads or writes allows:

- no rollback journal, no syncs while it fills; the file synced once it is complete
  (`Database.filling`), before anything swaps it in or keeps it;
- batches of several thousand entries, each one transaction with its position; an
  intercept's events in a batch are folded in memory into one write of its row, and
  the statistics cells of the batch are summed in memory and written once;
- rows and timeline lines inserted plainly (nothing can be there before them);
- the indexes no key needs dropped first and built once at the end, from the rows in
  place, instead of kept up to date row by row at random places;
- the interpreter's cyclic garbage collector run less often.

The rows, timeline, statistics and positions are those a catch-up gives (tests hold
them equal on random histories). A database already holding projections is refused:
its rows would be skipped or doubled.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from domain.events import InterceptEvent
from projections.catchup import EVENT_STORE, ReadLog
from projections.personal import NO_KEYS, Keys
from projections.projector import PROJECTION, apply_within
from projections.recorded import Recorded
from projections.store import positions, secondary_indexes, timeline_lines
from storage.collector import fewer_collections
from storage.database import Database

BATCH = 5000
"""Log entries per transaction. Larger batches fold more of an intercept's events into
one row write; memory holds one batch of events and rows."""


class NotEmpty(RuntimeError):
    """The projections to fill already hold rows or a position."""


def fill(
    db: Database,
    read: ReadLog,
    keys: Keys = NO_KEYS,
    batch_size: int = BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Project the whole log into the empty projections of `db`; returns entries read."""
    if positions(db, PROJECTION, EVENT_STORE) or timeline_lines(db):
        raise NotEmpty("the projections to fill already hold rows; use a catch-up")
    seen, position = 0, 0
    with db.filling(), _indexes_built_after(db), fewer_collections():
        while batch := read(position, batch_size):
            entries = [Recorded(e, p) for p, e in batch if isinstance(e, InterceptEvent)]
            with db.transaction() as cur:
                apply_within(cur, entries, {(EVENT_STORE, 0): batch[-1][0]}, keys, filling=True)
            seen += len(batch)
            position = batch[-1][0]
            if on_batch:
                on_batch(len(batch))
            if len(batch) < batch_size:
                break  # the store had no more: asking again would only return nothing
    return seen


@contextmanager
def _indexes_built_after(db: Database) -> Iterator[None]:
    indexes = secondary_indexes(db)
    with db.transaction() as cur:
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
    yield
    with db.transaction() as cur:
        for _, sql in indexes:
            cur.execute(sql)
