"""What the CLI shows and refuses: input parsed strictly, output that tells the truth."""

import hashlib
import re

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


def test_a_cancel_with_nobody_to_confirm_is_a_usage_error_and_cancels_nothing(home):
    iid = request(home)["intercept_id"]
    for stdin in ("", None):  # at its end (</dev/null), or closed
        run = intercept(
            home, "cancel", iid, "--reason", "misoperation", stdin=stdin, closed=stdin is None
        )
        assert run.code == 2, (run.out, run.err)
        assert "confirmation needed: pass --yes" in run.err
        assert "Traceback" not in run.err
    as_json = intercept(home, "cancel", iid, "--reason", "misoperation", "--json", stdin="")
    assert as_json.code == 2
    assert "confirmation needed" in json_of(as_json)["error"]["message"]
    assert intercept(home, "show", iid, "--json").json()["intercept"]["status"] == "requested"


def test_the_prompt_names_the_parcels_and_no_says_nothing_was_cancelled(home):
    iid = request(home)["intercept_id"]
    run = intercept(home, "cancel", iid, "--reason", "misoperation", stdin="n\n")
    assert run.code == 1
    assert all(x in run.out for x in (iid, "o1", "ZTO ZT1", "requested", "cannot be undone"))
    assert "nothing was cancelled" in run.err


def json_of(run):
    import json

    return json.loads(run.out)


def test_with_json_every_error_is_json_and_keeps_its_exit_code(home):
    usage = intercept(home, "request", "--merchant", "m1", "--json")
    assert usage.code == 2 and json_of(usage)["error"]["type"] == "usage_error"
    bad = intercept(home, *REQUEST, "--amount", "1e3", "--json")
    assert bad.code == 2 and "--amount" in json_of(bad)["error"]["message"]
    refused = intercept(
        home, *REQUEST[:-4], "--carrier", "YTO", "--reason", "x", "--amount", "1.00", "--json"
    )
    assert refused.code == 3
    assert json_of(refused)["error"] == {
        "type": "refused",
        "rule": "policy_carrier_enabled",
        "message": json_of(refused)["error"]["message"],
    }
    missing = intercept(home, "show", "not-an-id", "--json")
    assert missing.code in (1, 2) and "error" in json_of(missing)


def test_validation_text_names_the_field_without_pydantic_prefixes(home):
    run = intercept(home, "request", *REQUEST[1:], "--amount", "1.00", "--tracking", "bad\x07")
    assert run.code == 2
    assert "tracking_no" in run.err and "Value error" not in run.err
    assert "--tracking" in run.err and "expected letters, digits" in run.err
    assert "should match pattern" not in run.err  # pydantic's own words, not the user's
    settings = intercept(home, "list", env={"INTERCEPT_EVENT_STORE": "mysql://u@h/db"})
    assert settings.code == 2
    assert "event_store" in settings.err and "Value error" not in settings.err


def test_a_refused_cancel_names_its_rule_in_text(home):
    iid = request(home)["intercept_id"]
    intercept(home, "carrier", iid, "confirmed", "--carrier", "ZTO")
    run = intercept(home, "cancel", iid, "--reason", "misoperation", "--yes")
    assert run.code == 3 and "cancel_only_while_open" in run.out


def test_carrier_fee_and_evidence_say_what_they_recorded(home, tmp_path):
    iid = request(home)["intercept_id"]
    fee = intercept(home, "fee", iid, "--kind", "storage", "--amount", "3.50")
    assert "storage fee of 3.50 CNY" in fee.out and "cancelled" not in fee.out
    shot = tmp_path / "chat.png"
    shot.write_bytes(b"a chat screenshot")
    ev = intercept(home, "evidence", iid, "--kind", "chat_log", "--file", str(shot), "--json")
    digest = hashlib.sha256(b"a chat screenshot").hexdigest()
    assert ev.json()["sha256"] == digest
    kept = home / "evidence" / digest[:2] / digest
    assert kept.read_bytes() == b"a chat screenshot"  # in the store the API uploads to
    assert ev.json()["uri"] == f"evidence/{digest[:2]}/{digest}"
    report = intercept(home, "carrier", iid, "accepted", "--carrier", "ZTO")
    assert "carrier report accepted from ZTO" in report.out and "accepted" in report.out


def test_data_is_never_markup_in_show_and_audit_history(home):
    note = "[/bold] x [link=http://evil.example]click[/link] [red]"
    iid = request(home, "--note", note)["intercept_id"]
    shown = intercept(home, "show", iid)
    assert shown.code == 0, shown.err
    assert note in shown.out
    history = intercept(home, "audit", "history", iid)
    assert history.code == 0, history.err
    assert "[/bold] x" in history.out and "MarkupError" not in history.err


def test_list_and_show_agree_on_money_and_time(home):
    iid = request(home)["intercept_id"]
    listed = intercept(home, "list").out
    shown = intercept(home, "show", iid).out
    assert "199.00 CNY" in listed and "199.00 CNY" in shown
    stamp = re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", listed).group(0)
    assert stamp in shown


def test_piped_output_is_not_wrapped_and_not_coloured(home):
    iid = request(home, "--note", "a long note " * 30)["intercept_id"]
    listed = intercept(home, "list", env={"COLUMNS": "40"})
    line = next(x for x in listed.out.splitlines() if x.startswith(iid))
    assert "199.00 CNY" in line and "after-sale:none" in line
    shown = intercept(home, "show", iid, env={"COLUMNS": "40"}).out
    assert iid in shown and "\x1b[" not in shown + listed.out


def test_list_catches_the_projections_up_before_reading(home):
    from datetime import UTC, datetime

    from domain.commands import RequestIntercept
    from engine.composition import build_engine
    from engine.settings import Settings

    engine = build_engine(Settings(home=home))
    try:  # recorded in the event store only, as by a writer whose catch-up did not run
        engine.app.request(
            RequestIntercept(
                merchant_id="m1",
                order_id="o7",
                tracking_no="ZT7",
                carrier="ZTO",
                amount_minor=100,
                request_reason="r",
                key="k7",
                actor="merchant",
                occurred_at=datetime.now(UTC),
            )
        )
    finally:
        engine.close()
    rows = intercept(home, "list", "--json").json()["intercepts"]
    assert [r["order_id"] for r in rows] == ["o7"]


def test_serve_on_a_port_in_use_exits_1_saying_so(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = intercept(tmp_path / "var", "serve", "--host", "127.0.0.1", "--port", str(port))
    assert run.code == 1, (run.out, run.err)
    assert f"port {port} on 127.0.0.1 is already in use" in run.err
    assert "Traceback" not in run.err


def test_the_demo_writes_only_into_its_own_home_whatever_is_configured(tmp_path):
    configured = {
        # Unreachable on purpose: the demo must not even try them.
        "INTERCEPT_EVENT_STORE": "postgresql://u:SECRET@127.0.0.1:1/events",
        "INTERCEPT_PROJECTIONS": "postgresql://u:SECRET@127.0.0.1:1/views",
    }
    home = tmp_path / "var"
    run = intercept(home, "demo", "--orders", "30", "--json", env=configured)
    assert run.code == 0, run.err
    assert run.json()["home"] == str(home / "demo")
    assert (home / "demo" / "events.db").exists() and (home / "demo" / "projections.db").exists()
    assert not (home / "events.db").exists()
    text = intercept(home, "demo", "--orders", "30", env=configured)
    assert f"data in {home / 'demo'}" in text.out and "no configured database" in text.out


def test_the_demo_never_empties_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("precious")
    run = intercept(tmp_path / "var", "demo", "--orders", "5", "--home", str(mine))
    assert run.code == 2 and "not made by `intercept demo`" in run.err
    assert (mine / "keep.txt").read_text() == "precious"


def test_demo_times_stay_in_the_past_and_a_capped_conflict_list_says_how_many_more(tmp_path):
    from datetime import UTC, datetime

    home = tmp_path / "var"
    run = intercept(home, "demo", "--orders", "400", "--seed", "7")
    assert run.code == 0, run.err
    more = re.search(r"\.\.\. and (\d+) more: (intercept .*)", run.out)
    total = int(re.search(r"(\d+) intercept\(s\) with conflicts", run.out).group(1))
    assert more and int(more.group(1)) == total - 10
    listed = intercept(home, *more.group(2).split()[1:], "--json").json()["intercepts"]
    assert len(listed) == total
    now = datetime.now(UTC).isoformat()
    rows = intercept(home / "demo", "list", "--limit", "1000", "--days", "3650", "--json")
    assert all(r["updated_at"] < now for r in rows.json()["intercepts"])
    future = intercept(home, "demo", "--orders", "50", "--start", now)
    assert future.code == 2 and "in the future" in future.err


def test_the_demo_progress_counts_every_step():
    from datetime import UTC, datetime

    from domain.errors import DomainError
    from engine import demo

    steps = demo.plan(40, 3, datetime(2026, 11, 1, tzinfo=UTC))
    seen = []

    def refuse_every_request(command):
        raise DomainError("refused")  # every later step of each intercept is moot

    demo.run(steps, refuse_every_request, demo.SimulatedClock(steps[0].at), lambda: seen.append(1))
    assert len(seen) == len(steps)


def test_a_home_that_cannot_be_used_is_one_line_not_a_traceback(tmp_path):
    home = tmp_path / "a-file"
    home.write_text("not a folder")
    for args in (["list"], ["keys", "list"], ["policy", "show", "m1"]):
        run = intercept(home, *args)
        assert run.code == 1, (args, run.err)
        assert "Traceback" not in run.err and f"cannot use {home}" in run.err
    as_json = intercept(home, "list", "--json")
    assert as_json.code == 1 and as_json.json()["error"]["type"] == "os_error"


def test_the_demo_lists_conflicts_in_colour_only_on_a_terminal(tmp_path):
    run = intercept(tmp_path / "var", "demo", "--orders", "200")
    assert run.code == 0 and "intercepted_after_cancel" in run.out
    assert "\x1b[" not in run.out and run.err == ""  # no bar, no colour when nobody watches
