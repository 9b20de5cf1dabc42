"""Filling new projections from the whole log gives what the live catch-ups kept, table for
table: rows, timeline, positions and statistics, on SQLite and PostgreSQL; and so does
filling SQLite files from parts of the log apart and merging them."""

import tempfile
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import bulk, stats_store
from projections.catchup import EVENT_STORE, catch_up
from projections.projector import PROJECTION, Projector
from projections.schema import migrate
from projections.statistics import COUNTERS, RISK_COUNTERS
from projections.store import Tables, secondary_indexes
from storage.database import Database
from tests.strategies import timed_history

_OWNED = ("intercepts", "intercept_events", "pending_events", "checkpoints", *stats_store.TABLES)


@pytest.fixture
def databases(backend, request):
    """A pair of empty projection databases (live, filled) per call."""
    if backend == "sqlite":
        folders = []

        def sqlite_pair() -> tuple[Database, Database]:
            folder = tempfile.TemporaryDirectory()
            folders.append(folder)
            return tuple(  # type: ignore[return-value]
                _migrated(Database.sqlite_file(Path(folder.name) / f"{n}.db"))
                for n in ("live", "filled")
            )

        yield sqlite_pair
        for folder in folders:
            folder.cleanup()
        return
    server = request.getfixturevalue("postgres_server")
    pair = tuple(_migrated(Database(server.create_database(n))) for n in ("live", "filled"))

    def emptied() -> tuple[Database, Database]:
        for db in pair:
            with db.transaction() as cur:
                for table in _OWNED:
                    cur.execute(f"DELETE FROM {table}")
        return pair  # type: ignore[return-value]

    yield emptied
    for db in pair:
        db.close()


def _migrated(db: Database) -> Database:
    migrate(db)
    return db


@st.composite
def logs(draw) -> list:
    """Several intercepts' histories interleaved as a shared log holds them."""
    count = draw(st.integers(1, 4))
    histories = [draw(timed_history(iid=UUID(int=500 + n), max_steps=8)) for n in range(count)]
    merged = []
    while any(histories):
        i = draw(st.sampled_from([k for k, h in enumerate(histories) if h]))
        merged.append(histories[i].pop(0))
    return merged


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=20, deadline=None
)
@given(history=logs(), data=st.data())
def test_a_filled_rebuild_equals_the_projections_kept_live(databases, history, data):
    log = list(enumerate(history, start=1))

    def read(after: int, limit: int):
        return [entry for entry in log if entry[0] > after][:limit]

    live_db, filled_db = databases()
    live = Projector(live_db)
    # Live: caught up after each of a few saves, as commands do.
    cuts = sorted(data.draw(st.lists(st.integers(1, len(log)), max_size=4), label="saves"))
    for end in [*cuts, len(log)]:
        catch_up(live, lambda after, limit, end=end: read(after, limit)[: max(0, end - after)])
    # Small batches, so that an intercept's events straddle them.
    batch = data.draw(st.integers(1, 7), label="batch")
    assert bulk.fill(filled_db, read, batch_size=batch) == len(log)
    assert _tables(filled_db) == _tables(live_db)
    assert secondary_indexes(filled_db) == secondary_indexes(live_db)


@settings(max_examples=15, deadline=None)
@given(history=logs(), data=st.data())
def test_parts_of_the_log_filled_apart_and_merged_equal_the_projections_kept_live(history, data):
    log = list(enumerate(history, start=1))
    parts = data.draw(st.sampled_from([2, 4]), label="parts")
    # Which part each intercept is in, as the store splits them: by the id's last hex digit.
    part_of = {e.originator_id: int(e.originator_id.hex[-1], 16) % parts for e in history}

    def read(after: int, limit: int, part: int | None = None):
        entries = [(p, e) for p, e in log if p > after]
        if part is not None:
            entries = [(p, e) for p, e in entries if part_of[e.originator_id] == part]
        return entries[:limit]

    with tempfile.TemporaryDirectory() as folder:
        live_db, filled_db, *part_dbs = (
            _migrated(Database.sqlite_file(Path(folder) / f"{n}.db"))
            for n in ("live", "filled", *range(parts))
        )
        catch_up(Projector(live_db), read)
        batch = data.draw(st.integers(1, 7), label="batch")
        read_in_parts = 0
        for k, db in enumerate(part_dbs):
            read_in_parts += bulk.fill(
                db, lambda a, n, k=k: read(a, n, k), batch_size=batch, indexes=False
            )
            assert secondary_indexes(db) == []
            db.close()
        bulk.merge(filled_db, [Path(folder) / f"{k}.db" for k in range(parts)])
        assert read_in_parts == len(log)
        assert _tables(filled_db) == _tables(live_db)
        assert secondary_indexes(filled_db) == secondary_indexes(live_db)
        live_db.close()
        filled_db.close()


def test_every_table_of_cells_is_summed_when_parts_merge():
    assert set(stats_store._SUMMED_TABLES) == set(stats_store.TABLES) - {"stats_buckets"}


def test_filling_projections_that_hold_a_position_is_refused(databases):
    db, _ = databases()
    with db.transaction() as cur:
        Tables(cur).advance(PROJECTION, [(EVENT_STORE, 0, 3)])
    with pytest.raises(bulk.NotEmpty):
        bulk.fill(db, lambda after, limit: [])


def _tables(db: Database) -> dict:
    """Every table the projection writes, in key order; statistics cells summing to nothing
    left out (a cell a later event emptied reads as no cell in every figure)."""
    counted = {
        "stats_daily": COUNTERS,
        "stats_daily_all": COUNTERS,
        "stats_latency": ("n",),
        "stats_latency_all": ("n",),
        "stats_latency_day": ("n",),
        "stats_latency_day_all": ("n",),
        "stats_risk": RISK_COUNTERS,
    }
    out = {}
    for table in _OWNED:
        rows = db.read(f"SELECT * FROM {table}")
        names = counted.get(table)
        if names:
            rows = [r for r in rows if any(r[n] for n in names)]
        out[table] = sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))
    return out
