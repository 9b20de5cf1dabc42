"""Rebuilding the projections from recorded history, and point-in-time views of it.

A replay only reads: the event store or the topic from its first offsets. It writes
nothing but a fresh projection database, publishes nothing, and consults no clock: the
same history always gives the same rows (the projector and row function are pure).
"""

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from audit.topic_check import TopicCheck
from audit.verdict import Problem, Verdict
from consumers.decode import Poison, receive
from domain.events import InterceptEvent
from projections import bulk
from projections import store as projection_store
from projections.personal import NO_KEYS, Keys
from projections.point_in_time import Cutoff, write_batch
from projections.projector import BatchResult, Projector
from storage.database import Database, DatabaseBusy

if TYPE_CHECKING:
    from engine.settings import Settings

Progress = Callable[[int], None]

PARTS = 2
"""Processes filling a rebuild from the event store side by side (SQLite, several cores)."""
PARTS_FROM = 20_000
"""Log entries from which a rebuild fills in parts: below, starting processes costs more
than it saves."""


@dataclass
class ReplayReport:
    source: str
    read: int = 0  # store entries or topic records read
    applied: int = 0
    skipped: int = 0  # undecodable topic records: the live consumer dead-letters them
    seconds: float = 0.0
    target: str = ""
    swapped: bool = False
    cutoff: dict | None = None
    # The hash chain of what was read: None when not checked (--no-verify), else the verdict.
    verification: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.verification is not None and self.verification["ok"]

    @property
    def per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "verified": self.verified,
            "events_per_second": round(self.per_second, 1),
        }


def verify_read(log, read_up_to: int) -> Verdict:
    """The store's hash chain, walked after the rebuild read up to `read_up_to`.

    The walk starts after the rebuild's last read, and a store only grows: everything the
    rebuild read is covered, unless events were deleted from the end meanwhile, which
    fails here too.
    """
    from audit.store_check import verify_store

    verdict = verify_store(log)
    if verdict.ok and read_up_to and (verdict.head is None or verdict.head.position < read_up_to):
        verdict.found(
            Problem(
                "missing_event",
                f"the rebuild read up to position {read_up_to}, but the store's chain now "
                f"ends at {verdict.head.position if verdict.head else 0}: events were "
                "deleted from its end",
                read_up_to,
            )
        )
    return verdict


def from_store(
    db: Database, read_log, report: ReplayReport, on_batch: Progress, keys: Keys = NO_KEYS
) -> None:
    """Everything in the event store, into the empty projections of `db`.

    The projector the live projections use, in the batches and settings a new database
    allows (projections/bulk.py).
    """
    started = time.perf_counter()
    report.read = bulk.fill(db, read_log, keys, on_batch=on_batch)
    report.applied = _count(db)
    report.seconds = time.perf_counter() - started


def in_parts(db: Database, entries: int) -> int:
    """How many processes should fill `db` from a log of `entries` (1: this one alone)."""
    if db.path is None or entries < PARTS_FROM:
        return 1  # parts are SQLite files, merged by ATTACH
    return max(1, min(PARTS, os.cpu_count() or 1))


def from_store_in_parts(
    settings: "Settings", db: Database, report: ReplayReport, head: int, parts: int = PARTS
) -> int:
    """`from_store` by `parts` processes, each filling a file of its own from the
    intercepts of one part of the log (split by intercept id), merged into `db` at the
    end (projections/bulk.py). Returns the log position read up to.

    Every part reads up to the same position, `head` (the log's, before they start): a part
    reading further than another would leave the merged position past events the other
    never read, and the swap's roll-forward starts from that position. The processes are
    forks of this one: nothing is imported again, and each opens connections of its own.
    """
    from projections import stats_store

    started = time.perf_counter()
    target = db.path
    if target is None:
        raise ValueError("a rebuild in parts fills SQLite files")
    files = [target.with_name(f"{target.name}.part{k}") for k in range(parts)]
    context = multiprocessing.get_context("fork")
    counts = context.Array("q", parts)
    errors = context.SimpleQueue()
    zone = stats_store.zone_of(db)
    workers = [
        context.Process(
            target=_fill_part,
            args=(settings, files[k], (k, parts), head, zone, counts, errors),
        )
        for k in range(parts)
    ]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        failed = [w.exitcode for w in workers if w.exitcode != 0]
        if failed:
            said = []
            while not errors.empty():
                said.append(errors.get())
            raise PartFailed(
                "; ".join(said) or f"a part of the rebuild ended with exit codes {failed}"
            )
        bulk.merge(db, files)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()
        _remove(files)
    report.read = sum(int(n) for n in counts[:])
    report.applied = _count(db)
    report.seconds = time.perf_counter() - started
    return projection_store.positions(db, "intercepts", "eventstore").get(0, 0)


def _remove(files: list[Path]) -> None:
    for file in files:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)


class PartFailed(DatabaseBusy):
    """A process filling a part of the rebuild failed: nothing of the rebuild is kept."""


def _fill_part(
    settings: "Settings", file: Path, part: tuple[int, int], head: int, zone: str, counts, errors
) -> None:
    """In a process of its own: one part of the log into the file `file`. A failure is
    told to the replay in one line, and the process ends with exit code 1.

    It ends with `os._exit`, writing nothing to the standard streams: another thread of
    the replay (its progress display) may have held their locks when this process was
    forked, and flushing them here would wait for ever.
    """
    try:
        from engine.composition import build_engine
        from projections.schema import migrate

        engine = build_engine(settings.model_copy(update={"kafka_bootstrap": None}))
        db = Database.sqlite_file(file)
        try:
            migrate(db, zone)

            def read(after: int, limit: int):
                return [e for e in engine.read_intercept_log(after, limit, part) if e[0] <= head]

            counts[part[0]] = bulk.fill(db, read, engine.seals, indexes=False)
        finally:
            db.close()
            engine.close()
    except Exception as error:  # noqa: BLE001 - told to the replay, which fails with it
        first = (str(error).strip().splitlines() or [""])[0]
        errors.put(f"part {part[0]} of {part[1]}: {type(error).__name__}: {first}")
        os._exit(1)
    os._exit(0)


def from_topic(
    db: Database,
    topic: str,
    batches: Iterable[dict],
    report: ReplayReport,
    on_batch: Progress,
    check: TopicCheck | None = None,
    keys: Keys = NO_KEYS,
) -> None:
    """Every record of the topic, as the projection consumer would apply them.

    With `check`, every record read is also verified, as `audit verify --from kafka` does.
    """
    started = time.perf_counter()
    projector = Projector(db, keys)
    totals = BatchResult()
    for batch in batches:
        envelopes, offsets = [], {}
        for tp, records in batch.items():
            for record in records:
                if check is not None:
                    check.take(record)
                try:
                    envelopes.append(receive(record.value))
                except Poison:
                    report.skipped += 1
            offsets[(topic, tp.partition)] = records[-1].offset + 1
        totals.applied += projector.apply(envelopes, offsets).applied
        count = sum(len(r) for r in batch.values())
        report.read += count
        on_batch(count)
    report.applied = totals.applied
    if report.skipped:
        report.notes.append(
            f"{report.skipped} record(s) could not be decoded and were skipped, "
            "as the live consumer dead-letters them"
        )
    report.seconds = time.perf_counter() - started


def as_of(
    db: Database,
    read_log,
    cutoff: Cutoff,
    report: ReplayReport,
    on_batch: Progress,
    batch_size: int = 1000,
    keys: Keys = NO_KEYS,
) -> None:
    """The event store cut at a moment, folded into a point-in-time database."""
    started = time.perf_counter()
    position = 0
    while batch := read_log(position, batch_size):
        kept = [e for _, e in batch if isinstance(e, InterceptEvent) and cutoff.keeps(e)]
        write_batch(db, kept, keys)
        position = batch[-1][0]
        report.read += len(batch)
        report.applied += len(kept)
        on_batch(len(batch))
    report.seconds = time.perf_counter() - started


def _count(db: Database) -> int:
    return projection_store.timeline_lines(db)
