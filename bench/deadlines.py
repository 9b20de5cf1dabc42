"""What a deadline tick reads as the open intercepts grow: `python -m bench.deadlines`.

The deadline watch (engine/store/deadlines.py) is filled through its own `absorb`, as the
process fills it from the log: `open` requests whose deadlines lie hours ahead and ten
that are due. A tick's read, `DeadlineWatch.due`, is timed at each size (median of
`--repeats`), against a baseline in the same run: the same query made to scan every row
(`+ 0` on the column keeps any index out), which is what a tick costs when it reads all
open intercepts. The due read should stay flat as `open` grows; the scan should not.
The last line printed is one JSON object.
"""

import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

from domain.vocabulary import Deadline
from engine.store.deadlines import DUE, DeadlineWatch, Limits, Requested
from storage.database import Database

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DUE_ROWS = 10
SCAN = DUE.replace("WHERE due_ms <=", "WHERE due_ms + 0 <=")


def _fill(db: Database, open_rows: int) -> DeadlineWatch:
    watch = DeadlineWatch(db)
    facts: list = [Limits("m1", {Deadline.ACCEPTANCE: 120, Deadline.OUTCOME: 48 * 60})]
    for n in range(open_rows + DUE_ROWS):
        at = NOW - timedelta(hours=3) if n < DUE_ROWS else NOW - timedelta(minutes=n % 90)
        facts.append(Requested(f"i{n:09d}", "m1", at))
        if len(facts) >= 5000:
            watch.absorb(facts, n)
            facts = []
    watch.absorb(facts, open_rows + DUE_ROWS)
    return watch


def _median(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(sizes: list[int], repeats: int) -> dict:
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            db = Database.sqlite_file(Path(folder) / "events.db", 10_000)
            watch = _fill(db, size)
            assert len(watch.due(NOW, 1000)) == DUE_ROWS
            limit_ms = int(NOW.timestamp() * 1000)
            assert len(db.read(SCAN, (limit_ms, 1000))) == DUE_ROWS
            due = _median(lambda w=watch: w.due(NOW, 1000), repeats)
            scan = _median(lambda d=db, at=limit_ms: d.read(SCAN, (at, 1000)), repeats)
            results.append({"open": size, "due_read_ms": due * 1000, "scan_read_ms": scan * 1000})
            db.close()
    first, last = results[0], results[-1]
    return {
        "sizes": results,
        "due_read_ratio_largest_vs_smallest": last["due_read_ms"] / first["due_read_ms"],
        "scan_read_ratio_largest_vs_smallest": last["scan_read_ms"] / first["scan_read_ms"],
        "scan_vs_due_at_largest": last["scan_read_ms"] / last["due_read_ms"],
    }


def main(
    sizes: str = typer.Option("1000,100000", help="Open intercepts, comma-separated."),
    repeats: int = typer.Option(21, min=1),
) -> None:
    found = run([int(s) for s in sizes.split(",")], repeats)
    for r in found["sizes"]:
        print(
            f"open {r['open']:>8}: due read {r['due_read_ms']:.3f} ms, "
            f"full scan {r['scan_read_ms']:.3f} ms",
            file=sys.stderr,
        )
    print(json.dumps(found))


if __name__ == "__main__":
    typer.run(main)
