"""The projection on SQLite and PostgreSQL under the deliveries Kafka can make:
duplicates, reordering and replays all end in the same rows as one in-order pass."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.decode import decode
from domain.envelope import Envelope
from domain.vocabulary import Status
from engine.relay import message
from projections.projector import Projector
from projections.schema import migrate
from storage.database import Database
from tests.strategies import histories

_TABLES = ("intercepts", "intercept_events", "pending_events", "checkpoints")
# The factory below is reused across a test's hypothesis examples: it starts each one clean.
_REUSED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def fresh(backend, request):
    """Makes empty projections; on PostgreSQL it takes turns between two emptied databases."""
    if backend == "sqlite":
        return lambda: _migrated(Database("sqlite:///:memory:"))
    server = request.getfixturevalue("postgres_server")
    databases = itertools.cycle(
        [_migrated(Database(server.create_database("delivery"))) for _ in range(2)]
    )

    def emptied() -> Projector:
        projector = next(databases)
        with projector.db.transaction() as cur:
            for table in _TABLES:
                cur.execute(f"DELETE FROM {table}")
        return projector

    return emptied


def _migrated(db: Database) -> Projector:
    migrate(db)
    return Projector(db)


def tables(projector: Projector) -> tuple:
    db = projector.db
    return (
        db.read("SELECT * FROM intercepts ORDER BY intercept_id"),
        db.read("SELECT * FROM intercept_events ORDER BY intercept_id, version"),
        db.read("SELECT * FROM pending_events"),
    )


def envelopes(events) -> list[Envelope]:
    """As a consumer gets them: through the relay's Kafka record and back."""
    return [
        decode(message(Envelope.of(e, position=n))["value"]) for n, e in enumerate(events, start=1)
    ]


def deliver(projector: Projector, messages: list[Envelope], cuts: list[int]) -> None:
    start = 0
    for cut in sorted({*cuts, len(messages)}):
        projector.apply(messages[start:cut], {("test", 0): cut})
        start = cut


@_REUSED
@given(history=histories(), data=st.data())
def test_duplicates_and_replays_give_the_same_rows(fresh, history, data):
    reference = fresh()
    reference.apply(envelopes(history), {})
    messages = envelopes(history)
    extra = data.draw(st.lists(st.sampled_from(messages), max_size=len(messages)))
    noisy = data.draw(st.permutations(messages + extra))
    cuts = data.draw(st.lists(st.integers(0, len(noisy)), max_size=4))
    projector = fresh()
    deliver(projector, noisy, cuts)
    deliver(projector, messages, [])  # a full replay on top changes nothing
    assert tables(projector) == tables(reference)


@_REUSED
@given(history=histories())
def test_an_event_arriving_before_its_predecessor_waits_for_it(fresh, history):
    messages = envelopes(history)
    projector = fresh()
    last = messages[-1]
    projector.apply([last], {})
    rows, timeline, pending = tables(projector)
    if last.version > 1:
        assert rows == [] or rows[0]["version"] < last.version
        assert len(pending) == 1
    projector.apply(messages, {})
    reference = fresh()
    reference.apply(messages, {})
    assert tables(projector) == tables(reference)


@_REUSED
@given(history=histories(), data=st.data())
def test_a_cancelled_row_never_leaves_cancelled(fresh, history, data):
    messages = envelopes(history)
    projector = fresh()
    seen_cancelled: set[str] = set()
    for delivered in data.draw(st.permutations(messages)):
        projector.apply([delivered], {})
        for row in projector.db.read("SELECT intercept_id, status FROM intercepts"):
            if row["intercept_id"] in seen_cancelled:
                assert row["status"] == Status.CANCELLED.value
            if row["status"] == Status.CANCELLED.value:
                seen_cancelled.add(row["intercept_id"])


def test_positions_are_stored_with_the_rows(fresh):
    projector = fresh()
    projector.apply([], {("intercept.events", 3): 41, ("intercept.events", 1): 7})
    assert projector.positions("intercept.events") == {1: 7, 3: 41}
