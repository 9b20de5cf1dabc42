"""Many commands in one transaction: the rules hold inside a batch as between commands."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.decision import Decision, Outcome
from domain.errors import DomainError, NoPolicy, NotCancellable, ParcelHasOpenIntercept
from domain.ids import intercept_id, policy_id
from projections import queries
from tests import builders as b
from tests.conftest import StepClock


def _iid(key: str = "k1"):
    return intercept_id("m1", key)


def test_a_second_request_for_the_same_parcel_in_one_batch_is_refused(engine):
    engine.execute(b.policy())
    first, second = engine.execute_many([b.request("k1"), b.request("k2", order_id="o2")])
    assert first.outcome is Outcome.RECORDED
    assert isinstance(second, ParcelHasOpenIntercept)
    assert engine.app.recorder.max_notification_id() == 3  # policy, request, parcel registry
    rows = queries.list_intercepts(engine.db, queries.Filters(tracking_no="ZT1000")).rows
    assert [r["intercept_id"] for r in rows] == [str(_iid("k1"))]


def test_each_command_sees_the_earlier_ones(engine):
    engine.execute(b.policy())
    iid = _iid()
    results = engine.execute_many(
        [
            b.request(),
            b.request(),  # a retry with the same key inside the batch
            b.cancel(iid),
            b.cancel(iid),
            b.carrier(iid, "confirmed"),
            b.request("k2"),  # the parcel was intercepted (after the cancel): never again
        ]
    )
    assert [_answer(r)[0] for r in results] == [
        "recorded",
        "duplicate",
        "recorded",
        "already_cancelled",
        "recorded",
        "refused",
    ]
    assert results[-1].rule == "no_reintercept_after_success"
    row = queries.get_intercept(engine.db, str(iid))
    assert (row["status"], row["conflict"], row["version"]) == (
        "cancelled",
        "intercepted_after_cancel",
        3,
    )


def test_a_refused_command_records_nothing_and_the_others_go_on(engine):
    engine.execute(b.policy())
    iid = _iid()
    results = engine.execute_many(
        [
            b.request(),
            b.carrier(iid, "confirmed"),
            b.cancel(iid),  # cancel after success
            b.request("k9", merchant_id="nobody"),
            b.fee(iid),
        ]
    )
    assert isinstance(results[2], NotCancellable) and isinstance(results[3], NoPolicy)
    assert [r.outcome for r in results if isinstance(r, Decision)] == [Outcome.RECORDED] * 3
    assert [e["event_type"] for e in queries.timeline(engine.db, str(iid))] == [
        "Requested",
        "CarrierConfirmed",
        "FeeCharged",
    ]


def test_all_events_of_a_batch_are_recorded_in_one_transaction(engine, monkeypatch):
    engine.execute(b.policy())
    saves: list[int] = []
    original = engine.app.record
    monkeypatch.setattr(
        engine.app, "record", lambda events: saves.append(len(events)) or original(events)
    )
    engine.execute_many([b.request(f"k{n}", tracking_no=f"ZT{n}") for n in range(50)])
    assert saves == [100]  # 50 requests and their 50 parcel registrations, saved once


def test_a_command_that_is_not_valid_stops_the_batch_before_anything_is_recorded(engine):
    engine.execute(b.policy())
    with pytest.raises(ValueError, match="idempotency key"):
        engine.execute_many([b.request("k1"), b.request(None, tracking_no="ZT2")])
    assert engine.app.recorder.max_notification_id() == 1


# ---- a batch decides exactly as the same commands one by one --------------

_KEYS = st.sampled_from(["k1", "k2", "k3"])
_PARCELS = st.sampled_from(["ZT1", "ZT2"])


def _command(kind: str, key: str, parcel: str):
    iid = _iid(key)
    return {
        "request": lambda: b.request(key, tracking_no=parcel, order_id=f"o-{key}"),
        "cancel": lambda: b.cancel(iid),
        "accepted": lambda: b.carrier(iid, "accepted"),
        "confirmed": lambda: b.carrier(iid, "confirmed"),
        "failed": lambda: b.carrier(iid, "failed"),
        "released": lambda: b.carrier(iid, "released"),
        "fee": lambda: b.fee(iid),
    }[kind]()


_COMMANDS = st.lists(
    st.builds(
        _command,
        st.sampled_from(
            ["request", "request", "cancel", "accepted", "confirmed", "failed", "released", "fee"]
        ),
        _KEYS,
        _PARCELS,
    ),
    max_size=12,
)


def _answer(result) -> tuple:
    if isinstance(result, DomainError):
        return ("refused", result.rule)
    return (result.outcome.value, [e.model_dump() for e in result.events])


def _executed_one_by_one(engine, command):
    try:
        return engine.execute(command)
    except DomainError as refusal:
        return refusal


def _rows(engine) -> list:
    return engine.db.read("SELECT * FROM intercepts ORDER BY intercept_id") + engine.db.read(
        "SELECT * FROM intercept_events ORDER BY intercept_id, version"
    )


@settings(max_examples=25)
@given(commands=_COMMANDS)
def test_a_batch_decides_as_the_same_commands_one_by_one(commands):
    from engine.composition import build_engine
    from engine.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        single = build_engine(Settings(home=Path(tmp) / "single"), clock=StepClock())
        batched = build_engine(Settings(home=Path(tmp) / "batched"), clock=StepClock())
        try:
            for engine in (single, batched):
                engine.execute(b.policy())
            one_by_one = [_executed_one_by_one(single, c) for c in commands]
            together = batched.execute_many(commands)
            assert [_answer(r) for r in together] == [_answer(r) for r in one_by_one]
            assert _rows(batched) == _rows(single)
        finally:
            single.close()
            batched.close()


def test_the_store_reads_several_aggregates_in_one_query(engine):
    """Each aggregate's events in version order; an aggregate with none maps to []."""
    engine.execute(b.policy())
    iid = _iid()
    engine.execute(b.request())
    engine.execute(b.cancel(iid))
    unknown = _iid("never")
    found = engine.app.recorder.select_events_of([iid, unknown, policy_id("m1")])
    assert [(s.topic, s.originator_version) for s in found[iid]] == [
        ("Requested", 1),
        ("Cancelled", 2),
    ]
    assert found[unknown] == []
    assert [s.topic for s in found[policy_id("m1")]] == ["PolicySet"]
    assert all(s.originator_id == iid for s in found[iid])


def test_a_batch_larger_than_one_query_reads_every_aggregate(engine):
    engine.execute(b.policy())
    commands = [b.request(f"k{i}", order_id=f"o{i}", tracking_no=f"T{i}") for i in range(600)]
    results = engine.execute_many(commands)
    assert [_answer(r)[0] for r in results] == ["recorded"] * 600
    again = engine.execute_many(commands[:3] + [b.cancel(_iid("k599"))])
    assert [_answer(r)[0] for r in again] == ["duplicate"] * 3 + ["recorded"]
