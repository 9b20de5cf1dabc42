"""Scenario 1: requests and cancels through the engine vs a raw eventsourcing application.

Three ways through the engine: the write side alone (Kafka mode, where the
consumers project), embedded mode (each command also catches the projections
up, so a query right after sees it), and batches through `execute_many`.
The raw application makes the same writes on the same kind of storage.
"""

import statistics
import time
from collections import defaultdict
from contextlib import closing as _closing

from bench import workload
from bench.backends import Backend
from bench.measure import Rate, ratio, timed
from bench.raw import RawApplication
from domain.decision import Outcome
from domain.errors import DomainError
from engine.composition import build_engine

# Kafka mode without a broker: commands only write the event store (nothing connects).
_WRITE_ONLY = {"kafka_bootstrap": "127.0.0.1:9"}


def _engine(backend: Backend, label: str, **more):
    engine = build_engine(backend.settings(label, **more), clock=workload.StepClock())
    for command in workload.policies():
        engine.execute(command)
    return engine


class _Measured(dict):
    """Rates by name, and the process's CPU time per command beside each: a shared machine's
    load moves the rates (and their ratios) far more than the CPU a command takes."""

    def __init__(self, names) -> None:
        super().__init__({name: Rate("commands/s") for name in names})
        self.cpu_us: dict[str, list[float]] = defaultdict(list)

    def timed(self, name: str, work) -> None:
        cpu = time.process_time()
        count, seconds = timed(work)
        self.cpu_us[name].append((time.process_time() - cpu) / count * 1e6)
        self[name].add(count, seconds)


def _recorded(results) -> int:
    """How many commands were recorded; anything else means the benchmark measured nothing."""
    for result in results:
        if isinstance(result, DomainError) or result.outcome is not Outcome.RECORDED:
            raise RuntimeError(f"a benchmark command was not recorded: {result!r}")
    return len(results)


def _engine_one_by_one(engine, n: int, run: str, rates: dict, prefix: str) -> None:
    requests = [workload.request(i, run) for i in range(n)]
    cancels = [workload.cancel_for(c) for c in requests]
    rates.timed(f"{prefix}_requests", lambda: _recorded([engine.execute(c) for c in requests]))
    rates.timed(f"{prefix}_cancels", lambda: _recorded([engine.execute(c) for c in cancels]))


def _engine_batched(engine, n: int, size: int, run: str, rates: dict, prefix: str) -> None:
    requests = [workload.request(i, run) for i in range(n)]
    cancels = [workload.cancel_for(c) for c in requests]

    def batches(commands) -> int:
        done = 0
        for first in range(0, len(commands), size):
            done += _recorded(engine.execute_many(commands[first : first + size]))
        return done

    rates.timed(f"{prefix}_requests", lambda: batches(requests))
    rates.timed(f"{prefix}_cancels", lambda: batches(cancels))


def _raw(backend: Backend, n: int, size: int, run: str, rates: dict, prefix: str) -> None:
    app = RawApplication(backend.raw_env(f"raw-{prefix}"))
    requests = [workload.request(i, run) for i in range(n)]
    if size == 1:
        ids: list = []
        rates.timed(
            f"{prefix}_requests", lambda: len([ids.append(app.request(c)) for c in requests])
        )
        rates.timed(f"{prefix}_cancels", lambda: len([app.cancel(i) for i in ids]))
    else:
        chunks = [requests[i : i + size] for i in range(0, n, size)]
        ids = []
        rates.timed(
            f"{prefix}_requests",
            lambda: sum(len(ids.extend(app.request_many(c)) or c) for c in chunks),
        )
        id_chunks = [ids[i : i + size] for i in range(0, n, size)]
        rates.timed(
            f"{prefix}_cancels", lambda: sum(len(app.cancel_many(c) or c) for c in id_chunks)
        )
    app.close()


def run(backend: Backend, n: int, batch: int, repeats: int) -> dict:
    names = [
        f"{p}_{k}"
        for p in ("raw", "engine", "embedded", "raw_batch", "engine_batch", "embedded_batch")
        for k in ("requests", "cancels")
    ]
    rates = _Measured(names)
    for r in range(repeats):
        _raw(backend, n, 1, f"a{r}", rates, "raw")
        with _closing(_engine(backend, f"engine{r}", **_WRITE_ONLY)) as engine:
            _engine_one_by_one(engine, n, f"b{r}", rates, "engine")
        with _closing(_engine(backend, f"embedded{r}")) as engine:
            _engine_one_by_one(engine, n, f"c{r}", rates, "embedded")
        _raw(backend, n, batch, f"d{r}", rates, "raw_batch")
        with _closing(_engine(backend, f"enginebatch{r}", **_WRITE_ONLY)) as engine:
            _engine_batched(engine, n, batch, f"e{r}", rates, "engine_batch")
        with _closing(_engine(backend, f"embeddedbatch{r}")) as engine:
            _engine_batched(engine, n, batch, f"f{r}", rates, "embedded_batch")
    ratios = {}
    for kind in ("requests", "cancels"):
        raw, raw_batch = rates[f"raw_{kind}"], rates[f"raw_batch_{kind}"]
        ratios[f"engine_vs_raw_{kind}"] = ratio(rates[f"engine_{kind}"], raw)
        ratios[f"embedded_vs_raw_{kind}"] = ratio(rates[f"embedded_{kind}"], raw)
        ratios[f"engine_batch_vs_raw_batch_{kind}"] = ratio(
            rates[f"engine_batch_{kind}"], raw_batch
        )
        ratios[f"batch_vs_one_by_one_{kind}"] = ratio(
            rates[f"engine_batch_{kind}"], rates[f"engine_{kind}"]
        )
        # The library's own gain from batching on this machine: what bounds the engine's.
        ratios[f"raw_batch_vs_one_by_one_{kind}"] = ratio(raw_batch, raw)
        ratios[f"embedded_batch_vs_one_by_one_{kind}"] = ratio(
            rates[f"embedded_batch_{kind}"], rates[f"embedded_{kind}"]
        )
    cpu = {k: statistics.median(v) for k, v in rates.cpu_us.items()}
    for kind in ("requests", "cancels"):
        ratios[f"engine_vs_raw_cpu_{kind}"] = cpu[f"raw_{kind}"] / cpu[f"engine_{kind}"]
    return {
        "commands": n,
        "batch_size": batch,
        "repeats": repeats,
        "rates": {k: v.as_dict() for k, v in rates.items()},
        "ratios": ratios,
        "cpu_us_per_command": cpu,
    }
