"""The projection and the aggregate follow one lifecycle, so they agree on every history.

The row function moves its status through domain/lifecycle.py and takes its conflicts
from the events, so whatever the domain decided is what the package center shows:
even when Kafka delivers events twice, late, or out of order.
"""

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
