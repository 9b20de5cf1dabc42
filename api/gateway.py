"""The engine as the API uses it: commands grouped into batches by one writer, and reads.

Group commit. Every command goes on one queue; one writer thread takes whatever
has queued while it was busy (up to `max_batch` commands) and records it through
`Engine.execute_many`: one transaction, one catch-up of the projections, and each
command decided against the state the earlier ones left, so every command gets
the decision or refusal it would have got alone, in the order it was queued. If
the batch as a whole fails (a storage fault, a bug in one command), its commands
run again one by one, each getting its own answer or error. Under load a commit
is shared by every command that arrived during the previous one; a lone command
waits for nothing.

A command waits at most `max_wait` seconds for its batch to start; one still
queued by then is dropped unrun and answered "storage busy", so a timeout never
hides a recorded command. Closing drains the queue before the engine is closed.

The event loop never waits for the writer: what a command's answer also reads
(a request's risk estimate) is read by the writer right after the batch, under
the lock it already holds, and a batch's answers reach the loop in one wake-up,
not one per request: each wake-up costs the writer a system call and a turn for
the interpreter's lock.

The engine holds one projection connection whose catch-up must not interleave
with reads, so the writer's batches and the reads share one lock.
"""

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from api.faults import fault_of
from domain.commands import Command
from domain.decision import Decision
from domain.errors import DomainError, UnknownIntercept
from domain.intercept import InterceptRequest
from domain.policy import InterceptPolicy
from engine import erasure
from engine.composition import Check, Database, Engine
from engine.privacy import Seals
from storage.database import DatabaseBusy

T = TypeVar("T")

Answer = Decision | DomainError
"""What one command gets: its decision, or the refusal of a rule (or of its check)."""

MAX_BATCH = 64
"""Commands per batch at most: bounds how long one batch keeps the next waiting."""


@dataclass(frozen=True)
class Owner:
    """Whose an intercept is, as its first event says: what access is decided on."""

    merchant_id: str
    carrier: str


class GatewayClosed(DatabaseBusy):
    """A command arrived after the API began shutting down; nothing was recorded."""


@dataclass
class _Job:
    """The commands of one HTTP request (one, or a batch cancel's many), answered together."""

    commands: Sequence[Command]
    checks: Sequence[Check | None]
    then: "Callable[[Engine], Any] | None" = None
    """A read for the answer, run by the writer once the batch is recorded (if no command
    of the job was refused); its result is the job's last answer."""
    future: Future = field(default_factory=Future)
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    """The request's, taken when it is queued: what `answered` runs in (its trace span)."""
    loop: asyncio.AbstractEventLoop | None = None
    waiting: "asyncio.Future | None" = None
    """The request awaiting the job on its event loop (none for a caller on a thread)."""


_STOP = None


def _settled(done: Future, waiting: asyncio.Future, busy: Callable[[], Exception]) -> None:
    if waiting.done():
        return  # the request was abandoned (its client went away)
    if done.cancelled():
        waiting.set_exception(busy())
    elif (error := done.exception()) is not None:
        waiting.set_exception(error)
    else:
        waiting.set_result(done.result())


def _all_settled(jobs: "list[_Job]", busy: Callable[[], Exception]) -> None:
    for job in jobs:
        assert job.waiting is not None
        _settled(job.future, job.waiting, busy)


def _expired(job: "_Job", busy: Callable[[], Exception]) -> None:
    """On the loop, `max_wait` after queueing: dropped if its batch has not begun."""
    if job.future.cancel():  # fails once its batch has begun: then the writer answers
        assert job.waiting is not None
        _settled(job.future, job.waiting, busy)


class Gateway:
    def __init__(
        self, engine: Engine, *, max_batch: int = MAX_BATCH, max_wait: float | None = None
    ) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.max_batch = max_batch
        self.max_wait = engine.settings.db_timeout if max_wait is None else max_wait
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(target=self._write, name="intercept-writer", daemon=True)
        self._writer.start()

    # ---- commands ---------------------------------------------------------

    async def submit(
        self, commands: Sequence[Command], checks: Sequence[Check | None] = ()
    ) -> list[Answer]:
        """Queue commands for the writer; their answers, in order, once their batch is recorded.

        An error that is no rule's refusal (a storage fault) is raised for the whole request.
        """
        return await self._submit(commands, checks, None)

    async def _submit(
        self,
        commands: Sequence[Command],
        checks: Sequence[Check | None],
        then: "Callable[[Engine], Any] | None",
    ) -> list:
        loop = asyncio.get_running_loop()
        waiting = loop.create_future()
        job = self._queue_job(commands, checks, then, loop, waiting)
        timer = loop.call_later(self.max_wait, _expired, job, self._busy)
        try:
            return await waiting
        finally:
            timer.cancel()

    async def execute_one(self, command: Command, check: Check | None = None) -> Decision:
        """One command through the writer: its decision, or its refusal raised."""
        (answer,) = await self.submit([command], [check])
        if isinstance(answer, DomainError):
            raise answer
        return answer

    async def execute_then(
        self, command: Command, then: Callable[[Engine], T], check: Check | None = None
    ) -> tuple[Decision, T]:
        """One command, and what `then` reads from the engine once it is recorded (by the
        writer, in the same turn of the lock): its refusal raised, and then nothing read."""
        answer, *read = await self._submit([command], [check], then)
        if isinstance(answer, DomainError):
            raise answer
        return answer, read[0]

    def execute(self, command: Command, check: Check | None = None) -> Decision:
        """The same, for a caller on a thread of its own (tests, scripts)."""
        job = self._queue_job([command], [check])
        try:
            answers = job.future.result(self.max_wait)
        except TimeoutError:
            if job.future.cancel():
                raise self._busy() from None
            answers = job.future.result()
        (answer,) = answers
        if isinstance(answer, DomainError):
            raise answer
        return answer

    def batched(self, size: int) -> None:
        """Called on the writer's thread with the number of commands in each batch."""

    def answered(self, commands: Sequence[Command], answers: Sequence[Answer]) -> None:
        """Called on the writer's thread, in the request's context, with its answers once
        they are recorded and before the request is told (metrics, tracing)."""

    def _queue_job(
        self,
        commands: Sequence[Command],
        checks: Sequence[Check | None],
        then: "Callable[[Engine], Any] | None" = None,
        loop: asyncio.AbstractEventLoop | None = None,
        waiting: "asyncio.Future | None" = None,
    ) -> _Job:
        if self._closed:
            raise GatewayClosed("the API is shutting down; nothing was recorded")
        job = _Job(
            list(commands), list(checks) or [None] * len(commands), then, loop=loop, waiting=waiting
        )
        self._queue.put(job)
        return job

    def _busy(self) -> DatabaseBusy:
        return DatabaseBusy(
            f"the command waited {self.max_wait:g} s for the engine's writer and was not run"
        )

    # ---- the writer ---------------------------------------------------------

    def _write(self) -> None:
        stopping = False
        while not stopping:
            jobs = [self._queue.get()]
            size = len(jobs[0].commands) if jobs[0] is not None else 0
            while size < self.max_batch:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                size += len(jobs[-1].commands) if jobs[-1] is not None else 0
            stopping = _STOP in jobs
            live = [j for j in jobs if j is not None and j.future.set_running_or_notify_cancel()]
            self._run_and_tell(live)

    def _run_and_tell(self, jobs: list[_Job]) -> None:
        try:
            if jobs:
                self._run(jobs)
        except BaseException as error:  # the writer must outlive any batch it runs
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
        # One wake-up per event loop for the whole batch.
        waiting: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            if job.loop is not None:
                waiting.setdefault(job.loop, []).append(job)
        for loop, theirs in waiting.items():
            try:
                loop.call_soon_threadsafe(_all_settled, theirs, self._busy)
            except RuntimeError:
                pass  # that loop is closed: nobody is waiting there any more

    def _run(self, jobs: list[_Job]) -> None:
        commands = [c for job in jobs for c in job.commands]
        checks = [c for job in jobs for c in job.checks]
        self.batched(len(commands))
        with self._lock:
            head = self._head()
            try:
                answers = self._engine.execute_many(commands, checks)
            except Exception as error:
                if fault_of(error) is not None and self._head() == head:
                    # The store refused the batch and recorded nothing (full, read-only,
                    # locked past its timeout): alone, each command would meet the same
                    # fault, after waiting as long again.
                    for job in jobs:
                        job.future.set_exception(error)
                    return
                # Recorded or not, each command is idempotent by its key or by nature:
                # run one by one, each says what it did or what the store now holds.
                for job in jobs:
                    self._settle(job)
                return
            start = 0
            for job in jobs:
                end = start + len(job.commands)
                self._answer(job, answers[start:end])
                start = end

    def _answer(self, job: _Job, answers: list[Answer]) -> None:
        """Under the lock: `then` reads the state the batch left."""
        job.context.run(self.answered, job.commands, answers)
        if job.then is not None and not any(isinstance(a, DomainError) for a in answers):
            try:
                read = job.then(self._engine)
            except BaseException as error:
                job.future.set_exception(error)
                return
            job.future.set_result([*answers, read])
            return
        job.future.set_result(answers)

    def _settle(self, job: _Job) -> None:
        try:
            answers = self._one_by_one(job)
        except BaseException as error:
            job.future.set_exception(error)
            return
        self._answer(job, answers)

    def _one_by_one(self, job: _Job) -> list[Answer]:
        return [
            self._alone(command, check)
            for command, check in zip(job.commands, job.checks, strict=True)
        ]

    def _alone(self, command: Command, check: Check | None) -> Answer:
        head = self._head()
        try:
            (answer,) = self._engine.execute_many([command], [check])
            return answer
        except Exception as error:
            if fault_of(error) is None or self._head() == head:
                raise  # not a storage fault, or nothing was recorded: the fault is the answer
            # Recorded, then a later step failed (the projections' catch-up on a full
            # disk): answering an error would make the caller think it lost the command.
            # Running it again records nothing and says what the store now holds.
            try:
                (answer,) = self._engine.execute_many([command], [check])
                return answer
            except Exception:
                raise error from None

    def _head(self) -> int | None:
        try:
            return self._engine.app.recorder.max_notification_id()
        except Exception:
            return None  # unreadable: the fault, if any, shows in the command itself

    def parcel_intercepts(self, carrier: str, tracking_no: str) -> tuple[UUID, ...]:
        """The intercepts opened on one parcel, from its registry on the write side."""
        with self._lock:
            return self._engine.parcel_intercepts(carrier, tracking_no)

    # ---- reads --------------------------------------------------------------

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

    def after_sale(self, merchant_id: str, after_sale_id: str):
        with self._lock:
            return self._engine.after_sale(merchant_id, after_sale_id)

    def max_position(self) -> int:
        with self._lock:
            return self._engine.app.event_log.max_position()

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
        """Answer every queued command, then close the engine."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._writer.join()
            late = []  # queued in the instant before `_closed` was seen
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None and job.future.set_running_or_notify_cancel():
                    late.append(job)
            self._run_and_tell(late)
        with self._lock:
            self._engine.close()
