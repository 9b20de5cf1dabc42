"""Every `sql` block of docs/analytics.md runs, on SQLite and PostgreSQL, and answers."""

import re
from pathlib import Path

from projections import queries, stats_store
from projections.row import COLUMNS
from projections.schema import migrate
from projections.statistics import cells_of
from projections.store import Tables
from storage.database import Database
from tests.integration.test_statistics import generated_rows

DOC = Path(__file__).parents[2] / "docs" / "analytics.md"
_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)


def sql_blocks() -> list[str]:
    return _BLOCK.findall(DOC.read_text())


def _filled(backend, request) -> Database:
    if backend == "sqlite":
        db = Database("sqlite:///:memory:")
    else:
        db = Database(request.getfixturevalue("postgres_server").create_database("docs"))
    migrate(db)
    rows = []
    for n, r in enumerate(generated_rows(800, seed=10)):
        row = {c: r.get(c) for c in COLUMNS}
        row.update(
            order_id=f"o{n}",
            tracking_no=f"T{n}",
            amount_minor=1000,
            currency="CNY",
            request_reason="buyer_refund",
            evidence_count=0,
            updated_at=r["requested_at"],
            version=1,
        )
        if n % 7 == 0:
            row.update(
                status="cancelled", cancel_reason="misoperation", cancelled_at=r["requested_at"]
            )
            row.update(confirmed_at=None, failed_at=None, failure_reason=None)
            if n % 21 == 0:
                row.update(conflict="intercepted_after_cancel", confirmed_at=r["requested_at"])
        if n % 11 == 0:
            row.update(status="requested", accepted_at=None, confirmed_at=None, failed_at=None)
            row.update(failure_reason=None, cancel_reason=None, cancelled_at=None, conflict=None)
        rows.append(row)
    with db.transaction() as cur:
        Tables(cur).replace_rows(rows)
        stats_store.record(cur, cells_of(rows, stats_store.zone_of(cur)))
    return db


def test_the_doc_has_ten_questions():
    assert len(sql_blocks()) == 10


def test_every_sql_block_of_the_doc_runs_and_answers(backend, request):
    db = _filled(backend, request)
    for block in sql_blocks():
        assert db.read(block), f"no rows from:\n{block}"


def test_the_docs_p90_is_the_statistics_p90(backend, request):
    db = _filled(backend, request)
    p90 = next(b for b in sql_blocks() if "p90_seconds" in b)
    answered = {r["carrier"]: r["p90_seconds"] for r in db.read(p90)}
    figures = queries.statistics(db, stats_store.Where(since_day="2026-10-01"))
    assert answered == {
        c: f["latency"]["to_outcome"]["p90_seconds"]
        for c, f in figures["by_carrier"].items()
        if f["latency"]["to_outcome"]["n"]
    }
