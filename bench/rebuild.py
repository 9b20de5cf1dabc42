"""Scenario 2: rebuilding the projections from scratch vs reading the notification log raw.

The limit is the event store's own sequential read of the whole log (the
recorder's `select_notifications`, in the same batch size as the catch-up);
the rebuild adds decoding, the row function and the projection writes. Two
ways are timed: `intercept replay`'s, filling new projections
(projections/bulk.py), and the live catch-up's, from empty projections. Rates
on both sides are notification-log entries covered per second (every entry,
parcel registrations and policies included, which a catch-up asks the store
to skip, as it projects intercept events only).
"""

from contextlib import closing

from bench import workload
from bench.backends import Backend
from bench.measure import Rate, ratio, timed
from engine import replay
from engine.composition import build_engine
from projections import after_sales

BATCH = 1000


def prepare(backend: Backend, intercepts: int, label: str = "rebuild"):
    """An event store holding `intercepts` histories; returns its settings and the history."""
    settings = backend.settings(label)
    with closing(build_engine(settings, clock=workload.StepClock())) as engine:
        history = workload.write_history(engine.app, intercepts)
    return settings, history


def raw_read(engine) -> int:
    position, count = 0, 0
    recorder = engine.app.recorder
    while rows := recorder.select_notifications(
        start=position, limit=BATCH, inclusive_of_start=False
    ):
        count += len(rows)
        position = rows[-1].id
    return count


def read_and_decode(engine) -> int:
    position, count = 0, 0
    while entries := engine.read_log(position, BATCH):
        count += len(entries)
        position = entries[-1][0]
    return count


def catch_up(backend: Backend, settings, label: str) -> tuple[int, float]:
    """The live path from nothing: a catch-up into empty projections; (intercept events
    projected, seconds)."""
    fresh = backend.fresh_projections(settings, label)
    with closing(build_engine(fresh, clock=workload.StepClock())) as engine:
        return timed(engine.catch_up)


def rebuild(backend: Backend, settings, label: str) -> tuple[int, float]:
    """What `intercept replay` builds before its swap, into new projections; (intercept
    events projected, seconds)."""
    fresh = backend.fresh_projections(settings, label)
    with closing(build_engine(fresh, clock=workload.StepClock())) as engine:
        return timed(lambda: fill(engine))


def rebuild_one_process(backend: Backend, settings, label: str) -> tuple[int, float]:
    """`rebuild` with no processes filling parts beside it: what the parts gain."""
    fresh = backend.fresh_projections(settings, label)
    with closing(build_engine(fresh, clock=workload.StepClock())) as engine:
        return timed(lambda: fill(engine, parts=1))


def fill(engine, parts: int | None = None) -> int:
    """What `intercept replay` builds before its swap: the whole log into the engine's
    (empty) projections, the after-sales table too; returns intercept events read.

    `parts`: processes filling it (default: as many as `intercept replay` starts)."""
    report = replay.ReplayReport("store")
    head = engine.app.event_log.max_position()
    parts = replay.in_parts(engine.db, head) if parts is None else parts
    if parts > 1:
        replay.from_store_in_parts(engine.settings, engine.db, report, head, parts)
    else:
        replay.from_store(
            engine.db, engine.read_intercept_log, report, lambda n: None, engine.seals
        )
    after_sales.catch_up(engine.db, engine.app.event_log.read_log_of)
    return report.read


def run(backend: Backend, intercepts: int, repeats: int) -> dict:
    settings, history = prepare(backend, intercepts)
    names = ("raw_read", "read_and_decode", "rebuild", "rebuild_one_process", "catch_up")
    rates = {name: Rate("events/s") for name in names}
    with closing(build_engine(settings, clock=workload.StepClock())) as engine:
        for r in range(repeats):
            rates["raw_read"].add(*timed(lambda: raw_read(engine)))
            rates["read_and_decode"].add(*timed(lambda: read_and_decode(engine)))
            for name, way in (
                ("rebuild", rebuild),
                ("rebuild_one_process", rebuild_one_process),
                ("catch_up", catch_up),
            ):
                count, seconds = way(backend, settings, f"{name}{r}")
                if count != history.intercept_events:
                    raise RuntimeError(
                        f"{name} projected {count} events, the store has {history.intercept_events}"
                    )
                rates[name].add(history.events, seconds)
    return {
        "intercepts": intercepts,
        "events": history.events,
        "intercept_events": history.intercept_events,
        "repeats": repeats,
        "rates": {k: v.as_dict() for k, v in rates.items()},
        "ratios": {
            "rebuild_vs_raw_read": ratio(rates["rebuild"], rates["raw_read"]),
            "rebuild_one_process_vs_raw_read": ratio(
                rates["rebuild_one_process"], rates["raw_read"]
            ),
            "parts_vs_one_process": ratio(rates["rebuild"], rates["rebuild_one_process"]),
            "catch_up_vs_raw_read": ratio(rates["catch_up"], rates["raw_read"]),
            "decode_vs_raw_read": ratio(rates["read_and_decode"], rates["raw_read"]),
        },
    }
