"""`intercept schemas export` and the request's version 2 fields, as a developer and a
merchant use them."""

import json

import pytest

from tests.e2e.cli import intercept, request_args


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "var"
    run = intercept(home, "policy", "set", "m1", "--max-amount", "5000.00", "--carriers", "ZTO")
    assert run.code == 0, run.err
    return home


def test_request_records_the_quoted_fee_and_the_parcel_stage(home):
    made = intercept(
        home, *request_args(quoted_fee="3.50", parcel_stage="out_for_delivery"), "--json"
    )
    assert made.code == 0, made.err
    shown = intercept(home, "show", made.json()["intercept_id"], "--json").json()
    requested = shown["timeline"][0]["data"]
    assert (requested["quoted_fee_minor"], requested["parcel_stage"]) == (350, "out_for_delivery")


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--quoted-fee", "3.505"], "--quoted-fee"),
        (["--parcel-stage", "on_the_moon"], "--parcel-stage"),
    ],
)
def test_a_bad_quote_or_stage_exits_2_and_records_nothing(home, args, complaint):
    run = intercept(home, *request_args(amount="1.00", reason="r"), *args)
    assert run.code == 2 and complaint in run.err
    assert intercept(home, "list", "--json").json()["intercepts"] == []


def test_export_writes_every_contract_and_check_then_passes(tmp_path):
    out = tmp_path / "schemas"
    written = intercept(tmp_path, "schemas", "export", "--out", str(out), "--json")
    assert written.code == 0, written.err
    names = set(written.json()["written"])
    assert {
        "envelope.json",
        "asyncapi.yaml",
        "events/Requested.v1.json",
        "events/Requested.v2.json",
        "events/Cancelled.v1.json",
    } <= names
    assert all((out / name).is_file() for name in names)
    assert intercept(tmp_path, "schemas", "export", "--out", str(out), "--check").code == 0


def test_check_names_the_stale_file_and_exits_1(tmp_path):
    out = tmp_path / "schemas"
    assert intercept(tmp_path, "schemas", "export", "--out", str(out)).code == 0
    stale = out / "events" / "FeeCharged.v1.json"
    stale.write_text(stale.read_text().replace('"Amount Minor"', '"Amount"'))
    run = intercept(tmp_path, "schemas", "export", "--out", str(out), "--check")
    assert run.code == 1
    assert "events/FeeCharged.v1.json is out of date: run `intercept schemas export`" in run.err


def test_export_refuses_a_change_that_breaks_a_published_version(tmp_path):
    out = tmp_path / "schemas"
    assert intercept(tmp_path, "schemas", "export", "--out", str(out)).code == 0
    # As if v1 had once published a required field that the class has since dropped.
    published = out / "events" / "Cancelled.v1.json"
    schema = json.loads(published.read_text())
    schema["properties"]["refund_minor"] = {"type": "integer"}
    schema["required"].append("refund_minor")
    published.write_text(json.dumps(schema))
    before = published.read_bytes()
    run = intercept(tmp_path, "schemas", "export", "--out", str(out))
    assert run.code == 3
    assert "field 'refund_minor' was removed" in run.err
    assert "class_version = 2" in run.err and "upcast_v1_v2(state)" in run.err
    assert "[rule: schema_evolution]" in run.err
    assert published.read_bytes() == before
