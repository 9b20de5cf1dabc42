"""The chained recorders are real recorders: the library's own recorder test cases pass.

(Not `AggregateRecorderTestCase`: it is for the library's aggregate recorders, whose
`insert_events` returns None where an application recorder returns positions.)

They record the library's test states (`b"state1"`, not JSON): the chain hashes
whatever bytes are stored, so a compressed or encrypted store records as well.
"""

import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import TestCase
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
)

from audit.store_check import verify_store
from engine.store.recorders import ChainedSQLiteRecorder


class _OnSQLite:
    def setUp(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        # A file, not ":memory:": the concurrent cases write from many threads.
        self.datastore = SQLiteDatastore(str(Path(self._dir.name) / "events.db"), pool_size=10)

    def tearDown(self) -> None:
        self.datastore.close()
        self._dir.cleanup()

    def create_recorder(self) -> ChainedSQLiteRecorder:
        recorder = ChainedSQLiteRecorder(self.datastore)
        recorder.create_table()
        return recorder


class TestChainedSQLiteApplicationRecorder(_OnSQLite, ApplicationRecorderTestCase):
    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        """The library's many-threads case, run in a child process of its own.

        Python's sqlite3 module crashes the interpreter (SIGSEGV, inside `execute("BEGIN")`)
        in some runs of this case, with the library's own `SQLiteApplicationRecorder` as
        with the chained one (here: 5 of 20 runs of the library's, 2 of 15 of the chained
        one before the statement cache). A crash is reported as the known one; any wrong
        result or other error fails as before."""
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "unittest",
                f"{__name__}._ConcurrentCase.{self._testMethodName}",
            ],
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if child.returncode == -signal.SIGSEGV:
            pytest.xfail("sqlite3 crashed the interpreter under many threads (known, upstream)")
        assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-3000:]


class _ConcurrentCase(_OnSQLite, ApplicationRecorderTestCase):
    """The library's case itself, for the child process above (not collected on its own)."""

    __test__ = False


class TestChainedSQLiteNonInterleaving(_OnSQLite, NonInterleavingNotificationIDsBaseCase):
    pass


@pytest.fixture(scope="class")
def _postgres_database(request, postgres_server):
    request.cls.database_url = postgres_server.create_database("recorders")


class _OnPostgres:
    database_url: str

    def setUp(self) -> None:
        from eventsourcing.postgres import PostgresDatastore

        from tests.support.postgres_server import eventsourcing_env

        env = eventsourcing_env(self.database_url)
        self.datastore = PostgresDatastore(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            pool_size=10,
        )
        self._drop()

    def tearDown(self) -> None:
        self._drop()
        self.datastore.close()

    def _drop(self) -> None:
        with self.datastore.get_connection() as conn:
            conn.execute("DROP TABLE IF EXISTS stored_events_chain")
            conn.execute("DROP TABLE IF EXISTS stored_events")

    def create_recorder(self):
        from engine.store.recorders import ChainedPostgresRecorder

        recorder = ChainedPostgresRecorder(self.datastore)
        recorder.create_table()
        return recorder


@pytest.mark.postgres
@pytest.mark.usefixtures("_postgres_database")
class TestChainedPostgresApplicationRecorder(_OnPostgres, ApplicationRecorderTestCase):
    pass


@pytest.mark.postgres
@pytest.mark.usefixtures("_postgres_database")
class TestChainedPostgresNonInterleaving(_OnPostgres, NonInterleavingNotificationIDsBaseCase):
    pass


class _Chained:
    """What a recorder test case cannot see: the chain over its states holds."""

    def test_the_chain_over_states_that_are_not_json_verifies(self) -> None:
        recorder = self.create_recorder()
        a, b = uuid4(), uuid4()
        recorder.insert_events(
            [
                StoredEvent(a, 1, "topic1", b"state1"),
                StoredEvent(b, 1, "topic1", b"state2"),
                StoredEvent(a, 2, "topic2", b"\x00\xff not json"),
            ]
        )
        recorder.insert_events([StoredEvent(b, 2, "PolicySet", b"[1, 2]")])
        verdict = verify_store(recorder)
        assert verdict.ok and verdict.checked == 4, verdict


class TestChainedSQLiteChain(_OnSQLite, _Chained, TestCase):
    pass


@pytest.mark.postgres
@pytest.mark.usefixtures("_postgres_database")
class TestChainedPostgresChain(_OnPostgres, _Chained, TestCase):
    pass
