"""What the CLI shows and refuses: input parsed strictly, output that tells the truth."""

import pytest

from tests.e2e.cli import intercept


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "var"
    run = intercept(home, "policy", "set", "m1", "--max-amount", "5000.00", "--carriers", "ZTO,SF")
    assert run.code == 0, run.err
    return home


REQUEST = [
    "request",
    "--merchant",
    "m1",
    "--order",
    "o1",
    "--tracking",
    "ZT1",
    "--carrier",
    "ZTO",
    "--reason",
    "buyer_refund",
]


def request(home, *extra, amount="199.00"):
    run = intercept(home, *REQUEST, "--amount", amount, "--json", *extra)
    assert run.code == 0, run.err
    return run.json()


def count(home) -> int:
    return len(intercept(home, "list", "--json", "--limit", "1000").json()["intercepts"])


@pytest.mark.parametrize("amount", ["1e3", "199.001", "1E2", "0x10", "1_000", " 1.5e1", "+5"])
def test_an_amount_is_plain_digits_with_at_most_two_decimals(home, amount):
    run = intercept(home, *REQUEST, "--amount", amount)
    assert run.code == 2, run.out
    assert "--amount" in run.err
    assert count(home) == 0


def test_since_takes_a_date_as_the_start_of_that_day_in_utc(home):
    request(home)
    shown = intercept(home, "list", "--since", "2000-01-01", "--json").json()
    assert len(shown["intercepts"]) == 1
    assert intercept(home, "list", "--since", "2999-01-01", "--json").json()["intercepts"] == []
    bad = intercept(home, "list", "--since", "2026-13-01")
    assert bad.code == 2 and "--since" in bad.err
