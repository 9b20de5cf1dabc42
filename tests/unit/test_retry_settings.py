"""The carrier gateway's retry schedule is four settings, strictly read."""

import pytest
from pydantic import ValidationError

from engine.carrier_gateway import Backoff
from engine.composition import retry_schedule
from engine.settings import Settings


def test_the_defaults_are_the_documented_schedule():
    assert retry_schedule(Settings()) == Backoff(first=1.0, cap=60.0, attempts=8, within=600.0)


def test_the_environment_sets_the_schedule():
    settings = Settings.from_env(
        {
            "INTERCEPT_CARRIER_RETRY_ATTEMPTS": "3",
            "INTERCEPT_CARRIER_RETRY_HORIZON": "120",
            "INTERCEPT_CARRIER_RETRY_BASE": "0.5",
            "INTERCEPT_CARRIER_RETRY_CAP": "4",
        }
    )
    assert retry_schedule(settings) == Backoff(first=0.5, cap=4.0, attempts=3, within=120.0)
    assert Settings.from_env(settings.as_env()) == settings  # handed on to a child as is


@pytest.mark.parametrize(
    "name, value",
    [
        ("INTERCEPT_CARRIER_RETRY_ATTEMPTS", "0"),
        ("INTERCEPT_CARRIER_RETRY_ATTEMPTS", "2.5"),
        ("INTERCEPT_CARRIER_RETRY_ATTEMPTS", "eight"),
        ("INTERCEPT_CARRIER_RETRY_ATTEMPTS", "1001"),
        ("INTERCEPT_CARRIER_RETRY_HORIZON", "0"),
        ("INTERCEPT_CARRIER_RETRY_HORIZON", "-5"),
        ("INTERCEPT_CARRIER_RETRY_HORIZON", "inf"),
        ("INTERCEPT_CARRIER_RETRY_BASE", "nan"),
        ("INTERCEPT_CARRIER_RETRY_BASE", "3601"),
        ("INTERCEPT_CARRIER_RETRY_CAP", "1e9"),
        ("INTERCEPT_CARRIER_RETRY_CAP", "soon"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(name, value):
    with pytest.raises(ValidationError) as refused:
        Settings.from_env({name: value})
    field = name.removeprefix("INTERCEPT_").lower()
    assert [e["loc"] for e in refused.value.errors()] == [(field,)]


def test_a_cap_below_the_base_is_refused_naming_both():
    with pytest.raises(
        ValidationError,
        match="INTERCEPT_CARRIER_RETRY_CAP .* is below INTERCEPT_CARRIER_RETRY_BASE",
    ):
        Settings.from_env(
            {"INTERCEPT_CARRIER_RETRY_BASE": "30", "INTERCEPT_CARRIER_RETRY_CAP": "5"}
        )
