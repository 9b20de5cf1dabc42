"""A bad retry setting stops the CLI before anything runs, naming the setting."""

import pytest

from tests.e2e.cli import intercept


@pytest.mark.parametrize(
    "env, named",
    [
        ({"INTERCEPT_CARRIER_RETRY_ATTEMPTS": "eight"}, ["INTERCEPT_CARRIER_RETRY_ATTEMPTS"]),
        ({"INTERCEPT_CARRIER_RETRY_HORIZON": "-1"}, ["INTERCEPT_CARRIER_RETRY_HORIZON"]),
        (
            {"INTERCEPT_CARRIER_RETRY_BASE": "30", "INTERCEPT_CARRIER_RETRY_CAP": "5"},
            ["INTERCEPT_CARRIER_RETRY_CAP", "INTERCEPT_CARRIER_RETRY_BASE"],
        ),
    ],
)
def test_a_bad_retry_setting_exits_2_naming_it(tmp_path, env, named):
    ran = intercept(tmp_path / "var", "carriers", "list", env=env)
    assert ran.code == 2, ran.err
    assert all(name in ran.err for name in named), ran.err
    assert "Traceback" not in ran.err + ran.out
    assert not (tmp_path / "var").exists()  # nothing written
