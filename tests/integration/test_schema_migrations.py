"""Creating and upgrading the tables: explicit, repeatable, all or nothing, on both backends."""

import threading

import pytest

from engine.composition import build_engine, migrate_storage
from projections import schema
from storage.database import Database
from tests.e2e.cli import intercept


def test_migrate_creates_everything_once_and_then_changes_nothing(
    store_settings, store_env, tmp_path
):
    first = migrate_storage(store_settings)
    again = intercept(tmp_path, "migrate", "--json", env=store_env)
    assert first == {
        "projections_schema": {"before": 0, "after": schema.SCHEMA_VERSION},
        "event_store": "ready",
    }
    assert again.code == 0, again.err
    assert again.json()["projections_schema"] == {
        "before": schema.SCHEMA_VERSION,
        "after": schema.SCHEMA_VERSION,
    }
    engine = build_engine(store_settings)
    recorded = engine.db.read("SELECT MAX(version) AS v FROM schema_version")
    assert recorded == [{"v": schema.SCHEMA_VERSION}]
    assert engine.app.recorder.max_notification_id() in (None, 0)


@pytest.mark.parametrize(
    "table", ["relay_positions", "relay_partition_ends", "event_traces", "deadline_watch"]
)
def test_migrate_creates_the_relay_and_tracing_tables_too(
    store_settings, store_env, tmp_path, table
):
    from engine.composition import event_store_db

    done = intercept(tmp_path, "migrate", "--json", env=store_env)
    assert done.code == 0, done.err
    db = event_store_db(store_settings)
    try:
        assert db.read(f"SELECT COUNT(*) AS n FROM {table}") == [{"n": 0}]
    finally:
        db.close()


def _projections(store_settings) -> Database:
    from engine.composition import projections_db

    return projections_db(store_settings)


def test_an_upgrade_applies_once_and_a_failing_one_leaves_the_old_schema(
    store_settings, monkeypatch
):
    db = _projections(store_settings)  # at the current version
    now = schema.SCHEMA_VERSION
    next_one = [
        "CREATE INDEX IF NOT EXISTS intercepts_status ON intercepts (status)",
        "ALTER TABLE intercepts ADD COLUMN region TEXT",
    ]
    failing = ["ALTER TABLE no_such_table ADD COLUMN x TEXT"]
    monkeypatch.setattr(schema, "SCHEMA_VERSION", now + 2)
    monkeypatch.setattr(
        schema, "_MIGRATIONS", {**schema._MIGRATIONS, now + 1: next_one, now + 2: failing}
    )
    with pytest.raises(Exception, match="no_such_table"):
        schema.upgrade(db)
    assert db.read("SELECT MAX(version) AS v FROM schema_version")[0]["v"] == now
    assert "region" not in _columns(db)  # the next version rolled back with the failing one

    monkeypatch.setattr(schema, "SCHEMA_VERSION", now + 1)
    assert schema.upgrade(db) == (now, now + 1)
    assert schema.upgrade(db) == (now + 1, now + 1)
    assert "region" in _columns(db)
    versions = [r["version"] for r in db.read("SELECT version FROM schema_version ORDER BY 1")]
    assert versions[-2:] == [now, now + 1]


def _columns(db: Database) -> set[str]:
    if db.postgres:
        rows = db.read(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_name = 'intercepts'"
        )
    else:
        rows = db.read("SELECT name FROM pragma_table_info('intercepts')")
    return {r["name"] for r in rows}


@pytest.mark.postgres
def test_processes_starting_together_on_a_fresh_postgres_all_start(postgres_server, tmp_path):
    """Without the DDL locks, concurrent CREATEs fail ('tuple concurrently updated')."""
    from engine.settings import Settings

    settings = Settings(
        home=tmp_path / "var",
        event_store=postgres_server.create_database("ev"),
        projections=postgres_server.create_database("pr"),
    )
    start, failures = threading.Barrier(6), []

    def boot() -> None:
        start.wait()
        try:
            build_engine(settings).close()
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=boot) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
