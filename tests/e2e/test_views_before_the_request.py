"""A carrier report dated before the merchant's request renders in every view (issue 12).

The carrier's clock is its own: the engine records such a report, and `show` and
`replay` at any time by either clock must then answer, not crash.
"""

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.cli import intercept
from tests.e2e.test_cli import request


@pytest.fixture
def home(tmp_path, store_env, monkeypatch):
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "var"
    run = intercept(
        home, "policy", "set", "m1", "--min-amount", "1.00", "--max-amount", "5000.00",
        "--carriers", "ZTO,SF", "--by", "ops",
    )  # fmt: skip
    assert run.code == 0, run.err
    return home


def _at(moment: datetime) -> str:
    return moment.isoformat()


def test_a_report_dated_before_the_request_renders_by_either_clock(home, tmp_path):
    iid = request(home)["intercept_id"]
    now = datetime.now(UTC)
    reported = intercept(
        home, "carrier", iid, "accepted", "--carrier", "ZTO", "--json",
        "--at", _at(now - timedelta(hours=2)),
    )  # fmt: skip
    assert reported.code == 0, reported.err

    before = intercept(home, "show", iid, "--occurred-as-of", _at(now - timedelta(hours=1)))
    assert before.code == 1 and "at that time" in before.err, before.out
    assert "Traceback" not in before.err

    after = intercept(
        home, "show", iid, "--json", "--occurred-as-of", _at(now + timedelta(minutes=5))
    )
    assert after.code == 0, after.err
    assert after.json()["intercept"]["status"] == "accepted"

    for n, moment in enumerate([now - timedelta(hours=1), now + timedelta(minutes=5)]):
        into = tmp_path / f"view-{n}.db"
        replayed = intercept(
            home, "replay", "--occurred-as-of", _at(moment), "--into", str(into), "--json"
        )
        assert replayed.code == 0, replayed.err
        assert "Traceback" not in replayed.err
