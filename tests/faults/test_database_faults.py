"""A database that is locked by another writer, or drops its connection mid-transaction.

Each attempt waits a bounded time (`db_timeout`), failed attempts are retried
with backoff a bounded number of times, and then the caller gets a clear
error. A transaction that failed wrote nothing: the tables read exactly as
before it, and once the fault is gone everything catches up to a reference.
"""

import dataclasses
import sqlite3
import threading
import time
from contextlib import contextmanager

import psycopg
import pytest

from domain.errors import DomainError
from engine.composition import build_engine
from engine.settings import Settings
from projections.projector import Projector
from storage.database import Database, DatabaseBusy
from tests import builders as b
from tests.e2e.cli import intercept
from tests.faults.plans import keys_recorded_twice, plan, signature
from tests.faults.report import report
from tests.integration.projection_tables import reference_tables, tables


def snapshot(db: Database) -> tuple:
    return (*tables(db), db.read("SELECT * FROM checkpoints ORDER BY source, partition"))


def seeded(settings: Settings):
    engine = build_engine(settings)
    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    return engine, iid


def test_a_locked_sqlite_projection_database_is_retried_then_reported_and_nothing_is_half_written(
    tmp_path,
):
    settings = Settings(home=tmp_path / "var", db_timeout=0.2)
    engine, iid = seeded(settings)
    before = snapshot(engine.db)
    blocker = sqlite3.connect(settings.projections_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    started = time.monotonic()
    with pytest.raises(DatabaseBusy, match="the command was recorded.*gave up after 5 attempts"):
        engine.execute(b.fee(iid))
    waited = time.monotonic() - started
    assert snapshot(engine.db) == before
    blocker.rollback()
    assert engine.catch_up() == 1
    report(
        "sqlite projections locked",
        attempts=5,
        per_attempt_timeout_s=0.2,
        gave_up_after_s=round(waited, 2),
        partial_writes=0,
        caught_up_after_release=1,
    )
    assert 1.0 <= waited < 5
    assert tables(engine.db) == reference_tables(settings, tmp_path)


def test_a_locked_sqlite_event_store_fails_the_command_clearly_and_records_nothing(tmp_path):
    home = tmp_path / "var"
    engine, iid = seeded(Settings(home=home))
    count = engine.app.recorder.max_notification_id()
    blocker = sqlite3.connect(home / "events.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    env = {"INTERCEPT_DB_TIMEOUT": "1"}
    args = ["fee", str(iid), "--kind", "storage", "--amount", "3.50", "--key", "fee-1"]
    locked = intercept(home, *args, env=env)
    written_while_locked = engine.app.recorder.max_notification_id() - count
    blocker.rollback()
    again = intercept(home, *args, "--json", env=env)
    report(
        "sqlite event store locked",
        lock_timeout_s=1,
        exit_code=locked.code,
        events_written_while_locked=written_while_locked,
        exit_code_after_release=again.code,
    )
    assert written_while_locked == 0
    assert locked.code == 1
    assert "event store is busy or unreachable" in locked.err and "locked" in locked.err
    assert again.code == 0 and again.json()["outcome"] == "recorded"
    assert engine.app.recorder.max_notification_id() == count + 1


class _DroppingCursor:
    """Kills its own server connection just before writing the rows of a batch."""

    def __init__(self, cursor, db: "_DroppingDatabase") -> None:
        self._cursor, self._db = cursor, db

    def executemany(self, sql, rows):
        if sql.startswith("INSERT INTO intercepts") and self._db.drops_left:
            self._db.drops_left -= 1
            self._db.dropped += 1
            with psycopg.connect(self._db.url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (self._db.backend_pid,))
        return self._cursor.executemany(sql, rows)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class _DroppingDatabase(Database):
    def __init__(self, url: str, drops: int) -> None:
        super().__init__(url, busy_timeout_ms=1000)
        self.drops_left, self.dropped = drops, 0

    @property
    def backend_pid(self) -> int:
        return self._conn.info.backend_pid

    @contextmanager
    def transaction(self):
        with super().transaction() as cur:
            yield _DroppingCursor(cur, self)


@pytest.mark.postgres
@pytest.mark.parametrize("drops", [2, 99])
def test_a_postgres_connection_dropped_mid_transaction_is_retried_then_reported(
    postgres_server, tmp_path, drops
):
    settings = Settings(
        home=tmp_path / "var",
        event_store=postgres_server.create_database("ev"),
        projections=postgres_server.create_database("pr"),
    )
    engine, iid = seeded(settings)
    engine.execute(b.fee(iid))
    before = snapshot(engine.db)
    dropping = _DroppingDatabase(settings.projections, drops)
    flaky = dataclasses.replace(engine, db=dropping, projector=Projector(dropping))
    writer = build_engine(settings.model_copy(update={"kafka_bootstrap": "unused"}))
    writer.execute(b.carrier(iid, "accepted"))  # recorded; the flaky engine projects it
    try:
        applied = flaky.catch_up()
        outcome = "caught up"
    except DatabaseBusy as error:
        applied, outcome = 0, str(error)
    report(
        f"postgres connection dropped mid-transaction (drops allowed {drops})",
        connections_dropped=dropping.dropped,
        applied=applied,
        outcome=outcome[-90:],
    )
    if drops < 5:
        assert (dropping.dropped, applied) == (drops, 1)
        assert tables(engine.db) == reference_tables(settings, tmp_path)
    else:
        assert dropping.dropped == 5 and "gave up after 5 attempts" in outcome
        assert snapshot(engine.db) == before  # not one row of the failed batch


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_postgres_connections_killed_while_commands_run_lose_nothing_and_record_nothing_twice(
    postgres_server, tmp_path
):
    """Server connections of both databases are terminated mid-transaction while a
    client sends its plan; a command that fails is sent again with the same key."""
    settings = Settings(
        home=tmp_path / "var",
        event_store=postgres_server.create_database("ev"),
        projections=postgres_server.create_database("pr"),
        db_timeout=1,
    )
    commands = plan(5, 4, 40)
    engine = build_engine(settings)
    stop, killed = threading.Event(), []
    chaos = threading.Thread(
        target=_terminate_connections, args=(postgres_server.url, settings, stop, killed)
    )
    chaos.start()
    failures = 0
    try:
        for command in commands:
            time.sleep(0.04)  # a client's pace: the drops land between and inside commands
            for _ in range(5):
                try:
                    engine.execute(command)
                    break
                except DomainError:
                    break
                except Exception:  # noqa: BLE001 - a dropped connection: send it again
                    failures += 1
    finally:
        stop.set()
        chaos.join()
    engine.catch_up()
    recorded = [e for _, e in engine.read_log(0, 10**9)]
    reference = build_engine(Settings(home=tmp_path / "reference"))
    for command in commands:
        try:
            reference.execute(command)
        except DomainError:
            pass
    expected = signature(e for _, e in reference.read_log(0, 10**9))
    report(
        "postgres connections terminated while commands run",
        commands=len(commands),
        connections_terminated=sum(killed),
        commands_failed_and_resent=failures,
        events=len(recorded),
        events_lost=len(set(expected) - set(signature(recorded))),
        recorded_twice=keys_recorded_twice(recorded),
    )
    assert sum(killed) >= 10
    assert signature(recorded) == expected
    assert keys_recorded_twice(recorded) == 0
    assert tables(engine.db) == reference_tables(settings, tmp_path)


def _terminate_connections(server_url: str, settings: Settings, stop, killed: list) -> None:
    """Every 5 ms, terminate the connections of the two databases that are inside a
    statement or a transaction: drops mid-transaction, not of idle pooled connections.
    Each costs the pool about a second to replace, so it stops after 25."""
    names = [url.rsplit("/", 1)[1] for url in (settings.event_store, settings.projections)]
    with psycopg.connect(server_url, autocommit=True) as admin:
        while not stop.wait(0.005) and sum(killed) < 25:
            done = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = ANY(%s) AND pid <> pg_backend_pid() "
                "AND state IN ('active', 'idle in transaction')",
                (names,),
            ).fetchone()[0]
            killed.append(done)


class _OnePoll:
    """A Kafka consumer stand-in that hands over one batch, then nothing."""

    def __init__(self, topic: str, values: list[bytes]) -> None:
        from kafka import TopicPartition
        from kafka.consumer.fetcher import ConsumerRecord

        tp = TopicPartition(topic, 0)
        self.batch = {
            tp: [
                ConsumerRecord(
                    topic=topic,
                    partition=0,
                    leader_epoch=0,
                    offset=n,
                    timestamp=0,
                    timestamp_type=0,
                    key=None,
                    value=v,
                    headers=[],
                    checksum=None,
                    serialized_key_size=-1,
                    serialized_value_size=len(v),
                    serialized_header_size=-1,
                )
                for n, v in enumerate(values)
            ]
        }
        self.commits: list = []

    def poll(self, timeout_ms: int = 0):
        batch, self.batch = self.batch, {}
        return batch

    def commit_async(self, offsets, callback=None) -> None:
        self.commits.append(offsets)


@pytest.mark.parametrize("locked_for", [0.4, None])
def test_a_consumer_retries_a_locked_projection_database_then_stops_without_a_half_batch(
    tmp_path, locked_for
):
    from consumers.projection_consumer import ProjectionConsumer
    from domain.envelope import Envelope
    from domain.events import InterceptEvent
    from engine.relay import message

    settings = Settings(home=tmp_path / "var", db_timeout=0.1)
    writer, iid = seeded(settings)
    writer.execute(b.fee(iid))
    values = [
        message(Envelope.of(e, n))["value"]
        for n, e in writer.read_log(0, 100)
        if isinstance(e, InterceptEvent)
    ]
    projections = build_engine(
        settings.model_copy(update={"projections": f"sqlite:///{tmp_path / 'consumer.db'}"})
    )
    kafka = _OnePoll("t", values)
    consumer = ProjectionConsumer(kafka, projections.projector, None, "t", "t.dlq")
    blocker = sqlite3.connect(
        tmp_path / "consumer.db", isolation_level=None, check_same_thread=False
    )  # released from a timer thread
    blocker.execute("BEGIN IMMEDIATE")
    if locked_for is not None:
        threading.Timer(locked_for, blocker.rollback).start()
    try:
        consumer.poll_once()
        outcome = "applied"
    except DatabaseBusy as error:
        outcome = "gave up" if "gave up after 5 attempts" in str(error) else str(error)
        blocker.rollback()
    rows = projections.db.read("SELECT COUNT(*) AS n FROM intercept_events")[0]["n"]
    report(
        f"consumer, projections locked for {locked_for or 'ever'} s",
        outcome=outcome,
        events_in_batch=len(values),
        rows_written=rows,
        kafka_commits=len(kafka.commits),
    )
    if locked_for is not None:
        assert (outcome, rows, len(kafka.commits)) == ("applied", len(values), 1)
    else:
        assert (outcome, rows, kafka.commits) == ("gave up", 0, [])
