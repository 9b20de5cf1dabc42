"""The engine on its embedded default: SQLite event store, SQLite projections."""

import threading

import pytest

from domain.decision import Outcome
from domain.errors import NoPolicy, ParcelHasOpenIntercept
from projections import queries
from tests import builders as b


def test_no_policy_refuses_and_records_nothing(engine):
    with pytest.raises(NoPolicy):
        engine.execute(b.request())
    assert engine.app.recorder.max_notification_id() in (None, 0)


def test_a_query_right_after_a_command_sees_it(engine):
    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    engine.execute(b.cancel(iid))
    row = queries.get_intercept(engine.db, str(iid))
    assert row["status"] == "cancelled" and row["cancel_reason"] == "misoperation"
    engine.execute(b.carrier(iid, "confirmed"))
    row = queries.get_intercept(engine.db, str(iid))
    assert (row["status"], row["conflict"]) == ("cancelled", "intercepted_after_cancel")
    assert [e["event_type"] for e in queries.timeline(engine.db, str(iid))] == [
        "Requested",
        "Cancelled",
        "CarrierConfirmed",
    ]


def test_a_retried_request_is_recorded_once(engine):
    engine.execute(b.policy())
    first = engine.execute(b.request())
    again = engine.execute(b.request())
    assert again.outcome is Outcome.DUPLICATE and again.state.id == first.state.id
    assert engine.app.recorder.max_notification_id() == 3  # policy, request, parcel registry


def test_racing_requests_for_one_parcel_open_exactly_one_intercept(engine, tmp_path, clock):
    from engine.composition import build_engine

    engine.execute(b.policy())
    results: list = []

    def attempt(n: int) -> None:
        own = build_engine(engine.settings, clock=clock)  # its own connections, like a process
        try:
            results.append(own.execute(b.request(key=f"race-{n}")).outcome)
        except ParcelHasOpenIntercept as error:
            results.append(error.rule)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)) == ["one_open_intercept_per_parcel"] * 5 + ["recorded"]
    engine.catch_up()
    rows = queries.list_intercepts(engine.db, queries.Filters(tracking_no="ZT1000")).rows
    assert len(rows) == 1


def test_catch_up_after_a_restart_applies_only_what_is_new(engine, clock):
    from engine.composition import build_engine

    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    # A writer that leaves projecting to others, as commands do in Kafka mode.
    writer = build_engine(
        engine.settings.model_copy(update={"kafka_bootstrap": "unused"}), clock=clock
    )
    writer.execute(b.fee(iid))
    assert queries.get_intercept(engine.db, str(iid))["fees_minor"] == 0
    reopened = build_engine(engine.settings, clock=clock)
    assert reopened.catch_up() == 1
    assert reopened.catch_up() == 0
    assert queries.get_intercept(reopened.db, str(iid))["fees_minor"] == 1200
