"""Brings the projections up to date straight from the event store (embedded mode)."""

from collections.abc import Callable, Sequence

from domain.event import Event
from domain.events import InterceptEvent
from projections.projector import Projector
from projections.recorded import Recorded

EVENT_STORE = "eventstore"

# (after position, limit) -> [(position, event)] in position order
ReadLog = Callable[[int, int], Sequence[tuple[int, Event]]]


def catch_up(
    projector: Projector,
    read: ReadLog,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Apply everything recorded after the stored position; returns how many events were read."""
    position = projector.positions(EVENT_STORE).get(0, 0)
    batch = read(position, batch_size)
    if len(batch) < batch_size:
        return _apply(projector, batch, on_batch)  # the usual case: a few new events
    seen = 0
    with projector.db.bulk_writes():  # far behind: many batches to come
        while batch:
            seen += _apply(projector, batch, on_batch)
            if len(batch) < batch_size:
                break  # the store had no more: asking again would only return nothing
            batch = read(batch[-1][0], batch_size)
    return seen


def _apply(
    projector: Projector, batch: Sequence[tuple[int, Event]], on_batch: Callable[[int], None] | None
) -> int:
    if not batch:
        return 0
    entries = [Recorded(e, pos) for pos, e in batch if isinstance(e, InterceptEvent)]
    projector.apply(entries, {(EVENT_STORE, 0): batch[-1][0]})
    if on_batch:
        on_batch(len(batch))
    return len(batch)
