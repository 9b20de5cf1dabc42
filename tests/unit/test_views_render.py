"""Views never crash: any history the domain accepts renders at any cut-off, by either clock.

A carrier may date its report before the merchant's request (its clock, its time zone,
a late batch upload): the domain records it, so every view must show it.
"""

from datetime import timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from domain import intercept as rules
from domain.events import Requested
from projections.point_in_time import Cutoff, intercept_as_of, write_batch
from projections.schema import migrate
from storage.database import Database
from tests import builders as b
from tests.conftest import T0
from tests.strategies import timed_history

IID = UUID(int=7)
CUTOFFS = st.integers(-4 * 86_400, 4 * 86_400).map(lambda s: T0 + timedelta(seconds=s))
CLOCKS = st.sampled_from(["recorded", "occurred"])


def _history_with_early_report() -> list:
    from domain import policy as policies

    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    requested = rules.request(
        b.request(occurred_at=T0),
        intercept_id=IID,
        existing=None,
        policy=policy,
        parcel_history=(),
        now=T0,
    )
    early = T0 - timedelta(hours=2)
    accepted = rules.report(
        requested.state, b.carrier(IID, "accepted", occurred_at=early), T0 + timedelta(seconds=1)
    )
    return [*requested.events, *accepted.events]


def test_a_report_dated_before_the_request_is_not_shown_before_the_request():
    history = _history_with_early_report()
    row, timeline = intercept_as_of(history, Cutoff(T0 - timedelta(hours=1), "occurred"))
    assert (row, timeline) == (None, [])


def test_a_report_dated_before_the_request_is_shown_once_the_request_is():
    row, timeline = intercept_as_of(_history_with_early_report(), Cutoff(T0, "occurred"))
    assert row is not None and row["status"] == "accepted"
    assert [entry["event_type"] for entry in timeline] == ["Requested", "CarrierAccepted"]


@given(timed_history(), CUTOFFS, CLOCKS)
def test_every_history_renders_at_every_cutoff(history, at, clock):
    row, timeline = intercept_as_of(history, Cutoff(at, clock))
    kept = [e for e in history if _kept(e, history, at, clock)]
    assert [entry["version"] for entry in timeline] == [e.originator_version for e in kept]
    # An intercept is in a view exactly when its request is.
    assert (row is None) == (not kept)
    if row is not None:
        assert row["version"] == kept[-1].originator_version


@given(st.lists(timed_history(), min_size=1, max_size=3), CUTOFFS, CLOCKS)
def test_the_point_in_time_database_renders_every_history(histories, at, clock):
    """The same histories as `intercept replay --as-of/--occurred-as-of` writes them."""
    histories = [
        [e.model_copy(update={"originator_id": UUID(int=100 + n)}) for e in h]
        for n, h in enumerate(histories)
    ]
    log = sorted((e for h in histories for e in h), key=lambda e: e.recorded_at)
    cutoff = Cutoff(at, clock)
    db = Database("sqlite:///:memory:")
    migrate(db)
    write_batch(db, [e for e in log if cutoff.keeps(e)])
    rows = {r["intercept_id"]: r for r in db.read("SELECT * FROM intercepts")}
    for history in histories:
        row, _ = intercept_as_of(history, Cutoff(at, clock))
        assert rows.get(str(history[0].originator_id)) == row


def _kept(event, history, at, clock) -> bool:
    if clock == "recorded":
        return event.recorded_at <= at  # recorded times only move forward
    request = history[0]
    assert isinstance(request, Requested)
    return request.occurred_at <= at and event.occurred_at <= at
