"""Brings the projections up to date straight from the event store (embedded mode)."""

from collections.abc import Callable, Sequence

from domain.event import Event
from domain.events import InterceptEvent
from projections.projector import PositionMoved, Projector
from projections.recorded import Recorded
from storage.database import DatabaseBusy

EVENT_STORE = "eventstore"

# (after position, limit) -> [(position, event)] in position order
ReadLog = Callable[[int, int], Sequence[tuple[int, Event]]]

# Each retry follows another writer's progress or a replay's swap; this many in a row
# means something moves the position without end, which a caller should hear about.
MAX_MOVES = 100


def catch_up(
    projector: Projector,
    read: ReadLog,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Apply everything recorded after the stored position; returns how many events were read.

    Each batch is applied only if the stored position is still the one it was read after
    (checked in the batch's transaction); when another catch-up or a replay's swap moved
    it meanwhile, reading starts again from where it now is.
    """
    seen = 0
    for _ in range(MAX_MOVES):
        try:
            return seen + _catch_up(projector, read, batch_size, on_batch)
        except _Moved as moved:
            seen += moved.seen
    raise DatabaseBusy(f"the projections' position moved {MAX_MOVES} times during one catch-up")


class _Moved(Exception):
    def __init__(self, seen: int) -> None:
        self.seen = seen


def _catch_up(
    projector: Projector, read: ReadLog, batch_size: int, on_batch: Callable[[int], None] | None
) -> int:
    position = projector.positions(EVENT_STORE).get(0, 0)
    batch = read(position, batch_size)
    if len(batch) < batch_size:
        return _apply(projector, position, batch, on_batch, 0)  # usually: a few new events
    seen = 0
    with projector.db.bulk_writes():  # far behind: many batches to come
        while batch:
            seen = _apply(projector, position, batch, on_batch, seen)
            if len(batch) < batch_size:
                break  # the store had no more: asking again would only return nothing
            position = batch[-1][0]
            batch = read(position, batch_size)
    return seen


def _apply(
    projector: Projector,
    after: int,
    batch: Sequence[tuple[int, Event]],
    on_batch: Callable[[int], None] | None,
    seen: int,
) -> int:
    if not batch:
        return seen
    entries = [Recorded(e, pos) for pos, e in batch if isinstance(e, InterceptEvent)]
    try:
        projector.apply(
            entries, {(EVENT_STORE, 0): batch[-1][0]}, read_after={(EVENT_STORE, 0): after}
        )
    except PositionMoved:
        raise _Moved(seen) from None
    if on_batch:
        on_batch(len(batch))
    return seen + len(batch)
