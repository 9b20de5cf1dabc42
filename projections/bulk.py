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

On SQLite a rebuild can also fill in parts (`merge`): each part a file of its own,
filled from the intercepts of one part of the log by a process of its own (the engine
starts them, engine/replay.py), then added to the new database. Rows and timeline
lines belong to one intercept, so one part has them all; statistics cells are sums,
so the parts' cells add up to the whole log's.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from domain.events import InterceptEvent
from projections.catchup import EVENT_STORE, ReadLog
from projections.personal import NO_KEYS, Keys
from projections.projector import PROJECTION, apply_within
from projections.recorded import Recorded
from projections.stats_store import add_from
from projections.store import add_part, positions, secondary_indexes, timeline_lines
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
    indexes: bool = True,
) -> int:
    """Project the whole log into the empty projections of `db`; returns entries read.

    `indexes`: build the indexes no key needs at the end; a part to be merged into
    another database has none (`merge` builds them there, once).
    """
    _refuse_filled(db)
    seen, position = 0, 0
    with db.filling(), _indexes_built_after(db, indexes), fewer_collections():
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


def merge(db: Database, parts: Sequence[Path]) -> None:
    """Add parts filled apart (SQLite files, each from other intercepts of the same log)
    into the empty projections of `db`; the positions are the furthest a part read."""
    _refuse_filled(db)
    with db.filling(), _indexes_built_after(db):
        for part in parts:
            with db.attached(part, "part"):
                with db.transaction() as cur:
                    add_part(cur, "part")
                    add_from(cur, "part")


def _refuse_filled(db: Database) -> None:
    if positions(db, PROJECTION, EVENT_STORE) or timeline_lines(db):
        raise NotEmpty("the projections to fill already hold rows; use a catch-up")


@contextmanager
def _indexes_built_after(db: Database, build: bool = True) -> Iterator[None]:
    indexes = secondary_indexes(db)
    with db.transaction() as cur:
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
    yield
    if not build:
        return
    with db.transaction() as cur:
        for _, sql in indexes:
            cur.execute(sql)
