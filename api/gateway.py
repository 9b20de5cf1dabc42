"""The engine as the API uses it: one command or read at a time.

Requests arrive on uvicorn's thread pool, and the engine holds one projection
connection whose catch-up transaction must not interleave with reads, so every
use goes through one lock. Correctness first: the engine decides in
milliseconds, and the lock is what keeps each event applied exactly once.
"""

import threading
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from domain.commands import Command
from domain.decision import Decision
from domain.errors import UnknownIntercept
from domain.intercept import InterceptRequest
from domain.policy import InterceptPolicy
from engine.composition import Database, Engine

T = TypeVar("T")


class Gateway:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    def execute(self, command: Command) -> Decision:
        with self._lock:
            return self._engine.execute(command)

    def intercept(self, intercept_id: UUID) -> InterceptRequest | None:
        """The write side's state of an intercept: current even when projections lag."""
        with self._lock:
            try:
                return self._engine.app.intercept(intercept_id)
            except UnknownIntercept:
                return None

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

    def close(self) -> None:
        with self._lock:
            self._engine.close()
