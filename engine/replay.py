"""Rebuilding the projections from recorded history, and point-in-time views of it.

A replay only reads: the event store or the topic from its first offsets. It writes
nothing but a fresh projection database, publishes nothing, and consults no clock: the
same history always gives the same rows (the projector and row function are pure).
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from audit.topic_check import TopicCheck
from audit.verdict import Problem, Verdict
from consumers.decode import Poison, receive
from domain.events import InterceptEvent
from projections import bulk
from projections import store as projection_store
from projections.personal import NO_KEYS, Keys
from projections.point_in_time import Cutoff, write_batch
from projections.projector import BatchResult, Projector
from storage.database import Database

Progress = Callable[[int], None]


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
