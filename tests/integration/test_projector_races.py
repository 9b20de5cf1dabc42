"""Two batches advancing the same partition at once, on PostgreSQL: they must take turns.

A rebalance can hand one partition to two consumers for a moment, and two
embedded catch-ups can run together. The batch that read the rows first is
held between its reads and its writes while the other runs; without the
checkpoint lock the held batch overwrites the newer row with its stale one.
"""

import threading
from contextlib import contextmanager

import pytest

from projections.projector import Projector
from projections.schema import migrate
from storage.database import Database
from tests import builders as b
from tests.conftest import T0
from tests.integration.test_projector_delivery import envelopes

pytestmark = pytest.mark.postgres


class _PausingCursor:
    """Holds its transaction after the reads, just before the first write of rows."""

    def __init__(self, cursor, read_done: threading.Event, resume: threading.Event) -> None:
        self._cursor, self._read_done, self._resume = cursor, read_done, resume

    def executemany(self, sql, rows):
        if sql.startswith("INSERT INTO intercepts") and not self._read_done.is_set():
            self._read_done.set()
            self._resume.wait(timeout=1.5)  # with the lock the other batch cannot finish first
        return self._cursor.executemany(sql, rows)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class _PausingDatabase(Database):
    def __init__(self, url: str, read_done: threading.Event, resume: threading.Event) -> None:
        super().__init__(url)
        self.read_done, self.resume = read_done, resume

    @contextmanager
    def transaction(self):
        with super().transaction() as cur:
            yield _PausingCursor(cur, self.read_done, self.resume)


def history():
    """One intercept: requested, then two fees of 12.00."""
    from uuid import UUID

    from domain import intercept as rules
    from domain import policy as policies

    iid = UUID(int=7)
    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    state = rules.request(
        b.request(), intercept_id=iid, existing=None, policy=policy, parcel_history=(), now=T0
    ).state
    events = [state.request]
    for _ in range(2):
        decision = rules.charge_fee(state, b.fee(iid), T0)
        events.extend(decision.events)
        state = decision.state
    return envelopes(events)


def race(url: str) -> dict:
    """The stale batch (v2) reads first; the full batch (v2, v3) runs while it is held."""
    requested, first_fee, second_fee = history()
    setup = Database(url)
    migrate(setup)
    Projector(setup).apply([requested], {("t", 0): 1})
    read_done, resume = threading.Event(), threading.Event()
    stale = Projector(_PausingDatabase(url, read_done, resume))
    fresh = Projector(Database(url))
    held = threading.Thread(target=stale.apply, args=([first_fee], {("t", 0): 2}))
    held.start()
    assert read_done.wait(timeout=10)
    full = threading.Thread(
        target=lambda: (fresh.apply([first_fee, second_fee], {("t", 0): 3}), resume.set())
    )
    full.start()
    held.join(timeout=30)
    full.join(timeout=30)
    return setup.read("SELECT version, fees_minor FROM intercepts")[0]


def test_batches_on_one_partition_take_turns_and_nothing_is_lost(postgres_server):
    row = race(postgres_server.create_database("turns"))
    assert row == {"version": 3, "fees_minor": 2400}


def test_without_the_checkpoint_lock_the_stale_batch_overwrites_the_newer_row(
    postgres_server, monkeypatch
):
    # The counter-test: it shows the race above is real, so the first test can fail.
    monkeypatch.setattr(Projector, "_take_turns", lambda self, cur, checkpoints: None)
    row = race(postgres_server.create_database("noturns"))
    assert row == {"version": 2, "fees_minor": 1200}  # the second fee is lost
