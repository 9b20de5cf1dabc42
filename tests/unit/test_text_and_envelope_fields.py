"""The front doors' text rule and the one envelope builder, as pure functions."""

import re
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.envelope import envelope_fields
from domain.ids import event_id
from domain.text import (
    INPUT_TEXT_PATTERN,
    REFUSED_CHARACTERS,
    REFUSED_TEXT_MESSAGE,
    input_text,
    refused_character,
)

TAKEN = st.text(alphabet=st.characters(exclude_characters=REFUSED_CHARACTERS))


@given(st.sampled_from(sorted(REFUSED_CHARACTERS)), TAKEN, TAKEN)
def test_a_refused_character_anywhere_is_named_by_its_code_point(bad, before, after):
    text = before + bad + after
    assert refused_character(text) == bad
    with pytest.raises(ValueError) as refused:
        input_text(text)
    assert str(refused.value) == f"{REFUSED_TEXT_MESSAGE} (found U+{ord(bad):04X})"


@given(TAKEN)
def test_text_without_them_is_taken_unchanged(text):
    assert refused_character(text) is None
    assert input_text(text) == text


def test_the_first_of_several_is_the_one_named():
    assert refused_character("a\u202eb\u009bc") == "\u202e"


def test_the_published_pattern_refuses_exactly_the_same_characters():
    pattern = re.compile(INPUT_TEXT_PATTERN)
    for code in range(0x3000):
        char = chr(code)
        assert (pattern.match(char) is None) == (char in REFUSED_CHARACTERS), hex(code)


def test_the_refused_set_is_the_documented_one():
    expected = (
        set(range(0x00, 0x09))
        | {0x0B, 0x0C}
        | set(range(0x0E, 0x20))
        | set(range(0x7F, 0xA0))
        | set(range(0x202A, 0x202F))
        | set(range(0x2066, 0x206A))
    )
    assert {ord(c) for c in REFUSED_CHARACTERS} == expected


IID = UUID(int=7)


def _state(**extra):
    return {
        "merchant_id": "m1",
        "actor": "ops",
        "occurred_at": "2026-11-26T10:00:00Z",
        "recorded_at": "2026-11-26T10:00:01Z",
        "reason": "misoperation",
        **extra,
    }


def test_the_envelope_takes_its_fields_from_the_stored_state_in_published_order():
    fields = envelope_fields("Cancelled", IID, 3, 42, _state(class_version=2))
    assert list(fields) == [
        "event_id", "event_type", "schema_version", "intercept_id", "merchant_id", "version",
        "position", "occurred_at", "recorded_at", "actor", "payload",
    ]  # fmt: skip
    assert fields == {
        "event_id": str(event_id(IID, 3)),
        "event_type": "Cancelled",
        "schema_version": 2,
        "intercept_id": str(IID),
        "merchant_id": "m1",
        "version": 3,
        "position": 42,
        "occurred_at": "2026-11-26T10:00:00Z",
        "recorded_at": "2026-11-26T10:00:01Z",
        "actor": "ops",
        # The payload is the fact: no bookkeeping (`recorded_at`, the class version) left in it.
        "payload": {
            "merchant_id": "m1",
            "actor": "ops",
            "occurred_at": "2026-11-26T10:00:00Z",
            "reason": "misoperation",
        },
    }


def test_a_state_without_a_class_version_is_schema_version_1():
    assert envelope_fields("Cancelled", IID, 1, 1, _state())["schema_version"] == 1


@pytest.mark.parametrize("missing", ["recorded_at", "merchant_id", "occurred_at", "actor"])
def test_a_state_lacking_a_field_is_a_key_error_naming_it(missing):
    state = _state()
    del state[missing]
    with pytest.raises(KeyError, match=missing):
        envelope_fields("Cancelled", IID, 1, 1, state)
