"""Scenario 6: `intercept stats` over a million intercepts, from the statistics projection.

Running four million events through the pipeline takes minutes (scenario 5 measures
that, statistics included); here the rows are generated and written straight into the
`intercepts` table, and the statistics tables get exactly what the projector would have
written for them: the rows' cells, summed (`projections.statistics.Cells`). The answer is
then timed through the same query the use case runs, and the whole `intercept stats`
command once, as a user would run it. The baseline is one grouped scan of the rows
(status by carrier over the window): the cheapest of the scans the figures would need
without the projection.
"""

import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from projections import queries, stats_store
from projections.row import COLUMNS, UNSET
from projections.schema import migrate
from projections.statistics import Cells
from projections.store import Tables
from storage.database import Database

MERCHANTS = 20
CARRIERS = ("ZTO", "YTO", "STO", "YD", "JT", "SF", "JD", "EMS")
DAYS = 90
_AFTER_SALE = (("none", 70), ("refund_requested", 15), ("return_requested", 10), ("refunded", 5))
_CHUNK = 20_000


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


def generate(n: int, now: datetime, seed: int = 6):
    """Rows as the projector leaves them: requests over 90 days, carriers deciding
    within hours to days, some cancelled (a few crossed by an interception)."""
    rng = random.Random(seed)
    after_sales = [v for v, w in _AFTER_SALE for _ in range(w)]
    start = now - timedelta(days=DAYS)
    for i in range(n):
        requested = start + timedelta(seconds=rng.randrange(DAYS * 86_400))
        row = {
            **UNSET,
            "intercept_id": f"{i:012d}-bench",
            "merchant_id": f"m-{rng.randrange(MERCHANTS):03d}",
            "order_id": f"o{i}",
            "tracking_no": f"T{i}",
            "carrier": rng.choice(CARRIERS),
            "amount_minor": rng.randrange(1000, 100_000),
            "currency": "CNY",
            "action": rng.choice(("return_to_sender", "return_to_station", "redirect")),
            "request_reason": "buyer_refund",
            "after_sale_status": rng.choice(after_sales),
            "status": "requested",
            "fees_minor": 0,
            "evidence_count": 0,
            "requested_at": _stamp(requested),
            "updated_at": _stamp(requested),
            "version": 1,
        }
        if rng.random() < 0.9:
            row["accepted_at"] = _stamp(requested + timedelta(seconds=rng.expovariate(1 / 1800)))
            row["status"] = "accepted"
        fate = rng.random()
        if fate < 0.15:
            row["status"] = "cancelled"
            row["cancel_reason"] = rng.choice(
                ("misoperation", "buyer_changed_mind", "wrong_tracking_or_address")
            )
            row["cancelled_at"] = _stamp(requested + timedelta(minutes=rng.randrange(1, 600)))
            if rng.random() < 0.05:
                row["conflict"] = "intercepted_after_cancel"
        elif fate < 0.85:
            outcome = requested + timedelta(seconds=rng.lognormvariate(10, 0.8))
            if rng.random() < 0.75:
                row["status"], row["confirmed_at"] = "intercepted", _stamp(outcome)
                row["fees_minor"] = rng.choice((0, 300, 500, 800))
            else:
                row["status"], row["failed_at"] = "failed", _stamp(outcome)
                row["failure_reason"] = rng.choice(
                    ("too_late_out_for_delivery", "already_signed", "other")
                )
        yield row


def fill(db: Database, n: int, now: datetime, rows: bool = True) -> None:
    """The rows and their statistics; with `rows` False the statistics tables alone (what
    the figures read), when the baseline scan is not wanted: writing the million rows is
    most of a run's time."""
    cells = Cells(stats_store.zone_of(db))
    chunk: list[dict] = []

    def flush() -> None:
        if rows:
            with db.transaction() as cur:
                Tables(cur).replace_rows(chunk)
        chunk.clear()

    for row in generate(n, now):
        full = {c: row.get(c) for c in COLUMNS}
        cells.add(full)
        chunk.append(full)
        if len(chunk) == _CHUNK:
            flush()
    if chunk:
        flush()
    with db.transaction() as cur:
        stats_store.record(cur, cells)


def _baseline(db: Database, since_day: str) -> None:
    db.read(
        "SELECT carrier, status, COUNT(*) AS n FROM intercepts WHERE requested_at >= ? "
        "GROUP BY carrier, status",
        (since_day,),
    )


def run(storage, n: int = 1_000_000, repeats: int = 5, rows: bool = True) -> dict:
    settings = storage.settings("stats")
    url = settings.projections or f"sqlite:///{settings.home / 'projections.db'}"
    db = Database(url)
    migrate(db, settings.timezone)
    now = datetime.now(UTC)
    began = time.perf_counter()
    fill(db, n, now, rows)
    filled = time.perf_counter() - began
    if not db.postgres:
        db.read("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        db.read("ANALYZE")
    since_day = (now - timedelta(days=DAYS)).date().isoformat()
    where = stats_store.Where(since_day=since_day)
    answer, merchant, scan = [], [], []
    for _ in range(repeats):  # taking turns, as the other scenarios do
        t = time.perf_counter()
        figures = queries.statistics(db, where)
        answer.append(time.perf_counter() - t)
        t = time.perf_counter()
        queries.statistics(db, stats_store.Where(since_day=since_day, merchant_id="m-001"), "day")
        merchant.append(time.perf_counter() - t)
        if rows:
            t = time.perf_counter()
            _baseline(db, since_day)
            scan.append(time.perf_counter() - t)
    assert figures["intercepts"] == n, figures["intercepts"]
    cells = db.read("SELECT COUNT(*) AS n FROM stats_daily")[0]["n"]
    latency_cells = db.read("SELECT COUNT(*) AS n FROM stats_latency")[0]["n"]
    db.close()
    if not rows:
        return {
            "intercepts": n,
            "rows_written": False,
            "fill_seconds": filled,
            "daily_cells": cells,
            "latency_cells": latency_cells,
            "answer_seconds": statistics.median(answer),
            "answer_samples": answer,
            "merchant_by_day_seconds": statistics.median(merchant),
            "merchant_by_day_samples": merchant,
            "merchant_by_day_vs_answer": statistics.median(merchant) / statistics.median(answer),
        }
    command = _command(settings, url)
    return {
        "intercepts": n,
        "fill_seconds": filled,
        "daily_cells": cells,
        "latency_cells": latency_cells,
        "answer_seconds": statistics.median(answer),
        "answer_samples": answer,
        "merchant_by_day_seconds": statistics.median(merchant),
        "merchant_by_day_samples": merchant,
        "scan_seconds": statistics.median(scan),
        "scan_vs_answer": statistics.median(scan) / statistics.median(answer),
        "command_seconds": command,
    }


def _command(settings, url: str) -> float:
    """`intercept --projections URL stats` in its own process: start-up included."""
    intercept = str(Path(sys.executable).with_name("intercept"))
    env = {**os.environ, "INTERCEPT_HOME": str(settings.home)}
    t = time.perf_counter()
    done = subprocess.run(
        [intercept, "--projections", url, "stats", "--json"],
        capture_output=True,
        env=env,
        timeout=600,
    )
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace"))
    return seconds


def overhead(storage, intercepts: int = 10_000, repeats: int = 3) -> dict:
    """What keeping the statistics costs a rebuild: the same catch-up with the projector's
    statistics hook and with it replaced by a no-op, taking turns."""
    from bench import rebuild
    from projections import projector

    settings, _ = rebuild.prepare(storage, intercepts, label="stats-overhead")
    kept = projector.record_changes
    seconds: dict[str, list[float]] = {"with": [], "without": []}
    for r in range(repeats):
        for mode in ("with", "without"):
            projector.record_changes = kept if mode == "with" else (lambda cur, changes: None)
            try:
                _, took = rebuild.rebuild(storage, settings, f"stats-{mode}-{r}")
            finally:
                projector.record_changes = kept
            seconds[mode].append(took)
    with_stats, without = statistics.median(seconds["with"]), statistics.median(seconds["without"])
    return {
        "intercepts": intercepts,
        "with_seconds": with_stats,
        "without_seconds": without,
        "with_vs_without": with_stats / without,
    }


if __name__ == "__main__":
    import json

    from bench.backends import Backend

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    with Backend(backend) as storage:
        if len(sys.argv) > 3 and sys.argv[3] == "overhead":
            print(json.dumps(overhead(storage, size), indent=2))
        elif len(sys.argv) > 3 and sys.argv[3] == "stats-only":
            print(json.dumps(run(storage, size, rows=False), indent=2))
        else:
            print(json.dumps(run(storage, size), indent=2))
