"""Storage faults the caller can act on: a full disk, a read-only home, a busy store.

They answer 503 naming the cause, with `Retry-After` where waiting can help; a
read-only home needs an operator, so it gets no `Retry-After`. The storage
libraries wrap the driver's error (eventsourcing, the projections' DatabaseBusy),
so the whole chain of causes is searched.
"""

import errno
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from api.problem import ProblemResponse, problem_response
from projections.database import DatabaseBusy

BUSY_RETRY_AFTER = 2
FULL_RETRY_AFTER = 60


@dataclass(frozen=True)
class Fault:
    rule: str
    detail: str
    retry_after: int | None

    def response_for(self, path: str) -> ProblemResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return problem_response(
            503, "Storage unavailable", self.rule, self.detail, path, headers=headers
        )


@dataclass(frozen=True)
class FaultAnswer:
    response: ProblemResponse
    log_line: str


_FULL = Fault(
    "storage_full",
    "the engine's disk is full; nothing was recorded by this request; retry once space is freed",
    FULL_RETRY_AFTER,
)
_READ_ONLY = Fault(
    "storage_read_only",
    "the engine's storage is read-only; nothing was recorded by this request; an operator "
    "must make INTERCEPT_HOME writable",
    None,
)
_BUSY = Fault(
    "storage_busy",
    "the engine's storage stayed locked by another writer; nothing was recorded by this "
    "request; retry shortly",
    BUSY_RETRY_AFTER,
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def fault_of(error: BaseException) -> Fault | None:
    """The storage fault behind `error`, if it is one."""
    for cause in _chain(error):
        if isinstance(cause, DatabaseBusy):
            return _BUSY
        if isinstance(cause, OSError) and cause.errno is not None:
            if cause.errno in (errno.ENOSPC, errno.EDQUOT):
                return _FULL
            if cause.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return _READ_ONLY
        message = str(cause).lower()
        if isinstance(cause, sqlite3.Error) or type(cause).__module__.startswith(
            ("eventsourcing", "psycopg")
        ):
            if "disk is full" in message or "no space left" in message:
                return _FULL
            if "readonly" in message or "read-only" in message or "read only" in message:
                return _READ_ONLY
            if "locked" in message or "busy" in message:
                return _BUSY
    return None


def problem_for_fault(error: BaseException, path: str) -> FaultAnswer | None:
    fault = fault_of(error)
    if fault is None:
        return None
    return FaultAnswer(fault.response_for(path), f"{fault.rule}: {type(error).__name__}: {error}")
