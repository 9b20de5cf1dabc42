"""The event store's reads beyond loading an aggregate: the log, histories, the chain.

What the composition root, the relay, the CLI and the audit need of the store, so that
none of them reaches into the library's recorder or event store.
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from audit.chain import ChainLink
from domain.event import Event
from engine.store.mapper import EventMapper
from engine.store.recorders import Part


class EventLog:
    def __init__(self, recorder: Any, mapper: EventMapper) -> None:
        self.recorder = recorder
        self.mapper = mapper

    # ---- the log in position order -------------------------------------

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        inclusive_of_start: bool = True,
        topics: Sequence[str] = (),
    ) -> list[Notification]:
        """Stored entries as the library reads them (their bytes as stored)."""
        return self.recorder.select_notifications(
            start=start, limit=limit, inclusive_of_start=inclusive_of_start, topics=topics
        )

    def read_log(self, after: int, limit: int) -> list[tuple[int, Event]]:
        """Typed events with their positions, after position `after`, as the feed carries
        them: personal fields stay sealed (only aggregates and history are opened)."""
        entries = self.select_notifications(after, limit, inclusive_of_start=False)
        event_of = self.mapper.event_of
        return [
            (n.id, event_of(n.topic, n.originator_id, n.originator_version, n.state))
            for n in entries
        ]

    def read_log_of(
        self, after: int, limit: int, topics: Sequence[str], part: Part | None = None
    ) -> list[tuple[int, Event]]:
        """Like `read_log`, only events of these types: the store skips the rest unread.

        `part`: (k, n), only the k-th of n parts of the log, split by aggregate
        (`ChainReads.select_log`)."""
        event_of = self.mapper.event_of
        return [
            (
                r["position"],
                event_of(
                    r["topic"], r["originator_id"], r["originator_version"], bytes(r["state"])
                ),
            )
            for r in self.recorder.select_log(after, limit, topics, part)
        ]

    def log_rows_of(self, after: int, limit: int, topics: Sequence[str]) -> list[Any]:
        """The stored rows of `read_log_of`, undecoded: for counting and reading times cheaply."""
        return self.recorder.select_log(after, limit, topics)

    def published_rows(self, after: int, limit: int, topics: Sequence[str]) -> list[Any] | None:
        """`log_rows_of` with each entry's chain hashes, in one read; None when the store
        keeps no chain."""
        if not self.chained:
            return None
        return self.recorder.select_published(after, limit, topics)

    def event(self, stored: Any) -> Event:
        """The typed event of a stored record (a notification or a stored event)."""
        return self.mapper.to_domain_event(stored)

    def plain_state(self, stored: bytes) -> bytes:
        return self.mapper.plain_state(stored)

    @property
    def sealed(self) -> bool:
        """Whether stored bytes differ from the JSON (compressed or encrypted)."""
        return self.mapper.sealed

    # ---- aggregates ----------------------------------------------------

    def history(self, aggregate_id: UUID) -> list[Event]:
        """Every stored event of one aggregate, in version order."""
        return [self.mapper.to_domain_event(s) for s in self.recorder.select_events(aggregate_id)]

    def events_of(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, list[Event]]:
        """The events of several aggregates, read in one query where the store can."""
        stored = self.recorder.select_events_of(aggregate_ids)
        to_event = self.mapper.to_domain_event
        return {i: [to_event(s) for s in events] for i, events in stored.items()}

    # ---- the hash chain --------------------------------------------------

    @property
    def chained(self) -> bool:
        return hasattr(self.recorder, "chain_links")

    def chain_links(self, after: int, limit: int) -> list[ChainLink]:
        return self.recorder.chain_links(after, limit)

    def chain_links_between(self, first: int, last: int) -> list[ChainLink]:
        return self.recorder.chain_links_between(first, last)

    def chain_of(self, aggregate_id: UUID) -> list[ChainLink]:
        return self.recorder.chain_of(aggregate_id) if self.chained else []

    def chain_head(self) -> ChainLink | None:
        return self.recorder.chain_head()

    def create_tables(self) -> None:
        self.recorder.create_table()
