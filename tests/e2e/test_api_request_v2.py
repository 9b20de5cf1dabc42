"""The HTTP API takes the carrier's quoted fee and the parcel's stage with a request."""

import uuid

import pytest

from tests.e2e.api_server import start


@pytest.fixture(scope="module")
def merchant(tmp_path_factory):
    server = start(tmp_path_factory.mktemp("api-v2") / "var")
    with server.client(server.key("merchant", merchant="m1")) as client:
        policy = client.put(
            "/v1/merchants/m1/policy", json={"max_amount_minor": 500_000, "carriers": ["ZTO"]}
        )
        assert policy.status_code == 200, policy.text
        yield client
    server.stop()


def ask(client, **changes):
    body = {
        "order_id": "o1",
        "tracking_no": f"ZT{uuid.uuid4().hex[:10]}",
        "carrier": "ZTO",
        "amount_minor": 19_900,
        "request_reason": "buyer_refund",
        **changes,
    }
    return client.post("/v1/intercepts", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})


def test_the_quote_and_stage_are_recorded(merchant):
    made = ask(merchant, quoted_fee_minor=350, parcel_stage="in_transit")
    assert made.status_code == 201, made.text
    shown = merchant.get(made.headers["Location"]).json()
    data = shown["timeline"][0]["data"]
    assert (data["quoted_fee_minor"], data["parcel_stage"]) == (350, "in_transit")


def test_without_them_the_stage_is_unknown_and_no_fee_was_quoted(merchant):
    made = ask(merchant)
    data = merchant.get(made.headers["Location"]).json()["timeline"][0]["data"]
    assert (data["quoted_fee_minor"], data["parcel_stage"]) == (None, "unknown")


@pytest.mark.parametrize("change", [{"quoted_fee_minor": -1}, {"parcel_stage": "lost"}])
def test_a_bad_quote_or_stage_is_422(merchant, change):
    refused = ask(merchant, **change)
    assert refused.status_code == 422
    assert next(iter(change)) in refused.text


def test_the_pickup_time_is_recorded_and_bucketed_in_the_answers_risk(merchant):
    made = ask(merchant, picked_up_at="2026-11-01T09:00:00+08:00")
    assert made.status_code == 201, made.text
    assert made.json()["risk"]["since_pickup"] == "over_3_days"
    shown = merchant.get(made.headers["Location"]).json()
    assert shown["timeline"][0]["data"]["picked_up_at"] == "2026-11-01T09:00:00+08:00"
    assert shown["intercept"]["picked_up_at"] == "2026-11-01T01:00:00.000000Z"


@pytest.mark.parametrize(
    "when", ["2999-01-01T00:00:00Z", "2026-11-01T09:00:00", 1764000000, "yesterday"]
)
def test_a_pickup_time_after_the_request_or_without_its_zone_is_422(merchant, when):
    refused = ask(merchant, picked_up_at=when)
    assert refused.status_code == 422, refused.text
    assert "picked_up_at" in refused.text
