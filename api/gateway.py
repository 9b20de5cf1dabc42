"""The engine as the API uses it: one command or read at a time.

Requests arrive on uvicorn's thread pool, and the engine holds one projection
connection whose catch-up transaction must not interleave with reads, so every
use goes through one lock. Correctness first: the engine decides in
milliseconds, and the lock is what keeps each event applied exactly once.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from api.faults import fault_of
from domain.commands import Command
from domain.decision import Decision
from domain.errors import UnknownIntercept
from domain.intercept import InterceptRequest
from domain.policy import InterceptPolicy
from engine import erasure
from engine.composition import Database, Engine
from engine.privacy import Seals

T = TypeVar("T")


@dataclass(frozen=True)
class Owner:
    """Whose an intercept is, as its first event says: what access is decided on."""

    merchant_id: str
    carrier: str


class Gateway:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    def execute(self, command: Command) -> Decision:
        with self._lock:
            head = self._head()
            try:
                return self._engine.execute(command)
            except Exception as error:
                if fault_of(error) is None or self._head() == head:
                    raise  # not a storage fault, or nothing was recorded: the fault is the answer
                # Recorded, then a later step failed (the projections' catch-up on a full
                # disk): answering an error would make the caller think it lost the command.
                # Every command is idempotent by its key or by nature, so running it again
                # records nothing and says what the store now holds.
                try:
                    return self._engine.execute(command)
                except Exception:
                    raise error from None

    def _head(self) -> int | None:
        try:
            return self._engine.app.recorder.max_notification_id()
        except Exception:
            return None  # unreadable: the fault, if any, shows in the command itself

    def intercept(self, intercept_id: UUID) -> InterceptRequest | None:
        """The write side's state of an intercept: current even when projections lag."""
        with self._lock:
            try:
                return self._engine.app.intercept(intercept_id)
            except UnknownIntercept:
                return None

    def owner(self, intercept_id: UUID) -> Owner | None:
        """Whose the intercept is, from its first event alone.

        One indexed read of at most one row, whatever the history's length: a
        foreign intercept costs what a missing one does, so the time of a 404
        does not tell which it was.
        """
        with self._lock:
            app = self._engine.app
            first = app.recorder.select_events(intercept_id, lte=1, limit=1)
            if not first:
                return None
            s = first[0]
            # Left sealed: whose it is needs no personal field opened.
            event = app.mapper.event_of(s.topic, s.originator_id, s.originator_version, s.state)
        carrier = getattr(event, "carrier", None)
        merchant = getattr(event, "merchant_id", None)
        if carrier is None or merchant is None:
            return None  # not an intercept's id (a policy's or a registry's)
        return Owner(merchant_id=merchant, carrier=str(getattr(carrier, "value", carrier)))

    def policy(self, merchant_id: str) -> InterceptPolicy | None:
        with self._lock:
            return self._engine.app.policy(merchant_id)

    def read(self, query: Callable[[Database], T]) -> T:
        with self._lock:
            return query(self._engine.db)

    def catch_up(self) -> None:
        if self._engine.settings.embedded:
            with self._lock:
                self._engine.catch_up()

    @property
    def seals(self) -> Seals:
        """Opens sealed personal fields, for the readers allowed to see them."""
        return self._engine.seals

    def erase(self, evidence, **target) -> "erasure.ErasureReport":
        """An erasure (engine/erasure.py), under the lock as every other use of the engine."""
        with self._lock:
            return erasure.erase(self._engine, evidence, **target)

    def close(self) -> None:
        with self._lock:
            self._engine.close()
