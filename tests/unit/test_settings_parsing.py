"""The settings read a value as pydantic reads one: the same values accepted, the same
refusals, each naming its field.

`Settings` is a dataclass so that a command starts without building a pydantic model;
here a pydantic model with the same bounds stands beside it as the reference.
"""

import math

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from engine.settings import Settings


class Reference(BaseModel):
    """A few settings of each kind, declared as pydantic would declare them."""

    partitions: int = Field(default=6, ge=1, le=1000)
    ready_max_lag: int = Field(default=1000, ge=0)
    db_timeout: float = Field(default=10.0, gt=0, le=600)
    carrier_retry_horizon: float = Field(default=600.0, gt=0, le=7 * 86400)
    automation_inline: bool = True
    topic: str = "intercept.events"


_WORDS = [
    "",
    " 7 ",
    "+5",
    "-0",
    "007",
    "5.0",
    "2.5",
    "5.00",
    "1e3",
    "0x10",
    "\t5\n",
    "eight",
    "nan",
    "inf",
    "-inf",
    "yes",
    "No",
    "on",
    "OFF",
    "t",
    "F",
    "1",
    "0",
    "2",
    "true ",
]
# What an environment variable or a flag holds: numbers in their usual forms, booleans'
# words, and the values a program passes.
values = st.one_of(
    st.sampled_from(_WORDS),
    st.integers(-10, 2_000_000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10, 2000),
    st.floats(-10, 1e6, allow_nan=False),
    st.booleans(),
)


def _read(model, field: str, value):
    try:
        got = getattr(model(**{field: value}), field)
    except ValidationError as refused:
        return "refused", [(e["type"], e["loc"]) for e in refused.errors()]
    return "read", repr(got) if isinstance(got, float) and math.isnan(got) else got


@given(field=st.sampled_from(list(Reference.model_fields)), value=values)
def test_a_value_is_read_or_refused_as_pydantic_reads_it(field, value):
    assert _read(Settings, field, value) == _read(Reference, field, value)


@given(field=st.sampled_from(list(Reference.model_fields)), value=st.text(max_size=6))
def test_whatever_else_is_typed_is_read_no_more_leniently_than_pydantic_reads_it(field, value):
    # pydantic-core's odd corners need not be copied; what the settings take, pydantic
    # takes as the same value.
    mine = _read(Settings, field, value)
    if mine[0] == "read":
        assert mine == _read(Reference, field, value)


def test_digits_grouped_with_underscores_are_refused_for_every_number():
    # pydantic takes "1_0" as a float and an int, but " 1_0 " only as an int.
    for field, value in [("partitions", "1_0"), ("db_timeout", "1_0"), ("db_timeout", " 1_0 ")]:
        assert _read(Settings, field, value)[0] == "refused", (field, value)


def test_every_refusal_names_its_field_at_once():
    try:
        Settings.from_env({"INTERCEPT_PARTITIONS": "0", "INTERCEPT_DB_TIMEOUT": "soon"})
    except ValidationError as refused:
        assert [e["loc"] for e in refused.errors()] == [("partitions",), ("db_timeout",)]
    else:
        raise AssertionError("refused nothing")
