"""The projection and the aggregate follow one lifecycle, so they agree on every history.

The row function moves its status through domain/lifecycle.py and takes its conflicts
from the events, so whatever the domain decided is what the package center shows:
even when Kafka delivers events twice, late, or out of order.
"""

from datetime import timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from domain import intercept as rules
from domain import lifecycle
from domain.envelope import Envelope
from domain.lifecycle import Move
from domain.vocabulary import CarrierReport, Status
from projections.intercepts import row_after
from projections.projector import Projector
from projections.row import COLUMNS
from projections.schema import migrate
from storage.database import Database
from tests.strategies import timed_history


def _shown(state) -> tuple:
    """What the package center should show for an aggregate: status, conflicts, flags, code."""
    conflicts = ",".join(dict.fromkeys(c.value for c in state.conflicts)) or None
    code = state.rejection_code.value if state.rejection_code else None
    return state.status.value, conflicts, lifecycle.flags_text(state.flags), code, state.fees_minor


def _row_shows(row) -> tuple:
    return row["status"], row["conflict"], row["flags"], row["rejection_code"], row["fees_minor"]


@given(timed_history(max_steps=14))
def test_the_row_function_agrees_with_the_aggregate_after_every_event(history):
    row, state = None, None
    for event in history:
        row, state = row_after(row, event), rules.evolve(state, event)
        assert _row_shows(row) == _shown(state)
        assert row["version"] == state.version


_histories = st.lists(timed_history(), min_size=1, max_size=3).map(
    lambda hs: [
        [e.model_copy(update={"originator_id": UUID(int=100 + n)}) for e in h]
        for n, h in enumerate(hs)
    ]
)


@given(_histories, st.data())
def test_the_projector_agrees_with_the_aggregate_whatever_the_delivery(histories, data):
    """Duplicated and reordered delivery, in several batches, ends in the aggregate's status."""
    log = sorted((e for h in histories for e in h), key=lambda e: e.recorded_at)
    envelopes = [Envelope.of(e, position) for position, e in enumerate(log, start=1)]
    again = data.draw(st.lists(st.sampled_from(envelopes), max_size=len(envelopes)))
    delivery = data.draw(st.permutations(envelopes + again))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(delivery)), max_size=3)))
    db = Database("sqlite:///:memory:")
    migrate(db)
    projector = Projector(db)
    for start, end in zip([0, *cuts], [*cuts, len(delivery)], strict=True):
        projector.apply(delivery[start:end], {("test", 0): end})
    rows = {r["intercept_id"]: r for r in db.read("SELECT * FROM intercepts")}
    assert len(rows) == len(histories)
    for history in histories:
        state = rules.project_intercept(None, history)
        row = rows[str(state.id)]
        assert _row_shows(row) == _shown(state)
        assert row["version"] == state.version
    assert db.read("SELECT COUNT(*) AS n FROM pending_events")[0]["n"] == 0


def test_every_carrier_report_has_its_time_column():
    assert {f"{report.value}_at" for report in CarrierReport} <= set(COLUMNS)


def test_the_lifecycle_table_is_the_one_the_docs_draw():
    """docs/domain.md's diagram, as the table: where each fact takes each status."""
    moves = {
        (status, move): lifecycle.status_after(status, move) for status in Status for move in Move
    }
    changed = {key: to for key, to in moves.items() if to is not key[0]}
    assert changed == {
        (Status.REQUESTED, Move.ACCEPTED): Status.ACCEPTED,
        (Status.REQUESTED, Move.CONFIRMED): Status.INTERCEPTED,
        (Status.ACCEPTED, Move.CONFIRMED): Status.INTERCEPTED,
        (Status.REQUESTED, Move.FAILED): Status.FAILED,
        (Status.ACCEPTED, Move.FAILED): Status.FAILED,
        (Status.REQUESTED, Move.CANCEL): Status.CANCELLED,
        (Status.ACCEPTED, Move.CANCEL): Status.CANCELLED,
        (Status.REQUESTED, Move.REJECTED): Status.REJECTED,
        (Status.ACCEPTED, Move.REJECTED): Status.REJECTED,
        (Status.INTERCEPTED, Move.RETURNING): Status.RETURNING,
        (Status.INTERCEPTED, Move.RETURNED): Status.RETURNED,
        (Status.RETURNING, Move.RETURNED): Status.RETURNED,
        (Status.INTERCEPTED, Move.DELIVERED_TO_NEW_ADDRESS): Status.DELIVERED_TO_NEW_ADDRESS,
        # A journey step before the carrier's success implies it (callbacks reorder).
        **{
            (open_status, move): Status(move.value)
            for open_status in (Status.REQUESTED, Status.ACCEPTED)
            for move in (Move.RETURNING, Move.RETURNED, Move.DELIVERED_TO_NEW_ADDRESS)
        },
    }


def test_no_move_leaves_a_terminal_status():
    for status in lifecycle.TERMINAL:
        assert {lifecycle.status_after(status, move) for move in Move} == {status}
    assert lifecycle.TERMINAL == {
        Status.FAILED,
        Status.CANCELLED,
        Status.REJECTED,
        Status.RETURNED,
        Status.DELIVERED_TO_NEW_ADDRESS,
    }
    assert lifecycle.CANCELLABLE == lifecycle.OPEN == {Status.REQUESTED, Status.ACCEPTED}


# ---- the return journey reported out of order -------------------------------------------

_JOURNEYS = {
    "return_to_sender": ("confirmed", "returning", "returned"),
    "redirect": ("confirmed", "delivered_to_new_address"),
}


@st.composite
def _journey(draw):
    """An intercept whose carrier reports its journey (success included) in any order, some
    reports twice, some under a key (a callback's retry), maybe after the merchant's cancel."""
    from domain import policy as policies
    from tests import builders as b
    from tests.conftest import T0

    action = draw(st.sampled_from(sorted(_JOURNEYS)))
    iid = UUID(int=9)
    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    extra = {"recipient": b.RECIPIENT} if action == "redirect" else {}
    state = rules.request(
        b.request(action=action, **extra),
        intercept_id=iid,
        existing=None,
        policy=policy,
        parcel_history=(),
        now=T0,
    ).state
    steps = [(report, T0 + timedelta(hours=n + 1)) for n, report in enumerate(_JOURNEYS[action])]
    head = ["accepted"] if draw(st.booleans()) else []
    cancel_at = draw(st.none() | st.integers(0, len(head)))
    in_order = [(r, T0 + timedelta(minutes=1)) for r in head] + steps
    again = draw(st.lists(st.sampled_from(steps), max_size=3))
    arrival = [(r, T0 + timedelta(minutes=1)) for r in head] + draw(st.permutations(steps + again))
    keyed = draw(st.booleans())
    return iid, state, in_order, arrival, cancel_at, keyed


def _deliver(state, reports, cancel_at, keyed):
    """The domain's events for `reports` arriving in this order (a cancel after `cancel_at`
    of them), and the final state."""
    from tests import builders as b
    from tests.conftest import T0

    events = [state.request]
    for n in range(len(reports) + 1):
        if n == cancel_at:
            decision = rules.decide(state, b.cancel(state.id, occurred_at=T0), T0)
            events += decision.events
            state = decision.state
        if n == len(reports):
            break
        report, at = reports[n]
        key = f"cb-{report}" if keyed else None
        command = b.carrier(state.id, report, occurred_at=at, key=key)
        decision = rules.decide(state, command, T0 + timedelta(seconds=n + 1))
        events += decision.events
        state = decision.state
    return events, state


def _fold(events):
    row = None
    for event in events:
        row = row_after(row, event)
    return row


@given(_journey())
def test_a_journey_reported_out_of_order_ends_where_the_in_order_one_does(journey):
    """Reordered, repeated, or replayed callbacks: the same status, conflicts, flags and
    outcome as the carrier's own order; the intercepted time is known in either."""
    from projections.statistics import outcome_of
    from projections.timefmt import stamp

    _, start, in_order, arrival, cancel_at, keyed = journey
    ordered_events, ordered = _deliver(start, in_order, cancel_at, keyed)
    events, state = _deliver(start, arrival, cancel_at, keyed)
    replayed_events, replayed = _deliver(start, arrival + arrival, cancel_at, keyed)
    assert replayed_events == events and replayed == state  # a replay records nothing more
    row, ordered_row = _fold(events), _fold(ordered_events)
    assert _shown(state) == _shown(ordered) == _row_shows(row) == _row_shows(ordered_row)
    assert state.succeeded and state.was_intercepted
    assert outcome_of(row) == outcome_of(ordered_row)
    assert outcome_of(row) == ("cancelled" if cancel_at is not None else "succeeded")
    last = in_order[-1]
    assert row[f"{last[0]}_at"] == ordered_row[f"{last[0]}_at"] == stamp(last[1])
    # The intercepted time: the confirmation's own when it came first, otherwise the time
    # of the journey step that stood for it (domain/lifecycle.py `implies_success`).
    journey_first = next(at for r, at in arrival if r != "accepted")
    assert row["confirmed_at"] == stamp(journey_first)
    assert ordered_row["confirmed_at"] == stamp(in_order[-len(_JOURNEYS[row["action"]])][1])


@given(_journey(), st.data())
def test_the_projector_shows_a_reordered_journey_as_its_in_order_delivery_does(journey, data):
    """The events of a journey reported out of order, delivered by the feed reordered,
    duplicated and replayed: the row is exactly the in-order delivery's."""
    _, start, _, arrival, cancel_at, keyed = journey
    events, state = _deliver(start, arrival, cancel_at, keyed)
    envelopes = [Envelope.of(e, position) for position, e in enumerate(events, start=1)]
    again = data.draw(st.lists(st.sampled_from(envelopes), max_size=len(envelopes)))
    delivery = data.draw(st.permutations(envelopes + again)) + envelopes  # then a replay
    db = Database("sqlite:///:memory:")
    migrate(db)
    projector = Projector(db)
    cut = data.draw(st.integers(0, len(delivery)))
    projector.apply(delivery[:cut], {("test", 0): cut})
    projector.apply(delivery[cut:], {("test", 0): len(delivery)})
    (row,) = db.read("SELECT * FROM intercepts")
    assert dict(row) == {c: v for c, v in _fold(events).items() if c in row}
    assert _row_shows(row) == _shown(state)
