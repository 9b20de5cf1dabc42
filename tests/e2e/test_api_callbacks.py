"""Carrier callbacks over HTTP: signed with the carrier key's secret, refused when not.

A bad or stale signature is 401 and records nothing; repeated and out-of-order
reports are harmless, as the domain rules say.
"""

import sqlite3
import time
import uuid

import orjson
import pytest

from api.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.e2e.api_server import signed, start


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    server = start(tmp_path_factory.mktemp("callbacks") / "var")
    admin, merchant = server.key("admin"), server.key("merchant", merchant="m1")
    with server.client(admin) as client:
        client.put(
            "/v1/merchants/m1/policy", json={"max_amount_minor": 100_000, "carriers": ["ZTO", "SF"]}
        )
    with server.client(merchant) as client:
        yield server, client, server.key("carrier", carrier="ZTO")
    server.stop()


@pytest.fixture
def iid(world) -> str:
    _, merchant, _ = world
    made = merchant.post(
        "/v1/intercepts",
        headers={"Idempotency-Key": uuid.uuid4().hex},
        json={
            "order_id": "o1",
            "tracking_no": f"ZT{uuid.uuid4().hex[:10]}",
            "carrier": "ZTO",
            "amount_minor": 1000,
            "request_reason": "buyer_refund",
        },
    )
    return made.json()["intercept_id"]


def events(server) -> int:
    with sqlite3.connect(server.home / "events.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


def report(server, key, body, **signing):
    with server.client() as client:
        return client.post(f"/v1/carriers/{key.carrier}/callbacks", **signed(key, body, **signing))


def test_a_signed_report_is_recorded(world, iid):
    server, _, zto = world
    answer = report(server, zto, {"intercept_id": iid, "report": "accepted", "carrier_ref": "Z-1"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["outcome"]) == ("accepted", "recorded")


def _tampered(key, iid):
    kwargs = signed(key, {"intercept_id": iid, "report": "confirmed"})
    kwargs["content"] = kwargs["content"].replace(b"confirmed", b'failed","reason":"other')
    return kwargs


def _signed_by(secret: str, iid: str, at: int | None = None):
    raw = orjson.dumps({"intercept_id": iid, "report": "confirmed"})
    at = int(time.time()) if at is None else at
    return raw, {TIMESTAMP_HEADER: str(at), SIGNATURE_HEADER: sign(secret, at, raw)}


@pytest.mark.parametrize(
    "case",
    [
        "wrong_secret",
        "tampered_body",
        "too_old",
        "from_the_future",
        "no_signature",
        "no_timestamp",
        "not_a_timestamp",
        "malformed_and_unsigned",
    ],
)
def test_a_callback_without_a_valid_signature_is_401_and_records_nothing(world, iid, case):
    server, _, zto = world
    if case == "tampered_body":
        kwargs = _tampered(zto, iid)
    else:
        secret = "whsec_someone-else" if case == "wrong_secret" else zto.signing_secret
        shift = {"too_old": -330, "from_the_future": 330}.get(case, 0)
        raw, headers = _signed_by(secret, iid, int(time.time()) + shift)
        if case == "no_signature":
            del headers[SIGNATURE_HEADER]
        if case == "no_timestamp":
            del headers[TIMESTAMP_HEADER]
        if case == "not_a_timestamp":
            headers[TIMESTAMP_HEADER] = "yesterday"
        if case == "malformed_and_unsigned":
            raw, headers = b"{not json", {}
        kwargs = {"content": raw, "headers": {**zto.headers, **headers}}
    before = events(server)
    with server.client() as client:
        answer = client.post("/v1/carriers/ZTO/callbacks", **kwargs)
    assert answer.status_code == 401, answer.text
    assert answer.json()["rule"] == "callback_signature_valid"
    assert events(server) == before


def test_a_replay_outside_the_window_says_so(world, iid):
    server, _, zto = world
    answer = report(
        server, zto, {"intercept_id": iid, "report": "confirmed"}, at=int(time.time()) - 3600
    )
    assert answer.status_code == 401
    assert "replays are refused" in answer.json()["detail"]


def test_a_signed_but_invalid_body_is_422_and_records_nothing(world, iid):
    server, _, zto = world
    before = events(server)
    missing_reason = report(server, zto, {"intercept_id": iid, "report": "failed"})
    not_json = report(server, zto, b"{not json")
    unknown_field = report(server, zto, {"intercept_id": iid, "report": "accepted", "x": 1})
    assert [a.status_code for a in (missing_reason, not_json, unknown_field)] == [422] * 3
    assert "needs a reason" in missing_reason.json()["detail"]
    assert unknown_field.json()["errors"][0]["where"] == "body.x"
    assert events(server) == before


def test_repeated_and_out_of_order_callbacks_are_harmless(world, iid):
    server, merchant, zto = world
    body = {"intercept_id": iid, "report": "confirmed", "occurred_at": "2026-11-26T10:00:00+08:00"}
    first = report(server, zto, body)
    before = events(server)
    repeated = report(server, zto, body)
    late_accept = report(
        server,
        zto,
        {"intercept_id": iid, "report": "accepted", "occurred_at": "2026-11-26T09:00:00+08:00"},
    )
    assert [a.json()["outcome"] for a in (first, repeated, late_accept)] == [
        "recorded",
        "duplicate",
        "stale",
    ]
    assert events(server) == before
    shown = merchant.get(f"/v1/intercepts/{iid}").json()
    assert shown["intercept"]["status"] == "intercepted"
    assert [e["event_type"] for e in shown["timeline"]] == ["Requested", "CarrierConfirmed"]


def test_the_same_signed_callback_sent_twice_is_recorded_once(world, iid):
    server, _, zto = world
    kwargs = signed(zto, {"intercept_id": iid, "report": "accepted"})
    with server.client() as client:
        answers = [client.post("/v1/carriers/ZTO/callbacks", **kwargs) for _ in range(2)]
    assert [a.json()["outcome"] for a in answers] == ["recorded", "duplicate"]


def test_a_confirmation_crossing_a_cancel_is_kept_and_flagged(world, iid):
    server, merchant, zto = world
    merchant.post(f"/v1/intercepts/{iid}/cancel", json={"reason": "buyer_changed_mind"})
    crossing = report(server, zto, {"intercept_id": iid, "report": "confirmed"})
    assert crossing.json()["status"] == "cancelled"
    assert crossing.json()["conflicts"] == ["intercepted_after_cancel"]
    row = merchant.get("/v1/intercepts", params={"conflicts": True}).json()["intercepts"]
    assert iid in {r["intercept_id"] for r in row}


def test_contradictory_outcomes_are_both_recorded_and_flagged(world, iid):
    server, _, zto = world
    report(server, zto, {"intercept_id": iid, "report": "failed", "reason": "already_signed"})
    then = report(server, zto, {"intercept_id": iid, "report": "confirmed"})
    assert then.json()["outcome"] == "recorded"
    assert then.json()["conflicts"] == ["contradictory_carrier_reports"]


def test_an_unknown_intercept_is_404(world):
    server, _, zto = world
    answer = report(server, zto, {"intercept_id": str(uuid.uuid4()), "report": "accepted"})
    assert answer.status_code == 404
