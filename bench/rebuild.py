"""Scenario 2: catching the projections up from scratch vs reading the notification log raw.

The limit is the event store's own sequential read (the recorder's
`select_notifications`, in the same batch size as the catch-up), which every
rebuild has to do; the rebuild adds decoding, the row function and the
projection writes. Rates count notification-log entries (every event,
parcel registrations and policies included) on both sides.
"""

from contextlib import closing

from engine.composition import build_engine
from bench import workload
from bench.backends import Backend
from bench.measure import Rate, ratio, timed

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
    while rows := recorder.select_notifications(start=position, limit=BATCH,
                                                inclusive_of_start=False):
        count += len(rows)
        position = rows[-1].id
    return count


def read_and_decode(engine) -> int:
    position, count = 0, 0
    while entries := engine.read_log(position, BATCH):
        count += len(entries)
        position = entries[-1][0]
    return count


def rebuild(backend: Backend, settings, label: str) -> tuple[int, float]:
    """A catch-up into empty projections; (log entries read, seconds)."""
    fresh = backend.fresh_projections(settings, label)
    with closing(build_engine(fresh, clock=workload.StepClock())) as engine:
        return timed(engine.catch_up)


def run(backend: Backend, intercepts: int, repeats: int) -> dict:
    settings, history = prepare(backend, intercepts)
    rates = {name: Rate("events/s") for name in ("raw_read", "read_and_decode", "rebuild")}
    with closing(build_engine(settings, clock=workload.StepClock())) as engine:
        for r in range(repeats):
            rates["raw_read"].add(*timed(lambda: raw_read(engine)))
            rates["read_and_decode"].add(*timed(lambda: read_and_decode(engine)))
            count, seconds = rebuild(backend, settings, f"rebuild{r}")
            if count != history.events:
                raise RuntimeError(f"rebuild read {count} events, the store has {history.events}")
            rates["rebuild"].add(count, seconds)
    return {"intercepts": intercepts, "events": history.events,
            "intercept_events": history.intercept_events, "repeats": repeats,
            "rates": {k: v.as_dict() for k, v in rates.items()},
            "ratios": {"rebuild_vs_raw_read": ratio(rates["rebuild"], rates["raw_read"]),
                       "decode_vs_raw_read": ratio(rates["read_and_decode"],
                                                   rates["raw_read"])}}
