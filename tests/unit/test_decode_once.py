"""A consumed message is validated once, as its event, and that accepts exactly what the
full decoding accepts: the same event and position, the same poison named for the rest."""

import orjson
from hypothesis import given
from hypothesis import strategies as st

from consumers.decode import Poison, _decoded, _received, receive
from tests.fuzz.poison import poison, published, valid_messages
from tests.strategies import histories


def _full(value: bytes | None):
    envelope, typed = _decoded(value)
    return typed, envelope.position


def _loaded(value: bytes | None):
    try:
        return orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        return None


@given(messages=valid_messages)
def test_a_valid_message_is_validated_once_into_the_same_event(messages):
    for value in messages:
        once = _received(orjson.loads(value))
        assert once is not None, value  # the one-validation path is the one taken
        assert (once.typed, once.position) == _full(value)


def _repeated_differs(value: bytes, field: str, other: object) -> bytes:
    raw = orjson.loads(value)
    raw[field] = other
    return orjson.dumps(raw)


@given(
    history=histories(max_intercepts=2, max_steps=4),
    field=st.sampled_from(["merchant_id", "actor", "occurred_at"]),
    other=st.sampled_from(["m-other", "2026-03-01T10:00:00+08:00", 5, None]),
)
def test_an_envelope_that_disagrees_with_its_payload_is_decided_the_full_way(history, field, other):
    for value in published(history):
        changed = _repeated_differs(value, field, other)
        assert _received(orjson.loads(changed)) is None
        try:
            expected = _full(changed)
        except Poison as named:
            try:
                receive(changed)
            except Poison as also:
                assert (also.kind, also.detail) == (named.kind, named.detail)
            else:
                raise AssertionError("the full path refuses what receive accepted") from None
        else:
            got = receive(changed)
            assert (got.typed, got.position) == expected


@given(cases=st.lists(poison(), min_size=1, max_size=8))
def test_poison_is_named_as_the_full_decoding_names_it(cases):
    for value, _surely in cases:
        once = _received(_loaded(value))
        try:
            expected = _full(value)
        except Poison as named:
            assert once is None, value
            try:
                receive(value)
            except Poison as also:
                assert (also.kind, also.detail) == (named.kind, named.detail)
            else:
                raise AssertionError(f"receive accepted poison {value!r}") from None
            continue
        got = receive(value)
        assert (got.typed, got.position) == expected
        if once is not None:
            assert (once.typed, once.position) == expected
