"""`python -m bench.audit`: what tamper evidence and replays cost, against baselines in the same run.

- recording: commands through the engine with its hash chain vs the library's plain recorder,
  alternating runs on fresh SQLite stores (the chain's cost per command);
- verifying: `audit verify` over a recorded history vs reading the notification log raw;
- replaying: `intercept replay` (fresh database, swap) vs the same raw read.
Medians of the repeats; every rate counts notification-log entries or commands.
"""

import json
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import typer

import engine.application as application
from audit.store_check import verify_store
from bench import workload
from bench.rebuild import raw_read
from engine import replay
from engine.composition import build_engine
from engine.settings import Settings
from engine.store import recorders
from projections.fresh import FreshProjections


def _engine(home: Path, chained: bool):
    # The plain library recorder, only to measure what the chain costs.
    application.with_chain = recorders.with_chain if chained else (lambda env: env)
    try:
        return build_engine(
            Settings(home=home, kafka_bootstrap="unused"), clock=workload.StepClock()
        )
    finally:
        application.with_chain = recorders.with_chain


def _commands(scratch: Path, chained: bool, count: int) -> tuple[float, float]:
    with closing(_engine(Path(tempfile.mkdtemp(dir=scratch)), chained)) as engine:
        for policy in workload.policies():
            engine.execute(policy)
        requests = [workload.request(n) for n in range(count)]
        started = time.perf_counter()
        for command in requests:
            engine.execute(command)
        middle = time.perf_counter()
        for command in requests:
            engine.execute(workload.cancel_for(command))
        ended = time.perf_counter()
    return count / (middle - started), count / (ended - middle)


def _timed(work) -> float:
    started = time.perf_counter()
    count = work()
    return count / (time.perf_counter() - started)


def _rebuild(engine) -> int:
    report = replay.ReplayReport("store")
    with FreshProjections(engine.db) as target:
        replay.from_store(target.db, engine.read_intercept_log, report, lambda n: None)
        target.swap_in()
    return engine.app.recorder.max_notification_id()  # log entries covered, as raw_read


def main(
    commands: int = typer.Option(1000, help="Commands per recording run."),
    intercepts: int = typer.Option(10_000, help="Intercepts in the verified history."),
    repeats: int = typer.Option(5, help="Runs of each measurement."),
) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="intercept-bench-audit-"))
    rates: dict[str, list[float]] = {}
    for _ in range(repeats):
        for chained, name in ((False, "plain"), (True, "chained")):
            requests, cancels = _commands(scratch, chained, commands)
            rates.setdefault(f"{name}_requests", []).append(requests)
            rates.setdefault(f"{name}_cancels", []).append(cancels)
    with closing(_engine(scratch / "history", chained=True)) as engine:
        history = workload.write_history(engine.app, intercepts)
        for _ in range(repeats):
            rates.setdefault("raw_read", []).append(_timed(lambda: raw_read(engine)))
            rates.setdefault("verify", []).append(
                _timed(lambda: verify_store(engine.app.recorder).checked)
            )
            rates.setdefault("replay", []).append(_timed(lambda: _rebuild(engine)))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    ratios = {
        "chained_vs_plain_requests": medians["chained_requests"] / medians["plain_requests"],
        "chained_vs_plain_cancels": medians["chained_cancels"] / medians["plain_cancels"],
        "verify_vs_raw_read": medians["verify"] / medians["raw_read"],
        "replay_vs_raw_read": medians["replay"] / medians["raw_read"],
    }
    print("| measure | median | samples |\n|---|---:|---|", file=sys.stderr)
    for name, samples in rates.items():
        unit = "events/s" if name in ("raw_read", "verify", "replay") else "commands/s"
        print(
            f"| {name} | {medians[name]:,.0f} {unit} | {', '.join(f'{s:,.0f}' for s in samples)} |",
            file=sys.stderr,
        )
    print(
        json.dumps(
            {
                "commands": commands,
                "history_events": history.events,
                "repeats": repeats,
                "medians": {k: round(v) for k, v in medians.items()},
                "ratios": {k: round(v, 3) for k, v in ratios.items()},
            }
        )
    )


if __name__ == "__main__":
    typer.run(main)
