"""The application service: loads aggregates, asks the domain to decide, records the events."""

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import policy as policies
from domain.after_sale import AfterSale, project_after_sale
from domain.commands import Command, InterceptCommand, RequestIntercept, SetPolicy
from domain.decision import Decision
from domain.errors import ConcurrencyConflict, DomainError
from domain.event import Event
from domain.ids import after_sale_id, policy_id
from domain.intercept import InterceptRequest
from domain.policy import InterceptPolicy
from engine.batch import PendingBatch, Read
from engine.handlers import handler_for, intercept
from engine.privacy import Seals
from engine.store.log import EventLog
from engine.store.mapper import EventMapper, OrjsonTranscoder
from engine.store.recorders import with_chain

Clock = Callable[[], datetime]
R = TypeVar("R")

Check = Callable[[Read], None]
"""Run in the batch before a command is decided, against the same state: raises a
`DomainError` to refuse the command (who may act on an intercept, say)."""


class InterceptApplication(Application[UUID]):
    name = "intercept"
    mapper: EventMapper  # what construct_mapper() builds

    def __init__(
        self,
        env: dict[str, str],
        *,
        clock: Clock,
        max_retries: int = 8,
        seals: Seals | None = None,
    ) -> None:
        super().__init__(env)
        self.event_log = EventLog(self.recorder, self.mapper)
        self.clock = clock
        self.max_retries = max_retries
        # Personal fields are sealed before they are recorded and opened when read back
        # for deciding and for history (docs/privacy.md). The composition root always
        # sets it; without it (some tests) they are recorded as given.
        self.seals = seals
        if seals is not None:
            self.mapper.opener = seals.open_state

    def construct_mapper(self) -> EventMapper:
        # Through the library's factory: its COMPRESSOR_TOPIC and CIPHER_TOPIC/CIPHER_KEY apply.
        return self.factory.mapper(OrjsonTranscoder(), mapper_class=EventMapper)  # type: ignore[return-value]

    def construct_recorder(self):
        recorder = super().construct_recorder()
        if self.mapper.sealed:
            # The chain hashes the event's JSON, which only the mapper can recover.
            recorder.plain_state = self.mapper.plain_state
        return recorder

    def construct_env(self, name: str, env=None):
        # Every event is recorded with its hash-chain link, in the same transaction.
        return with_chain(super().construct_env(name, env))

    # ---- commands -------------------------------------------------------

    def execute(self, command: Command) -> Decision:
        """Decide and record any command, by its handler in engine/handlers.py."""
        return self._deciding(command)

    def set_policy(self, command: SetPolicy) -> Decision[InterceptPolicy | None]:
        return self._deciding(command)

    def request(self, command: RequestIntercept) -> Decision[InterceptRequest]:
        """Record a request; the command needs its idempotency key (the CLI makes one)."""
        return self._deciding(command)

    def handle(self, command: InterceptCommand) -> Decision[InterceptRequest]:
        """Cancel, carrier report, fee, evidence or after-sale change on one intercept."""
        return self._deciding(command)

    def execute_tracked(self, command: Command, tracking: tuple[str, int]) -> Decision:
        """Decide and record, writing a log reader's position (reader, position) in the
        events' own transaction: a process manager's effect and its progress are one."""

        def attempt() -> tuple[Sequence[Event], Decision]:
            decision = self.decide(command, self._batch([command]).read)
            return decision.events, decision

        return self._recording(attempt, tracking=tracking)

    def after_sale(self, merchant_id: str, after_sale: str) -> AfterSale | None:
        return self._get(after_sale_id(merchant_id, after_sale), project_after_sale)

    def decide(self, command: Command, read: Read) -> Decision:
        """Decide one command against the state `read` gives; records nothing."""
        return handler_for(command).decide(command, read, self.clock)

    def execute_many(
        self, commands: Sequence[Command], checks: Sequence[Check | None] = ()
    ) -> list[Decision | DomainError]:
        """Decide many commands and record all their events in one transaction.

        Each command is decided against the state the earlier ones in the batch
        left, so the rules hold inside a batch as between single commands. A
        command refused by a rule records nothing and is answered with its
        refusal; the others are recorded. A lost race decides the whole batch again.
        A command that is not one (or a request without a key) raises, recording nothing.
        `checks[i]`, when given, runs before command i is decided, on the same state;
        a refusal it raises answers that command like a rule's.
        """
        if checks and len(checks) != len(commands):
            raise ValueError("one check (or None) per command")
        guards = list(checks) or [None] * len(commands)

        def attempt() -> tuple[list[Event], list[Decision | DomainError]]:
            batch = self._batch(commands)
            results: list[Decision | DomainError] = []
            for command, check in zip(commands, guards, strict=True):
                try:
                    if check is not None:
                        check(batch.read)
                    decision = self.decide(command, batch.read)
                except DomainError as refusal:
                    results.append(refusal)
                    continue
                batch.add(decision.events)
                results.append(decision)
            return batch.events, results

        return self._recording(attempt)

    # ---- queries on the write side ---------------------------------------

    def intercept(self, iid: UUID) -> InterceptRequest:
        return intercept(self._get, iid)

    def policy(self, merchant_id: str) -> InterceptPolicy | None:
        return self._get(policy_id(merchant_id), policies.project_policy)

    # ---- plumbing ---------------------------------------------------------

    def _get(self, aggregate_id: UUID, projector):
        try:
            return self.repository.get(aggregate_id, projector_func=projector)
        except AggregateNotFoundError:
            return None

    def _get_many(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, list[Event]]:
        return self.event_log.events_of(aggregate_ids)

    def _batch(self, commands: Sequence[Command]) -> PendingBatch:
        batch = PendingBatch(self._get, self._get_many)
        batch.preload(i for c in commands for i in handler_for(c).reads(c))
        return batch

    def _deciding(self, command: Command) -> Decision:
        """Decide and record; on a lost optimistic-concurrency race, decide again."""

        def attempt() -> tuple[Sequence[Event], Decision]:
            decision = self.decide(command, self._batch([command]).read)
            return decision.events, decision

        return self._recording(attempt)

    def record(self, events: Sequence[Event], **put: Any) -> None:
        """Put decided events in the store, all in one transaction."""
        # Straight to the recorder: the library's save() would only add aggregate
        # collection, snapshots and notifications, and its event store's put() a record
        # of each event with its position, none of which this engine uses.
        if self.seals is not None:
            events = self.seals.seal_events(events, self._order_of)
        to_stored = self.mapper.to_stored_event
        self.recorder.insert_events([to_stored(e) for e in events], **put)

    def _order_of(self, intercept_id: UUID) -> str | None:
        """An intercept's order id, from its first stored event (its request)."""
        first = self.recorder.select_events(intercept_id, lte=1, limit=1)
        if not first:
            return None
        s = first[0]
        fields = self.mapper.fields_of(s.topic, s.originator_id, s.originator_version, s.state)
        return fields.get("order_id")

    def _recording(self, decide: Callable[[], tuple[Sequence[Event], R]], **put: Any) -> R:
        for attempt in range(self.max_retries):
            events, result = decide()
            if not events:
                return result
            try:
                self.record(events, **put)
            except IntegrityError:
                time.sleep(min(0.002 * 2**attempt, 0.2))
                continue
            return result
        raise ConcurrencyConflict(
            f"the command lost {self.max_retries} races with concurrent writers and was "
            "not recorded; try again"
        )
