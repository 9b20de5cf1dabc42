"""Input is taken as sent or refused, never converted, against a running `intercept serve`.

Every field of every request body gets a value of the wrong JSON type (a string
or a float for an integer, a number for a string, ...), written as raw JSON so
`1e3` and `199.0` go on the wire as such: each answers 422 naming that field,
and nothing is recorded.
"""

import sqlite3
import uuid

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bodies import (
    AfterSaleBody,
    AfterSaleReportBody,
    BatchCancelBody,
    CancelBody,
    CarrierCallback,
    FeeBody,
    InterceptRequestBody,
    PolicyBody,
    WebhookBody,
)
from engine.grant import KeyGrant
from tests.e2e.api_server import signed, start

PROBLEM = "application/problem+json"

# Raw JSON of each wrong type, by the JSON type the field declares.
WRONG = {
    "integer": ['"199.00"', '"199"', "true", "false", "199.0", "1e3", "1.5", "[]", "{}"],
    "string": ["123", "1.5", "true", "[]", "{}", "1e3"],
    "array": ['"ZTO"', "1", "true", "{}"],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    server = start(tmp_path_factory.mktemp("strict") / "var")
    merchant = server.key("merchant", merchant="m1")
    keys = {
        "merchant": merchant,
        "admin": server.key("admin"),
        "carrier": server.key("carrier", carrier="ZTO"),
    }
    with server.client(merchant) as client:
        client.put(
            "/v1/merchants/m1/policy",
            json={"max_amount_minor": 500_000, "carriers": ["ZTO"]},
        ).raise_for_status()
        made = client.post(
            "/v1/intercepts",
            headers={"Idempotency-Key": "strict-1"},
            json={
                "order_id": "o1",
                "tracking_no": "ZTSTRICT1",
                "carrier": "ZTO",
                "amount_minor": 19_900,
                "request_reason": "buyer_refund",
            },
        )
        made.raise_for_status()
    yield server, keys, made.json()["intercept_id"]
    server.stop()


def _endpoints(iid: str) -> dict:
    """Each body model: where it is sent, by which key, and a valid body to spoil."""
    return {
        "policy": (PolicyBody, "PUT", "/v1/merchants/m1/policy", "merchant", {
            "min_amount_minor": 100, "max_amount_minor": 500_000, "carriers": ["ZTO"],
            "auto_intercept": ["refund_requested"], "accept_within_minutes": 120,
            "outcome_within_minutes": 2880,
        }),
        "report": (AfterSaleReportBody, "POST", "/v1/after-sales", "merchant", {
            "merchant_id": "m1", "after_sale_id": "AS-1", "order_id": "o9",
            "tracking_no": "ZTSTRICT9", "carrier": "ZTO", "amount_minor": 19_900,
            "currency": "CNY", "status": "refund_requested", "parcel_stage": "in_transit",
            "picked_up_at": "2026-11-20T10:00:00+08:00",
        }),
        "webhook": (WebhookBody, "POST", "/v1/webhooks", "merchant", {
            "merchant_id": "m1", "url": "https://shop.example/hooks", "events": ["Requested"],
        }),
        "request": (InterceptRequestBody, "POST", "/v1/intercepts", "merchant", {
            "order_id": "o2", "tracking_no": "ZTSTRICT2", "carrier": "ZTO",
            "amount_minor": 19_900, "currency": "CNY", "action": "redirect",
            "recipient": {"name": "Li Lei", "phone": "13800138000", "province": "Zhejiang", "city": "Hangzhou", "district": "Xihu", "address": "Room 1"}, "request_reason": "buyer_refund", "note": "n",
            "after_sale_status": "none", "quoted_fee_minor": 300, "parcel_stage": "in_transit",
            "picked_up_at": "2026-11-20T10:00:00+08:00",
        }),
        "cancel": (CancelBody, "POST", f"/v1/intercepts/{iid}/cancel", "merchant", {
            "reason": "other", "note": "n",
        }),
        "batch": (BatchCancelBody, "POST", "/v1/intercepts/cancel", "merchant", {
            "intercept_ids": [iid], "reason": "other", "note": "n",
        }),
        "fee": (FeeBody, "POST", f"/v1/intercepts/{iid}/fees", "merchant", {
            "kind": "storage", "amount_minor": 350, "currency": "CNY", "payer": "merchant",
        }),
        "after_sale": (AfterSaleBody, "POST", f"/v1/intercepts/{iid}/after-sale", "merchant", {
            "after_sale_status": "refunded",
        }),
        "callback": (CarrierCallback, "POST", "/v1/carriers/ZTO/callbacks", "carrier", {
            "intercept_id": iid, "report": "failed", "occurred_at": "2026-11-26T10:00:00+08:00",
            "carrier_ref": "Z-1", "reason": "already_delivered", "code": None, "message": None,
        }),
        "key": (KeyGrant, "POST", "/v1/keys", "admin", {
            "role": "merchant", "merchant_id": "m9", "carrier": None,
        }),
    }  # fmt: skip


def _json_type(model, field: str) -> str:
    schema = model.model_json_schema()
    prop = schema["properties"][field]
    options = prop.get("anyOf", [prop])
    for option in options:
        if "$ref" in option:
            return "string"  # the enums
        if option.get("type") in WRONG:
            return option["type"]
    raise AssertionError(f"no JSON type for {model.__name__}.{field}: {prop}")


def test_every_field_of_every_body_model_is_exercised(world):
    _, _, iid = world
    for model, *_rest, valid in _endpoints(iid).values():
        assert set(valid) == set(model.model_fields), model.__name__


def _events(server) -> int:
    with sqlite3.connect(server.home / "events.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


def _keys(server) -> int:
    with sqlite3.connect(server.home / "keys.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM api_keys").fetchone()[0]


def _raw_body(valid: dict, field: str, wrong: str) -> bytes:
    parts = [
        f'"{name}":' + (wrong if name == field else orjson.dumps(value).decode())
        for name, value in valid.items()
    ]
    return ("{" + ",".join(parts) + "}").encode()


@st.composite
def spoiled(draw, iid: str):
    name = draw(st.sampled_from(sorted(_endpoints(iid))))
    model, method, path, role, valid = _endpoints(iid)[name]
    field = draw(st.sampled_from(sorted(valid)))
    wrong = draw(st.sampled_from(WRONG[_json_type(model, field)]))
    return name, method, path, role, field, _raw_body(valid, field, wrong)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_value_of_the_wrong_json_type_is_422_naming_the_field_and_records_nothing(world, data):
    server, keys, iid = world
    name, method, path, role, field, raw = data.draw(spoiled(iid))
    key = keys[role]
    before = (_events(server), _keys(server))
    if role == "carrier":
        request = signed(key, raw)
    else:
        request = {
            "content": raw,
            "headers": {
                **key.headers,
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        }
    with server.client() as client:
        answer = client.request(method, path, **request)
    assert answer.status_code == 422, (name, raw, answer.text)
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    wheres = [e["where"] for e in problem["errors"]]
    assert any(w == f"body.{field}" or w.startswith(f"body.{field}.") for w in wheres), problem
    assert "Value error" not in answer.text
    assert (_events(server), _keys(server)) == before


@pytest.mark.parametrize("amount", ['"199.00"', "true", "199.0", "1e3"])
def test_the_issues_amounts_are_refused(world, amount):
    server, keys, _ = world
    body = (
        '{"order_id":"o3","tracking_no":"ZTSTRICT3","carrier":"ZTO","request_reason":"r",'
        f'"amount_minor":{amount}}}'
    ).encode()
    before = _events(server)
    with server.client(keys["merchant"]) as client:
        answer = client.post(
            "/v1/intercepts",
            content=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        )
    assert answer.status_code == 422, answer.text
    assert [e["where"] for e in answer.json()["errors"]] == ["body.amount_minor"]
    assert _events(server) == before


@pytest.mark.parametrize(
    "params, field",
    [
        ({"days": "1e3"}, "days"),
        ({"days": "5.0"}, "days"),
        ({"days": "true"}, "days"),
        ({"days": " 5"}, "days"),
        ({"limit": "20.0"}, "limit"),
        ({"limit": "+20"}, "limit"),
        ({"conflicts": "1"}, "conflicts"),
        ({"conflicts": "yes"}, "conflicts"),
    ],
)
def test_query_numbers_and_flags_are_strict(world, params, field):
    server, keys, _ = world
    with server.client(keys["merchant"]) as client:
        answer = client.get("/v1/intercepts", params=params)
    assert answer.status_code == 422, answer.text
    assert [e["where"] for e in answer.json()["errors"]] == [f"query.{field}"]


def test_query_numbers_and_flags_written_plainly_are_taken(world):
    server, keys, _ = world
    with server.client(keys["merchant"]) as client:
        answer = client.get(
            "/v1/intercepts", params={"days": "5", "limit": "3", "conflicts": "false"}
        )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "raw, where",
    [
        (b'{"reason": "misoperation",', "body"),
        (b"not json", "body"),
        (b'{"reason": "other"}', "body"),
    ],
)
def test_messages_name_the_field_and_not_the_validator(world, raw, where):
    server, keys, iid = world
    with server.client(keys["merchant"]) as client:
        answer = client.post(
            f"/v1/intercepts/{iid}/cancel",
            content=raw,
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert [e["where"] for e in problem["errors"]] == [where]
    assert "Value error" not in answer.text
    assert "JSON decode error" not in answer.text
    assert "body.0" not in answer.text
