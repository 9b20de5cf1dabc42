"""An auditor rebuilds, verifies and exports history with the `intercept` command alone."""

import csv
import io
import json
import sqlite3

import pytest

from tests.e2e.cli import intercept

START = "2026-11-20T00:00:00Z"


def tables(path):
    db = sqlite3.connect(path)
    try:
        return (
            db.execute("SELECT * FROM intercepts ORDER BY intercept_id").fetchall(),
            db.execute("SELECT * FROM intercept_events ORDER BY intercept_id, version").fetchall(),
        )
    finally:
        db.close()


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("audit") / "var"
    run = intercept(
        home,
        "demo",
        "--orders",
        "40",
        "--seed",
        "7",  # a history with a crossing: conflicted() needs one
        "--start",
        START,
        "--home",
        str(home),
        "--json",
    )
    assert run.code == 0, run.err
    return home


def conflicted(home) -> dict:
    run = intercept(home, "list", "--conflicts", "--json", "--since", START)
    return run.json()["intercepts"][0]


def test_a_rebuild_through_the_cli_gives_the_same_rows_and_the_chain_verifies(demo_home):
    before = tables(demo_home / "projections.db")
    run = intercept(demo_home, "replay", "--json")
    assert run.code == 0, run.err
    report = run.json()
    assert report["swapped"] and report["read"] > 100 and report["events_per_second"] > 0
    assert tables(demo_home / "projections.db") == before and len(before[0]) > 30
    shown = intercept(demo_home, "replay", env={"FORCE_COLOR": "1", "COLUMNS": "150"})
    assert shown.code == 0 and "events/s" in shown.err and "ETA" in shown.err  # the bar
    assert "swapped into" in shown.out
    verified = intercept(demo_home, "audit", "verify", "--json")
    assert verified.code == 0, verified.err
    stored = (
        sqlite3.connect(demo_home / "events.db")
        .execute("SELECT COUNT(*) FROM stored_events")
        .fetchone()[0]
    )
    assert verified.json()["ok"] and verified.json()["checked"] == stored
    head = intercept(demo_home, "audit", "head", "--json").json()["anchor"]
    assert head == verified.json()["head"]
    pinned = intercept(demo_home, "audit", "verify", "--anchor", head)
    assert pinned.code == 0 and "every hash and link holds" in pinned.out


def test_history_exports_as_csv_and_json_lines_with_both_times_and_who(demo_home, tmp_path):
    row = conflicted(demo_home)
    out = tmp_path / "history.csv"
    run = intercept(
        demo_home,
        "audit",
        "history",
        "--order",
        row["order_id"],
        "--format",
        "csv",
        "--output",
        str(out),
    )
    assert run.code == 0, run.err
    lines = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(x["version"]) for x in lines] == list(range(1, row["version"] + 1))
    assert {"occurred_at", "recorded_at", "actor", "event_hash", "details"} <= set(lines[0])
    assert lines[0]["event_type"] == "Requested" and lines[0]["actor"].endswith("-staff")
    jsonl = intercept(demo_home, "audit", "history", row["intercept_id"], "--format", "jsonl")
    parsed = [json.loads(x) for x in jsonl.out.splitlines()]
    assert [p["event_hash"] for p in parsed] == [x["event_hash"] for x in lines]
    assert parsed[1]["prev_hash"] == parsed[0]["event_hash"]
    by_tracking = intercept(
        demo_home, "audit", "history", "--tracking", row["tracking_no"], "--json"
    )
    assert by_tracking.json()["events"] == parsed


def test_show_and_replay_as_of_a_time(demo_home, tmp_path):
    row = conflicted(demo_home)
    shown = intercept(demo_home, "show", row["intercept_id"], "--json").json()
    cancel = next(e for e in shown["timeline"] if e["event_type"] == "Cancelled")
    at = cancel["recorded_at"]
    then = intercept(demo_home, "show", row["intercept_id"], "--as-of", at, "--json").json()
    assert then["intercept"]["status"] == "cancelled" and then["intercept"]["conflict"] is None
    assert then["timeline"] == [e for e in shown["timeline"] if e["recorded_at"] <= at]
    view = tmp_path / "view.db"
    built = intercept(demo_home, "replay", "--as-of", at, "--into", str(view), "--json")
    assert built.code == 0 and not built.json()["swapped"], built.err
    listed = intercept(
        demo_home, "--projections", f"sqlite:///{view}", "show", row["intercept_id"], "--json"
    ).json()
    # `dispatch` says where the request stands with the carrier now (the gateway's own
    # table), which no history holds: a view as of a time shows the projection's columns.
    assert "dispatch" not in then["intercept"]
    assert {k: v for k, v in listed["intercept"].items() if k != "dispatch"} == then["intercept"]
    assert tables(demo_home / "projections.db")[0] != tables(view)[0]  # the live ones untouched


def test_one_changed_byte_makes_verify_exit_1_naming_the_event(demo_home, tmp_path):
    home = tmp_path / "copy"
    home.mkdir()
    with (
        sqlite3.connect(demo_home / "events.db") as src,
        sqlite3.connect(home / "events.db") as dst,
    ):
        src.backup(dst)
    db = sqlite3.connect(home / "events.db")
    position, state = db.execute(
        "SELECT rowid, state FROM stored_events WHERE topic = 'CarrierConfirmed' LIMIT 1"
    ).fetchone()
    db.execute(
        "UPDATE stored_events SET state = ? WHERE rowid = ?",
        (
            state.replace(b"zto-api", b"zto-apj")
            .replace(b"sf-api", b"sf-apj")
            .replace(b"-api", b"-apj")
            .replace(b"-callback", b"-callbacj")
            .replace(b"carrier-gateway", b"carrier-gatewaz"),
            position,
        ),
    )
    db.commit()
    db.close()
    run = intercept(home, "audit", "verify")
    assert run.code == 1
    assert "TAMPERED" in run.err and f"position={position}" in run.err
    assert "CarrierConfirmed" in run.err
    # Broken beyond reading: the commands that read it say so instead of failing obscurely.
    db = sqlite3.connect(home / "events.db")
    originator = db.execute(
        "SELECT originator_id FROM stored_events WHERE rowid = ?", (position,)
    ).fetchone()[0]
    db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (b"{broken", position))
    db.commit()
    db.close()
    iid = str(__import__("uuid").UUID(originator))
    for args in (["audit", "history", iid], ["show", iid, "--as-of", "2030-01-01T00:00:00Z"]):
        broken = intercept(home, *args)
        assert broken.code == 1 and "run `intercept audit verify`" in broken.err, broken.err
    assert "malformed" in intercept(home, "audit", "verify").err


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["replay", "--as-of", "yesterday"], "not an ISO 8601 time"),
        (["replay", "--as-of", START, "--occurred-as-of", START], "not both"),
        (["replay", "--from", "kafka"], "needs a broker"),
        (["replay", "--from", "kafka", "--as-of", START], "built from the event store"),
        (["audit", "verify", "--anchor", "12:abc"], "POSITION:LOG_HASH"),
        (["audit", "history"], "exactly one of"),
        (["audit", "history", "not-an-id"], "not an intercept id"),
        (["show", "not-an-id", "--as-of", START], "not an intercept id"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, complaint):
    home = tmp_path / "var"
    run = intercept(home, *args)
    assert run.code == 2, (run.out, run.err)
    assert complaint in run.err
    assert not (home / "as-of").exists()


def test_replay_refuses_to_overwrite_a_view(demo_home, tmp_path):
    existing = tmp_path / "view.db"
    existing.write_text("keep me")
    run = intercept(demo_home, "replay", "--as-of", START, "--into", str(existing))
    assert run.code == 2 and "already exists" in run.err
    assert existing.read_text() == "keep me"
