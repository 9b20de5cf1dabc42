"""The CLI as a merchant, a carrier and an operator use it, on SQLite and on PostgreSQL."""

import pytest

from tests.e2e.cli import intercept, request_args


@pytest.fixture
def home(tmp_path, store_env, monkeypatch):
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)  # every `intercept` process below inherits them
    home = tmp_path / "var"
    run = intercept(
        home,
        "policy",
        "set",
        "m1",
        "--min-amount",
        "1.00",
        "--max-amount",
        "5000.00",
        "--carriers",
        "ZTO,SF",
        "--by",
        "ops",
    )
    assert run.code == 0, run.err
    return home


def request(home, *extra):
    run = intercept(home, *request_args(), "--json", *extra)
    assert run.code == 0, run.err
    return run.json()


def events(home) -> int:
    run = intercept(home, "list", "--json", "--limit", "1000")
    return sum(r["version"] for r in run.json()["intercepts"])


def test_policy_show(home):
    shown = intercept(home, "policy", "show", "m1", "--json").json()
    assert shown["min_amount"] == "1.00" and shown["carriers"] == ["SF", "ZTO"]


def test_request_prints_the_id_and_status(home):
    made = request(home)
    assert made["status"] == "requested" and len(made["intercept_id"]) == 36


def test_cancel_asks_for_confirmation_and_records_nothing_when_declined(home):
    iid = request(home)["intercept_id"]
    declined = intercept(home, "cancel", iid, "--reason", "misoperation", stdin="n\n")
    assert declined.code == 1
    assert "cannot be undone" in declined.out
    shown = intercept(home, "show", iid, "--json").json()
    assert shown["intercept"]["status"] == "requested" and shown["cancellable"] is True


def test_cancel_is_irreversible_and_a_repeat_says_already_cancelled(home):
    iid = request(home)["intercept_id"]
    first = intercept(home, "cancel", iid, "--reason", "misoperation", "--yes")
    assert first.code == 0 and "cancelled" in first.out
    again = intercept(home, "cancel", iid, "--reason", "misoperation", "--yes", "--json")
    assert again.json()["results"][0]["outcome"] == "already_cancelled"
    late = intercept(
        home,
        "carrier",
        iid,
        "confirmed",
        "--carrier",
        "ZTO",
        "--json",
        "--at",
        "2026-11-26T10:00:00+08:00",
    )
    assert late.json()["status"] == "cancelled"
    assert late.json()["conflicts"] == ["intercepted_after_cancel"]
    shown = intercept(home, "show", iid, "--json").json()
    assert shown["cancellable"] is False
    assert [e["event_type"] for e in shown["timeline"]] == [
        "Requested",
        "Cancelled",
        "CarrierConfirmed",
    ]


def test_batch_cancel_reports_each_id_and_what_was_missed(home):
    a = request(home)["intercept_id"]
    b = request(home, "--tracking", "ZT2", "--order", "o2")["intercept_id"]
    intercept(home, "carrier", b, "confirmed", "--carrier", "ZTO")
    run = intercept(home, "cancel", a, b, "--reason", "buyer_changed_mind", "--yes", "--json")
    assert run.code == 3
    out = run.json()
    assert [r["outcome"] for r in out["results"]] == ["recorded", "refused"]
    assert out["results"][1]["rule"] == "cancel_only_while_open"
    assert out["summary"] == {"requested": 2, "cancelled_or_already": 1, "not_cancelled": 1}


def test_domain_refusal_exits_3_and_names_the_rule(home):
    before = events(home)
    run = intercept(
        home, *request_args(order="o9", tracking="YT1", carrier="YTO", amount="10.00", reason="x")
    )
    assert run.code == 3
    assert "carrier YTO is not enabled" in run.err and "policy_carrier_enabled" in run.err
    assert events(home) == before


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--amount", "-1"], "must be zero or more"),
        (["--amount", "1.234"], "more than two decimals"),
        (["--amount", "abc"], "not a number"),
        (["--carrier", "XXX"], "carrier"),
        (["--tracking", "bad tracking\x07"], "tracking_no"),
    ],
)
def test_bad_input_exits_2_and_records_nothing(home, args, complaint):
    base = {
        "--merchant": "m1",
        "--order": "o1",
        "--tracking": "ZT1",
        "--carrier": "ZTO",
        "--amount": "1.00",
        "--reason": "r",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = events(home)
    run = intercept(home, "request", *[x for kv in base.items() for x in kv])
    assert run.code == 2
    assert complaint in run.err
    assert events(home) == before


def test_same_key_twice_is_one_intercept_and_a_different_command_is_refused(home):
    first = request(home, "--key", "apply-1")
    second = request(home, "--key", "apply-1")
    assert second["intercept_id"] == first["intercept_id"] and second["outcome"] == "duplicate"
    clash = intercept(home, *request_args(amount="200.00", key="apply-1"))
    assert clash.code == 3 and "idempotency_key_same_command" in clash.err


def test_fee_evidence_and_list_filters(home, tmp_path):
    iid = request(home)["intercept_id"]
    assert intercept(home, "fee", iid, "--kind", "storage", "--amount", "3.50").code == 0
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"screenshot")
    assert intercept(home, "evidence", iid, "--kind", "screenshot", "--file", str(shot)).code == 0
    row = intercept(home, "list", "--merchant", "m1", "--json").json()["intercepts"][0]
    assert (row["fees_minor"], row["evidence_count"]) == (350, 1)
    none = intercept(home, "list", "--merchant", "m1", "--status", "cancelled", "--json")
    assert none.json()["intercepts"] == []
    old = intercept(home, "list", "--until", "2001-01-01T00:00:00Z", "--json")
    assert old.json()["intercepts"] == []


def test_list_pages_with_a_cursor(home):
    for n in range(5):
        request(home, "--tracking", f"ZT{n + 10}", "--order", f"o{n}")
    first = intercept(home, "list", "--limit", "2", "--json").json()
    second = intercept(home, "list", "--limit", "2", "--cursor", first["next_cursor"], "--json")
    ids = [r["intercept_id"] for r in first["intercepts"] + second.json()["intercepts"]]
    assert len(set(ids)) == 4


def test_demo_prints_a_summary_with_conflicts(tmp_path):
    run = intercept(
        tmp_path,
        "demo",
        "--orders",
        "150",
        "--home",
        str(tmp_path / "demo"),
        "--start",
        "2026-11-20T00:00:00Z",
        "--json",
    )
    assert run.code == 0, run.err
    out = run.json()
    assert out["summary"]["intercepts"] > 100
    assert out["summary"]["conflicts"].get("intercepted_after_cancel", 0) >= 1
    assert out["refusals"].get("cancel_only_while_open", 0) >= 1
    # The deadline process ran on the simulated clock: a six-hour promise was broken.
    assert out["stalled"].get("outcome", 0) >= 1
    assert out["carriers"]["flags"].get("stalled") == sum(out["stalled"].values())
    assert out["after_sales"].get("requested", 0) >= 1  # automatic intercepts


def test_demo_is_deterministic(tmp_path):
    def rows(name):
        home = tmp_path / name
        intercept(
            tmp_path,
            "demo",
            "--orders",
            "60",
            "--seed",
            "3",
            "--home",
            str(home),
            "--start",
            "2026-11-20T00:00:00Z",
            "--json",
        )
        return intercept(
            home, "list", "--limit", "1000", "--since", "2026-01-01T00:00:00Z", "--json"
        ).json()["intercepts"]

    assert rows("a") == rows("b")


RECIPIENT = [
    "--recipient-name",
    "Li Lei",
    "--recipient-phone",
    "13800138000",
    "--province",
    "Zhejiang",
    "--city",
    "Hangzhou",
    "--district",
    "Xihu",
    "--address",
    "No. 1 Road, Room 101",
]


def _show(home, iid: str) -> dict:
    run = intercept(home, "show", iid, "--json")
    assert run.code == 0, run.err
    return run.json()["intercept"]


def test_a_redirect_records_its_recipient_field_by_field(home):
    made = request(home, "--action", "redirect", *RECIPIENT)
    row = _show(home, made["intercept_id"])
    assert (row["recipient_name"], row["recipient_phone"]) == ("Li Lei", "13800138000")
    assert (row["recipient_city"], row["recipient_address"]) == ("Hangzhou", "No. 1 Road, Room 101")


@pytest.mark.parametrize(
    "change, complaint",
    [
        (["--recipient-phone", "call me"], "--recipient-phone"),
        (["--province", " "], "--province"),
    ],
)
def test_a_bad_recipient_exits_2_naming_the_option(home, change, complaint):
    before = events(home)
    parts = dict(zip(RECIPIENT[::2], RECIPIENT[1::2], strict=True))
    parts.update(dict(zip(change[::2], change[1::2], strict=True)))
    run = intercept(
        home,
        "request",
        *("--merchant", "m1", "--order", "o1", "--tracking", "ZT5", "--carrier", "ZTO"),
        *("--amount", "1.00", "--reason", "r", "--action", "redirect"),
        *[x for kv in parts.items() for x in kv],
    )
    assert run.code == 2 and complaint in run.err, run.err
    assert events(home) == before


def test_the_return_journey_and_a_rejection_by_manual_reports(home):
    iid = request(home)["intercept_id"]
    for report in ("confirmed", "returning", "returned"):
        run = intercept(home, "carrier", iid, report, "--carrier", "ZTO", "--json")
        assert run.code == 0, run.err
    row = _show(home, iid)
    assert row["status"] == "returned" and row["returning_at"] and row["returned_at"]
    other = request(home, "--tracking", "ZT77", "--key", "k77")["intercept_id"]
    run = intercept(
        home, "carrier", other, "rejected", "--carrier", "ZTO", "--code", "already_signed"
    )
    assert run.code == 0, run.err
    row = _show(home, other)
    assert (row["status"], row["rejection_code"]) == ("rejected", "already_signed")
    run = intercept(home, "carrier", other, "rejected", "--carrier", "ZTO")
    assert run.code == 2 and "rejection needs a code" in run.err


def test_a_request_before_pickup_is_refused_saying_cancel_the_shipment(home):
    run = intercept(
        home,
        "request",
        *("--merchant", "m1", "--order", "o1", "--tracking", "ZT6", "--carrier", "ZTO"),
        *("--amount", "1.00", "--reason", "r", "--parcel-stage", "not_picked_up"),
    )
    assert run.code == 3 and "cancel the shipment instead" in run.err


def test_a_carrier_added_by_a_settings_file_is_requested(home, tmp_path, monkeypatch):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(
        '[[carrier]]\ncode = "ZTO"\nname = "ZTO Express"\n'
        '[[carrier]]\ncode = "DBL"\nname = "Deppon"\nadapter = "generic"\n'
        '[carrier.capabilities]\nactions = ["return_to_sender"]\n'
    )
    monkeypatch.setenv("INTERCEPT_CARRIERS_FILE", str(carriers))
    run = intercept(home, "policy", "set", "m1", "--max-amount", "5000.00", "--carriers", "ZTO,DBL")
    assert run.code == 0, run.err
    made = request(home, "--carrier", "DBL", "--tracking", "DB1", "--quoted-fee", "3.00")
    row = _show(home, made["intercept_id"])
    assert (row["carrier"], row["quoted_fee_minor"]) == ("DBL", 300)
    refused = intercept(
        home,
        "request",
        *("--merchant", "m1", "--order", "o1", "--tracking", "DB2", "--carrier", "DBL"),
        *("--amount", "1.00", "--reason", "r", "--action", "redirect", *RECIPIENT),
    )
    assert refused.code == 2 and "--action" in refused.err and "does not offer" in refused.err
    unknown = intercept(
        home,
        "request",
        *("--merchant", "m1", "--order", "o1", "--tracking", "SF2", "--carrier", "SF"),
        *("--amount", "1.00", "--reason", "r"),
    )
    assert unknown.code == 2 and "--carrier" in unknown.err and "unknown carrier" in unknown.err
