"""The projection tables' text form of instants: UTC, microseconds, sortable as text."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from pydantic import AwareDatetime, TypeAdapter

from projections.timefmt import stamp

# Events hold the times pydantic parsed, with its own tzinfo type.
_PARSED = TypeAdapter(AwareDatetime)

_OFFSETS = st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-23 * 60, 23 * 60))
_MOMENTS = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.none() | st.just(UTC) | _OFFSETS,
)


@given(_MOMENTS)
def test_stamp_is_the_utc_strftime_form(moment):
    assert stamp(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@given(_MOMENTS, _MOMENTS)
def test_stamps_sort_as_their_instants(a, b):
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    if a.year >= 1000 and b.year >= 1000:
        assert (stamp(a) < stamp(b)) == (a < b)


@given(_MOMENTS.filter(lambda m: m.tzinfo is not None))
def test_a_parsed_time_stamps_as_the_same_instant_made_by_hand(moment):
    parsed = _PARSED.validate_python(moment.isoformat())
    assert stamp(parsed) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
