"""Relays starting together on a fresh PostgreSQL database do not race creating their table."""

import threading

import pytest

from engine.relay import RelayPositions
from storage.database import Database

RELAYS = 8


@pytest.mark.postgres
@pytest.mark.parametrize("attempt", range(3))
def test_relays_starting_at_the_same_instant_all_start(postgres_server, attempt):
    url = postgres_server.create_database("relays")
    databases = [Database(url) for _ in range(RELAYS)]
    start = threading.Barrier(RELAYS)
    failures: list[BaseException] = []

    def relay(db: Database) -> None:
        start.wait()
        try:
            RelayPositions(db)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=relay, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not failures, failures
        positions = RelayPositions(databases[0])
        positions.set("t", 7)
        assert positions.get("t") == 7
    finally:
        for db in databases:
            db.close()
