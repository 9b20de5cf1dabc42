"""Storage faults the caller can act on: a full disk, a read-only home, a busy store.

They answer 503 naming the cause, with `Retry-After` where waiting can help; a
read-only home needs an operator, so it gets no `Retry-After`. The storage
libraries wrap the driver's error (eventsourcing, the projections' DatabaseBusy),
so the whole chain of causes is searched.
"""

import errno
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from api.problem import ProblemResponse, problem_response
from storage.database import DatabaseBusy

BUSY_RETRY_AFTER = 2
FULL_RETRY_AFTER = 60
IO_RETRY_AFTER = 5


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


_IO = Fault(
    "storage_io_error",
    "the engine's storage failed to read or write; nothing was recorded by this request; "
    "retry shortly, and tell an operator if it persists",
    IO_RETRY_AFTER,
)


def _probe(home: Path) -> Fault:
    """What a write in the home runs into: SQLite says only "disk I/O error" for both a
    read-only and a full disk."""
    probe = home / f".write-probe-{uuid.uuid4().hex}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as error:
        return fault_of(error) or _IO
    return _IO


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def fault_of(error: BaseException, home: Path | None = None) -> Fault | None:
    """The storage fault behind `error`, if it is one; `home` lets a vague one be probed."""
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
            if "disk i/o error" in message or "unable to open database file" in message:
                return _probe(home) if home is not None else _IO
    return None


def problem_for_fault(
    error: BaseException, path: str, home: Path | None = None
) -> FaultAnswer | None:
    fault = fault_of(error, home)
    if fault is None:
        return None
    return FaultAnswer(fault.response_for(path), f"{fault.rule}: {type(error).__name__}: {error}")
