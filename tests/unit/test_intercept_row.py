"""The row function: what the request fixes, nothing after it changes."""

from hypothesis import given
from hypothesis import strategies as st

from domain.events import INTERCEPT_EVENTS, Requested
from projections.intercepts import COLUMNS, FIXED_AT_REQUEST, MUTABLE, row_after
from tests.strategies import events_of

_LATER = [cls for cls in INTERCEPT_EVENTS if cls is not Requested]


@given(events_of(Requested), st.lists(st.sampled_from(_LATER).flatmap(events_of), max_size=12))
def test_no_event_after_the_request_changes_what_the_request_fixed(request, later):
    """The projector's update names only MUTABLE columns; this is why that loses nothing."""
    row = row_after(None, request)
    fixed = {c: row[c] for c in FIXED_AT_REQUEST}
    for event in later:
        row = row_after(row, event)
        assert {c: row[c] for c in FIXED_AT_REQUEST} == fixed


def test_every_column_is_either_fixed_at_the_request_or_mutable():
    assert set(MUTABLE) | FIXED_AT_REQUEST == set(COLUMNS)
    assert not set(MUTABLE) & FIXED_AT_REQUEST
