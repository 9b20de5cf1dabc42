"""`intercept status` in embedded mode: the catch-up's position, pending events, oldest open."""

from storage.database import Database
from tests.e2e.cli import intercept
from tests.e2e.test_cli import home, request  # noqa: F401 - the fixture, and a request


def test_status_reports_the_catch_up_and_the_oldest_open_intercept(home):  # noqa: F811
    made = request(home)
    run = intercept(home, "status", "--json")
    assert run.code == 0, run.err
    report = run.json()
    assert report["mode"] == "embedded" and report["ok"] is True
    # The catch-up stops at the last intercept event; the head may be a later entry.
    assert 0 < report["catch_up_position"] <= report["head"]
    assert report["catch_up_lag_events"] == 0 and report["pending_events"] == 0
    assert report["oldest_open_intercept"]["intercept_id"] == made["intercept_id"]
    text = intercept(home, "status")
    assert text.code == 0 and made["intercept_id"] in text.out and "ok" in text.out


def test_status_exits_4_naming_what_is_beyond_its_threshold(home, store_settings):  # noqa: F811
    request(home)
    assert intercept(home, "status", "--json", "--max-pending", "0").code == 0
    # An early event parked, as one whose predecessor was dead-lettered leaves it.
    db = (
        Database(store_settings.projections)
        if store_settings.projections
        else Database.sqlite_file(home / "projections.db")
    )
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO pending_events VALUES ('00000000-0000-0000-0000-000000000001', 3, '{}')"
        )
    db.close()
    run = intercept(home, "status", "--json", "--max-pending", "0")
    assert run.code == 4
    assert run.json()["problems"] == ["1 pending events (max 0)"]
    assert intercept(home, "status", "--json", "--max-pending", "1").code == 0
