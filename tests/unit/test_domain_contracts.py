"""What the domain promises to the outside: rule names, ids and field bounds.

These are contracts: the rule names are what API and CLI users match on (docs/domain.md),
the ids are stored and published, and the bounds say what can ever be recorded.
"""

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from domain import errors
from domain.errors import DomainError
from domain.event import UnknownEventType, UnknownSchemaVersion
from domain.ids import NAMESPACE, event_id, event_id_text, intercept_id, parcel_id, policy_id
from domain.types import Code, Currency, IdempotencyKey, MinorAmount, Moment, Sha256, Text

DOCS = Path(__file__).parents[2] / "docs" / "domain.md"


def _documented_rules() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(), flags=re.MULTILINE))


def _refusals() -> list[type[DomainError]]:
    found = [e for e in vars(errors).values() if isinstance(e, type) and issubclass(e, DomainError)]
    return [e for e in found if e is not DomainError]


def test_every_rule_a_refusal_names_is_documented_with_that_name():
    assert {e.rule for e in _refusals()} == _documented_rules()


def test_every_refusal_names_its_own_rule():
    rules = [e.rule for e in _refusals()]
    assert len(rules) == len(set(rules))
    assert DomainError.rule not in rules


def test_a_refusal_keeps_its_message_for_the_user():
    refusal = errors.NotCancellable("intercept x is failed")
    assert refusal.message == "intercept x is failed" == str(refusal)


def test_reading_refusals_name_their_rules():
    assert UnknownSchemaVersion.rule == "known_schema_version"
    assert UnknownEventType.rule == "known_event_type"


def test_ids_are_stable_across_releases():
    """Stored and published: the same natural key must give the same id forever."""
    assert NAMESPACE == UUID("efe96eba-ae4b-548f-847f-f08dbf8d71ec")
    assert intercept_id("m1", "k1") == UUID("28a58834-e999-503a-948d-c52f6a9f9ece")
    assert policy_id("m1") == UUID("360e8d61-28ab-5ae0-a40f-8e75024d5840")
    assert parcel_id("ZTO", "ZT1") == UUID("df122e85-abbd-531b-a7ec-000faa39ab76")
    assert event_id(UUID(int=1), 2) == UUID("d8c02c8f-5fb8-5826-bc09-edea257c6d22")


@given(st.uuids(), st.integers(1, 2**63 - 1))
def test_an_event_ids_text_is_the_text_of_its_uuid(originator_id, version):
    assert event_id_text(originator_id, version) == str(event_id(originator_id, version))


def _valid(annotation, value) -> bool:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("annotation", "accepted", "refused"),
    [
        (Code, ["a", "A" * 64, "m1-staff_2.x:y@z"], ["", "A" * 65, "-lead", "a b", "é"]),
        (Text, ["", "line\nline", "x" * 1000], ["x" * 1001, "bell\x07", "del\x7f"]),
        (IdempotencyKey, ["k", "~" * 128], ["", "k" * 129, "with space", "tab\t"]),
        (MinorAmount, [0, 10**12], [-1, 10**12 + 1]),
        (Currency, ["CNY"], ["cny", "CN", "CNYY"]),
        (Sha256, ["a" * 64], ["A" * 64, "a" * 63, "g" * 64]),
    ],
)
def test_field_bounds(annotation, accepted, refused):
    assert all(_valid(annotation, v) for v in accepted)
    assert not any(_valid(annotation, v) for v in refused)


@pytest.mark.parametrize(
    ("moment", "valid"),
    [
        (datetime(2000, 1, 1, tzinfo=UTC), True),
        (datetime(2200, 12, 31, 23, 59, tzinfo=UTC), True),
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2201, 1, 1, tzinfo=UTC), False),
        (datetime(2026, 11, 20, 8, 0), False),  # naive: refused, never guessed
    ],
)
def test_a_moment_has_a_zone_and_a_plausible_year(moment, valid):
    assert _valid(Moment, moment) is valid


def test_a_moment_keeps_its_zone():
    shanghai = datetime(2026, 11, 20, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    kept = TypeAdapter(Moment).validate_python(shanghai)
    assert kept.utcoffset() == timedelta(hours=8)


def test_an_implausible_year_is_refused_saying_why():
    with pytest.raises(
        ValidationError, match=r"Value error, must be between the years 2000 and 2200 \["
    ):
        TypeAdapter(Moment).validate_python(datetime(1970, 1, 1, tzinfo=UTC))
