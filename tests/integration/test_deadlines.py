"""The deadline process over a real event store: each deadline recorded once, only rows
that are due read on a tick, policies changed later followed, and the watch rebuilt from
the log alone (it never reads the clock)."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.commands import MarkStalled
from domain.events import InterceptStalled
from engine.automation import Deadlines
from engine.composition import build_engine, deadline_watch, event_store_db
from engine.store.deadlines import DUE, WATCHER
from engine.store.positions import ProcessPositions
from tests import builders

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now, self.reads = now, 0

    def __call__(self) -> datetime:
        self.reads += 1
        return self.now


@pytest.fixture
def world(store_settings):
    settings = store_settings.model_copy(update={"automation_inline": False})
    engine = build_engine(settings)
    yield settings, engine
    engine.close()


def _policy(engine, at=NOW, **deadlines) -> None:
    engine.execute(builders.policy(occurred_at=at, **deadlines))


def _request(engine, n: int, at: datetime = NOW):
    return engine.execute(
        builders.request(key=f"k{n}", order_id=f"o{n}", tracking_no=f"ZT{n:05d}", occurred_at=at)
    ).state.id


def _stalls(engine) -> list[tuple[str, str]]:
    return [
        (str(e.originator_id), e.deadline)
        for _, e in engine.read_intercept_log(0, 100_000)
        if isinstance(e, InterceptStalled)
    ]


def _counting(engine) -> list:
    """The MarkStalled commands the process issues, as it issues them."""
    issued: list = []
    execute = engine.execute

    def counted(command):
        if isinstance(command, MarkStalled):
            issued.append(command)
        return execute(command)

    engine.execute = counted
    return issued


def test_a_passed_deadline_is_recorded_once_and_raises_the_stalled_flag(world):
    settings, engine = world
    _policy(engine, accept_within_minutes=120, outcome_within_minutes=48 * 60)
    _request(engine, 1)
    clock = Clock(NOW + timedelta(minutes=119))
    deadlines = Deadlines(engine, deadline_watch(settings), clock)
    assert deadlines.run_once() == 0
    clock.now = NOW + timedelta(minutes=121)
    assert deadlines.run_once() == 1
    assert deadlines.run_once() == 0  # once per deadline
    clock.now = NOW + timedelta(hours=49)
    assert deadlines.run_once() == 1  # the outcome deadline, later
    assert [d for _, d in _stalls(engine)] == ["acceptance", "outcome"]
    engine.catch_up()
    (row,) = engine.db.read("SELECT flags, status FROM intercepts")
    assert (row["flags"], row["status"]) == ("stalled", "requested")


def test_a_tick_reads_only_what_is_due_not_every_open_intercept(world):
    settings, engine = world
    _policy(engine, accept_within_minutes=120)
    late = [_request(engine, n, NOW - timedelta(hours=3)) for n in range(3)]
    for n in range(3, 203):
        _request(engine, n)  # open, and not due for two hours
    watch = deadline_watch(settings)
    issued = _counting(engine)
    clock = Clock(NOW + timedelta(minutes=1))
    deadlines = Deadlines(engine, watch, clock)
    deadlines.follow()
    assert len(watch.due(clock.now, 1000)) == 3  # what a tick reads: the due rows alone
    assert deadlines.run_once() == 3
    assert sorted(c.intercept_id for c in issued) == sorted(late)
    assert watch.watched() == 200  # the three checked are dropped; the rest wait their turn
    issued.clear()
    assert deadlines.run_once() == 0 and issued == []
    if settings.event_store is None:  # SQLite: the tick's query walks the due index
        plan = event_store_db(settings).read("EXPLAIN QUERY PLAN " + DUE, (0, 10))
        assert any("deadline_watch_due" in str(dict(r)) for r in plan), plan


def test_an_intercept_the_carrier_answered_in_time_is_checked_once_and_not_stalled(world):
    settings, engine = world
    _policy(engine, accept_within_minutes=60, outcome_within_minutes=600)
    iid = _request(engine, 1)
    engine.execute(builders.carrier(iid, "accepted", occurred_at=NOW + timedelta(minutes=5)))
    issued = _counting(engine)
    clock = Clock(NOW + timedelta(minutes=61))
    deadlines = Deadlines(engine, deadline_watch(settings), clock)
    assert deadlines.run_once() == 0
    assert [c.deadline for c in issued] == ["acceptance"]
    assert deadlines.run_once() == 0 and len(issued) == 1  # never checked again
    clock.now = NOW + timedelta(minutes=601)
    assert deadlines.run_once() == 1
    assert _stalls(engine) == [(str(iid), "outcome")]


def test_a_policy_set_later_moves_the_due_moments_of_open_intercepts(world):
    settings, engine = world
    _policy(engine)  # no deadlines yet
    first, second = _request(engine, 1), _request(engine, 2)
    clock = Clock(NOW + timedelta(hours=5))
    deadlines = Deadlines(engine, deadline_watch(settings), clock)
    assert deadlines.run_once() == 0
    _policy(engine, at=NOW + timedelta(hours=5), accept_within_minutes=240)
    assert deadlines.run_once() == 2  # counted from each request, as the rule says
    _policy(engine, at=NOW + timedelta(hours=5), accept_within_minutes=240)
    third = _request(engine, 3, NOW + timedelta(hours=5))
    _policy(engine, at=NOW + timedelta(hours=5))  # the deadline dropped again
    clock.now = NOW + timedelta(hours=20)
    assert deadlines.run_once() == 0
    assert sorted(_stalls(engine)) == sorted(
        [(str(first), "acceptance"), (str(second), "acceptance")]
    )
    assert str(third) not in {i for i, _ in _stalls(engine)}


def test_the_watch_is_built_from_the_log_alone(world):
    settings, engine = world
    _policy(engine, accept_within_minutes=30, outcome_within_minutes=90)
    for n in range(5):
        _request(engine, n, NOW + timedelta(minutes=n))
    _policy(engine, accept_within_minutes=45, outcome_within_minutes=90)
    watch = deadline_watch(settings)
    never = Clock(NOW)
    deadlines = Deadlines(engine, watch, never)
    assert deadlines.follow() == 7 and never.reads == 0
    due = watch.due(NOW + timedelta(days=1), 100)
    # From position 0 again, on fresh tables: the same rows, due at the same moments.
    db = event_store_db(settings)
    with db.transaction() as cur:
        cur.execute("DROP TABLE deadline_watch")
        cur.execute("DROP TABLE deadline_limits")
    ProcessPositions(db).set(WATCHER, 0)
    again = deadline_watch(settings)
    assert Deadlines(engine, again, never).follow() == 7 and never.reads == 0
    assert again.due(NOW + timedelta(days=1), 100) == due
    assert {(d.deadline, d.minutes) for d in due} == {("acceptance", 45), ("outcome", 90)}
    assert len(due) == 10
