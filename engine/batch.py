"""A batch of commands decided together: each sees the state the earlier ones left.

Nothing is recorded while the batch is decided: events wait here, laid over the
stored state, and are saved in one transaction at the end. Each aggregate is
read from the store at most once per batch, and the aggregates the commands are
known to need are read up front, all in one query.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

from domain.event import Event

S = TypeVar("S")
E = TypeVar("E", bound=Event)


class Read(Protocol):
    """(aggregate id, projector) -> the aggregate's state, or None when it has no events.

    The projector is the aggregate's own: it takes the events of its aggregate type.
    """

    def __call__(
        self, aggregate_id: UUID, projector: Callable[[S | None, Iterable[E]], S | None], /
    ) -> S | None: ...


# aggregate ids -> each one's stored events, in version order (empty when it has none)
ReadMany = Callable[[Sequence[UUID]], dict[UUID, list[Event]]]


class PendingBatch:
    def __init__(self, load: Read, load_many: ReadMany) -> None:
        self._load = load
        self._load_many = load_many
        self._history: dict[UUID, list[Event]] = {}
        self._stored: dict[UUID, Any] = {}
        self._pending: dict[UUID, list[Event]] = {}
        self.events: list[Event] = []

    def preload(self, aggregate_ids: Iterable[UUID]) -> None:
        """Read these aggregates' histories now, in one query, for the reads to come."""
        wanted = [
            i
            for i in dict.fromkeys(aggregate_ids)
            if i not in self._stored and i not in self._history
        ]
        if wanted:
            self._history.update(self._load_many(wanted))

    def read(self, aggregate_id: UUID, projector) -> Any:
        """The aggregate as stored, moved along by the events decided earlier in the batch."""
        if aggregate_id not in self._stored:
            self._stored[aggregate_id] = self._stored_state(aggregate_id, projector)
        state = self._stored[aggregate_id]
        pending = self._pending.get(aggregate_id)
        return projector(state, pending) if pending else state

    def _stored_state(self, aggregate_id: UUID, projector) -> Any:
        history = self._history.pop(aggregate_id, None)
        if history is None:
            return self._load(aggregate_id, projector)
        return projector(None, history) if history else None

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            self._pending.setdefault(event.originator_id, []).append(event)
            self.events.append(event)
