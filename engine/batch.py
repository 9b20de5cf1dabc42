"""A batch of commands decided together: each sees the state the earlier ones left.

Nothing is recorded while the batch is decided: events wait here, laid over the
stored state, and are saved in one transaction at the end. Each aggregate is
read from the store at most once per batch.
"""

from typing import Any, Callable, Iterable
from uuid import UUID

from domain.event import Event

# (aggregate id, projector) -> the aggregate's state, or None when it has no events
Read = Callable[[UUID, Callable[[Any, Iterable[Event]], Any]], Any]


class PendingBatch:
    def __init__(self, load: Read) -> None:
        self._load = load
        self._stored: dict[UUID, Any] = {}
        self._pending: dict[UUID, list[Event]] = {}
        self.events: list[Event] = []

    def read(self, aggregate_id: UUID, projector) -> Any:
        """The aggregate as stored, moved along by the events decided earlier in the batch."""
        if aggregate_id not in self._stored:
            self._stored[aggregate_id] = self._load(aggregate_id, projector)
        state = self._stored[aggregate_id]
        pending = self._pending.get(aggregate_id)
        return projector(state, pending) if pending else state

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            self._pending.setdefault(event.originator_id, []).append(event)
            self.events.append(event)
