"""The test PostgreSQL server works with eventsourcing's postgres persistence."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresApplicationRecorder

from tests.support.postgres_server import PostgresServer, eventsourcing_env

pytestmark = pytest.mark.postgres


class Parcel(Aggregate):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.notes: list[str] = []

    @event("Noted")
    def note(self, text: str) -> None:
        self.notes.append(text)


class Parcels(Application[UUID]):
    pass


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with PostgresServer() as pg:
        yield pg


def make_app(url: str) -> Parcels:
    return Parcels(env={**eventsourcing_env(url), "CREATE_TABLE": "y"})


def test_eventsourcing_env_parses_url() -> None:
    url = "postgresql://us%40er:p%2Fw@127.0.0.1:5433/db"
    assert eventsourcing_env(url) == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "db",
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": "5433",
        "POSTGRES_USER": "us@er",
        "POSTGRES_PASSWORD": "p/w",
    }
    with pytest.raises(ValueError, match="expected postgresql://"):
        eventsourcing_env("postgresql:///db?host=/tmp")


def test_save_and_read_back(server: PostgresServer) -> None:
    app = make_app(server.create_database("roundtrip"))
    try:
        assert isinstance(app.recorder, PostgresApplicationRecorder)
        parcel = Parcel("P-1")
        parcel.note("hello")
        app.save(parcel)

        copy: Parcel = app.repository.get(parcel.id)
        assert (copy.ref, copy.notes, copy.version) == ("P-1", ["hello"], 2)

        notifications = app.recorder.select_notifications(start=1, limit=10)
        assert [n.id for n in notifications] == [1, 2]
        assert {n.originator_id for n in notifications} == {parcel.id}
        assert [n.topic.rsplit(".", 1)[-1] for n in notifications] == [
            "Created",
            "Noted",
        ]
        assert app.recorder.max_notification_id() == 2
    finally:
        app.close()


def test_concurrent_writers_conflict(server: PostgresServer) -> None:
    url = server.create_database("occ")
    # Two applications = two connection pools, like two processes.
    writer_a, writer_b = make_app(url), make_app(url)
    try:
        # Fresh database: nothing from the other test leaks in.
        assert writer_a.recorder.max_notification_id() is None

        parcel = Parcel("P-2")
        writer_a.save(parcel)
        copy_a: Parcel = writer_a.repository.get(parcel.id)
        copy_b: Parcel = writer_b.repository.get(parcel.id)
        copy_a.note("from a")
        copy_b.note("from b")  # both now hold a pending event at version 2

        start = threading.Barrier(2)
        outcomes: dict[str, BaseException | None] = {}

        def save(name: str, app: Parcels, parcel: Parcel) -> None:
            start.wait()
            try:
                app.save(parcel)
                outcomes[name] = None
            except BaseException as err:  # noqa: BLE001 - asserted below
                outcomes[name] = err

        threads = [
            threading.Thread(target=save, args=("a", writer_a, copy_a)),
            threading.Thread(target=save, args=("b", writer_b, copy_b)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        winners = [name for name, err in outcomes.items() if err is None]
        losers = [err for err in outcomes.values() if err is not None]
        assert len(winners) == 1, outcomes
        assert len(losers) == 1, outcomes
        assert isinstance(losers[0], IntegrityError), outcomes

        final: Parcel = writer_a.repository.get(parcel.id)
        assert final.version == 2
        assert final.notes == [f"from {winners[0]}"]
        assert writer_b.recorder.max_notification_id() == 2
    finally:
        writer_a.close()
        writer_b.close()
