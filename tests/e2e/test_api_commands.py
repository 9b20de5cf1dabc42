"""The HTTP API as a merchant backend uses it, against a running `intercept serve`."""

import hashlib
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from domain.ids import intercept_id
from tests.e2e.api_server import signed, start

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start(tmp_path_factory.mktemp("api") / "var")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def merchant(server):
    """Merchant m1 with a policy, as its backend's HTTP client."""
    key = server.key("merchant", merchant="m1")
    with server.client(key) as client:
        policy = client.put(
            "/v1/merchants/m1/policy",
            json={"min_amount_minor": 100, "max_amount_minor": 500_000, "carriers": ["ZTO", "SF"]},
        )
        assert policy.status_code == 200, policy.text
        yield client


@pytest.fixture(scope="module")
def zto(server):
    return server.key("carrier", carrier="ZTO")


def recorded(server) -> int:
    """How many events the engine has recorded, read straight from its event store."""
    with sqlite3.connect(server.home / "events.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


def ask(client, key: str | None = None, **changes):
    body = {
        "order_id": "o1",
        "tracking_no": f"ZT{uuid.uuid4().hex[:10]}",
        "carrier": "ZTO",
        "amount_minor": 19_900,
        "request_reason": "buyer_refund",
        **changes,
    }
    return client.post(
        "/v1/intercepts", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex}
    )


def test_policy_reads_back_and_an_unchanged_policy_records_nothing(server, merchant):
    shown = merchant.get("/v1/merchants/m1/policy").json()
    assert (shown["min_amount_minor"], shown["carriers"]) == (100, ["SF", "ZTO"])
    again = merchant.put(
        "/v1/merchants/m1/policy",
        json={"min_amount_minor": 100, "max_amount_minor": 500_000, "carriers": ["SF", "ZTO"]},
    )
    assert again.json()["outcome"] == "unchanged"


def test_a_request_is_created_with_an_id_derived_from_the_merchant_and_key(merchant):
    made = ask(merchant, key="order-o1-try")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["intercept_id"] == str(intercept_id("m1", "order-o1-try"))
    assert (body["status"], body["outcome"], body["version"]) == ("requested", "recorded", 1)
    assert made.headers["location"] == f"/v1/intercepts/{body['intercept_id']}"


def test_a_retried_request_is_recorded_once_and_a_reused_key_is_refused(server, merchant):
    first = ask(merchant, key="retry-1", tracking_no="ZTRETRY1")
    before = recorded(server)
    again = ask(merchant, key="retry-1", tracking_no="ZTRETRY1")
    assert again.status_code == 200
    assert again.json() == {**first.json(), "outcome": "duplicate"}
    clash = ask(merchant, key="retry-1", tracking_no="ZTRETRY1", amount_minor=20_000)
    assert clash.status_code == 409
    assert clash.json()["rule"] == "idempotency_key_same_command"
    assert recorded(server) == before


def test_a_request_needs_an_idempotency_key(server, merchant):
    before = recorded(server)
    body = {
        "order_id": "o1",
        "tracking_no": "ZTNOKEY",
        "carrier": "ZTO",
        "amount_minor": 100,
        "request_reason": "r",
    }
    refused = merchant.post("/v1/intercepts", json=body)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"where": "header.Idempotency-Key", "message": "Field required"}
    ]
    assert recorded(server) == before


@pytest.mark.parametrize(
    "changes, rule, says",
    [
        ({"carrier": "YTO"}, "policy_carrier_enabled", "carrier YTO is not enabled"),
        (
            {"amount_minor": 50},
            "policy_amount_interval",
            "outside merchant m1's intercept interval",
        ),
    ],
)
def test_a_domain_refusal_is_409_problem_json_naming_the_rule(
    server, merchant, changes, rule, says
):
    before = recorded(server)
    refused = ask(merchant, **changes)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert (problem["status"], problem["rule"], problem["type"]) == (
        409,
        rule,
        f"urn:intercept:problem:{rule}",
    )
    assert says in problem["detail"]
    assert recorded(server) == before


@pytest.mark.parametrize(
    "changes, where",
    [
        ({"amount_minor": -1}, "body.amount_minor"),
        ({"carrier": "XXX"}, "body.carrier"),
        ({"tracking_no": "bad tracking\u0007"}, "body.tracking_no"),
        ({"currency": "cny"}, "body.currency"),
        ({"surprise": 1}, "body.surprise"),
        ({"action": "redirect"}, "body"),  # a redirect needs a recipient
        ({"carrier": "DBL"}, "body.carrier"),  # not in the carrier catalog
        (
            {
                "action": "redirect",
                "recipient": {
                    "name": "Li Lei",
                    "phone": "x",
                    "province": "Zhejiang",
                    "city": "Hangzhou",
                    "district": "Xihu",
                    "address": "Room 1",
                },
            },
            "body.recipient.phone",
        ),
    ],
)
def test_invalid_input_is_422_naming_the_field_and_records_nothing(
    server, merchant, changes, where
):
    before = recorded(server)
    refused = ask(merchant, **changes)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["rule"] == "valid_input"
    assert [e["where"] for e in problem["errors"]] == [where]
    assert recorded(server) == before


def test_a_parcel_rule_refusal_does_not_give_away_the_other_intercepts_id(merchant):
    first = ask(merchant, tracking_no="ZTTWICE").json()
    second = ask(merchant, tracking_no="ZTTWICE")
    assert second.json()["rule"] == "one_open_intercept_per_parcel"
    assert first["intercept_id"] not in second.json()["detail"]


def test_cancel_is_irreversible_and_a_late_confirmation_is_flagged(server, merchant, zto):
    iid = ask(merchant).json()["intercept_id"]
    cancelled = merchant.post(f"/v1/intercepts/{iid}/cancel", json={"reason": "misoperation"})
    assert cancelled.json()["status"] == "cancelled"
    again = merchant.post(f"/v1/intercepts/{iid}/cancel", json={"reason": "misoperation"})
    assert again.json()["outcome"] == "already_cancelled"
    with server.client() as carrier:
        late = carrier.post(
            "/v1/carriers/ZTO/callbacks",
            **signed(
                zto,
                {
                    "intercept_id": iid,
                    "report": "confirmed",
                    "occurred_at": "2026-11-26T10:00:00+08:00",
                },
            ),
        )
    assert (late.json()["status"], late.json()["conflicts"]) == (
        "cancelled",
        ["intercepted_after_cancel"],
    )
    shown = merchant.get(f"/v1/intercepts/{iid}").json()
    assert shown["cancellable"] is False
    assert shown["intercept"]["confirmed_at"] == "2026-11-26T02:00:00.000000Z"
    assert [e["event_type"] for e in shown["timeline"]] == [
        "Requested",
        "Cancelled",
        "CarrierConfirmed",
    ]


def test_cancel_for_other_needs_a_note(server, merchant):
    iid = ask(merchant).json()["intercept_id"]
    before = recorded(server)
    refused = merchant.post(f"/v1/intercepts/{iid}/cancel", json={"reason": "other"})
    assert refused.status_code == 422
    assert "needs a note" in refused.json()["detail"]
    assert recorded(server) == before


def test_batch_cancel_reports_each_id_and_what_was_missed(merchant, zto, server):
    a = ask(merchant).json()["intercept_id"]
    b = ask(merchant).json()["intercept_id"]
    unknown = str(uuid.uuid4())
    with server.client() as carrier:
        carrier.post(
            "/v1/carriers/ZTO/callbacks", **signed(zto, {"intercept_id": b, "report": "confirmed"})
        )
    run = merchant.post(
        "/v1/intercepts/cancel",
        json={"intercept_ids": [a, b, unknown], "reason": "buyer_changed_mind"},
    )
    assert run.status_code == 200
    results = run.json()["results"]
    assert [r["outcome"] for r in results] == ["recorded", "refused", "not_found"]
    assert results[1]["rule"] == "cancel_only_while_open"
    assert run.json()["summary"] == {"requested": 3, "cancelled_or_already": 1, "not_cancelled": 2}


def test_a_batch_with_one_invalid_item_records_nothing(server, merchant):
    a = ask(merchant).json()["intercept_id"]
    before = recorded(server)
    refused = merchant.post(
        "/v1/intercepts/cancel", json={"intercept_ids": [a, "not-a-uuid"], "reason": "misoperation"}
    )
    assert refused.status_code == 422
    assert recorded(server) == before
    assert merchant.get(f"/v1/intercepts/{a}").json()["intercept"]["status"] == "requested"


def test_a_retried_batch_with_its_key_is_recorded_once(merchant):
    ids = [ask(merchant).json()["intercept_id"] for _ in range(2)]
    body = {"intercept_ids": ids, "reason": "misoperation"}
    first = merchant.post("/v1/intercepts/cancel", json=body, headers={"Idempotency-Key": "b-1"})
    again = merchant.post("/v1/intercepts/cancel", json=body, headers={"Idempotency-Key": "b-1"})
    assert [r["outcome"] for r in first.json()["results"]] == ["recorded", "recorded"]
    assert [r["outcome"] for r in again.json()["results"]] == ["duplicate", "duplicate"]


def test_fees_add_up_and_a_fee_in_another_currency_is_refused(merchant):
    iid = ask(merchant).json()["intercept_id"]
    merchant.post(
        f"/v1/intercepts/{iid}/fees",
        json={"kind": "storage", "amount_minor": 350},
        headers={"Idempotency-Key": "fee-0"},
    )
    merchant.post(
        f"/v1/intercepts/{iid}/fees",
        json={"kind": "intercept", "amount_minor": 200},
        headers={"Idempotency-Key": "fee-1"},
    )
    merchant.post(
        f"/v1/intercepts/{iid}/fees",
        json={"kind": "intercept", "amount_minor": 200},
        headers={"Idempotency-Key": "fee-1"},
    )
    usd = merchant.post(
        f"/v1/intercepts/{iid}/fees",
        json={"kind": "storage", "amount_minor": 1, "currency": "USD"},
        headers={"Idempotency-Key": "fee-usd"},
    )
    assert (usd.status_code, usd.json()["rule"]) == (409, "fee_in_order_currency")
    assert merchant.get(f"/v1/intercepts/{iid}").json()["intercept"]["fees_minor"] == 550


def test_evidence_keeps_the_file_and_its_sha256_once(server, merchant):
    iid = ask(merchant).json()["intercept_id"]
    content = b"chat: please stop the parcel"
    digest = hashlib.sha256(content).hexdigest()
    upload = {"file": ("chat.txt", content, "text/plain")}
    first = merchant.post(f"/v1/intercepts/{iid}/evidence", files=upload, data={"kind": "chat_log"})
    assert first.status_code == 200, first.text
    assert (first.json()["sha256"], first.json()["outcome"]) == (digest, "recorded")
    again = merchant.post(f"/v1/intercepts/{iid}/evidence", files=upload, data={"kind": "chat_log"})
    assert again.json()["outcome"] == "duplicate"
    assert (server.home / "evidence" / digest[:2] / digest).read_bytes() == content
    shown = merchant.get(f"/v1/intercepts/{iid}").json()
    assert shown["intercept"]["evidence_count"] == 1
    assert shown["timeline"][-1]["data"]["sha256"] == digest


def test_refused_evidence_leaves_no_file(server, merchant):
    content = b"evidence for an intercept that is not there"
    digest = hashlib.sha256(content).hexdigest()
    missing = merchant.post(
        f"/v1/intercepts/{uuid.uuid4()}/evidence",
        files={"file": ("x.txt", content)},
        data={"kind": "other"},
    )
    assert missing.status_code == 404
    iid = ask(merchant).json()["intercept_id"]
    bad_kind = merchant.post(
        f"/v1/intercepts/{iid}/evidence",
        files={"file": ("x.txt", content)},
        data={"kind": "selfie"},
    )
    assert bad_kind.status_code == 422
    empty = merchant.post(
        f"/v1/intercepts/{iid}/evidence", files={"file": ("x.txt", b"")}, data={"kind": "other"}
    )
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    assert not (server.home / "evidence" / digest[:2] / digest).exists()
    assert list((server.home / "evidence" / ".incoming").iterdir()) == []


def test_the_package_center_filters_like_intercept_list(merchant):
    iid = ask(merchant, order_id="FILTER-1").json()["intercept_id"]
    rows = merchant.get("/v1/intercepts", params={"order_id": "FILTER-1"}).json()["intercepts"]
    assert [r["intercept_id"] for r in rows] == [iid]
    assert (
        merchant.get(
            "/v1/intercepts", params={"order_id": "FILTER-1", "status": "cancelled"}
        ).json()["intercepts"]
        == []
    )
    assert (
        merchant.get("/v1/intercepts", params={"until": "2001-01-01T00:00:00Z"}).json()[
            "intercepts"
        ]
        == []
    )
    both = merchant.get("/v1/intercepts", params={"days": 3, "since": "2026-01-01T00:00:00Z"})
    assert both.status_code == 422 and "either days or since/until" in both.json()["detail"]
    naive = merchant.get("/v1/intercepts", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["where"] == "query.since"
    unknown = merchant.get("/v1/intercepts", params={"merchant": "m1"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["where"] == "query.merchant"


def test_the_package_center_pages_with_a_cursor(merchant):
    for _ in range(5):
        ask(merchant, order_id="PAGED")
    first = merchant.get("/v1/intercepts", params={"order_id": "PAGED", "limit": 2}).json()
    second = merchant.get(
        "/v1/intercepts", params={"order_id": "PAGED", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    third = merchant.get(
        "/v1/intercepts", params={"order_id": "PAGED", "limit": 2, "cursor": second["next_cursor"]}
    ).json()
    ids = [r["intercept_id"] for page in (first, second, third) for r in page["intercepts"]]
    assert len(ids) == len(set(ids)) == 5 and third["next_cursor"] is None
    bad = merchant.get("/v1/intercepts", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["rule"] == "valid_input"


def _race(server, merchant, bodies_and_keys):
    def one(body_key):
        body, key = body_key
        with httpx.Client(base_url=server.url, headers=merchant.headers, timeout=30) as client:
            return client.post("/v1/intercepts", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, bodies_and_keys))


def test_concurrent_retries_of_one_request_record_it_once(server, merchant):
    body = {
        "order_id": "o1",
        "tracking_no": "ZTRACE1",
        "carrier": "ZTO",
        "amount_minor": 100,
        "request_reason": "r",
    }
    before = recorded(server)
    answers = _race(server, merchant, [(body, "race-same-key")] * 16)
    assert sorted(a.status_code for a in answers) == [200] * 15 + [201]
    assert {a.json()["intercept_id"] for a in answers} == {str(intercept_id("m1", "race-same-key"))}
    assert recorded(server) == before + 2  # the intercept and its parcel registry


def test_racing_requests_for_one_parcel_open_exactly_one_intercept(server, merchant):
    body = {
        "order_id": "o1",
        "tracking_no": "ZTRACE2",
        "carrier": "ZTO",
        "amount_minor": 100,
        "request_reason": "r",
    }
    answers = _race(server, merchant, [(body, f"race-{n}") for n in range(16)])
    assert sorted(a.status_code for a in answers) == [201] + [409] * 15
    assert {a.json()["rule"] for a in answers if a.status_code == 409} == {
        "one_open_intercept_per_parcel"
    }
    rows = merchant.get("/v1/intercepts", params={"tracking_no": "ZTRACE2"}).json()["intercepts"]
    assert len(rows) == 1 and rows[0]["version"] == 1


RECIPIENT = {
    "name": "Li Lei",
    "phone": "13800138000",
    "province": "Zhejiang",
    "city": "Hangzhou",
    "district": "Xihu",
    "address": "No. 1 Road, Room 101",
}


def test_a_redirect_records_its_recipient_in_the_row(merchant):
    made = ask(merchant, action="redirect", recipient=RECIPIENT, quoted_fee_minor=350)
    assert made.status_code == 201, made.text
    row = merchant.get(f"/v1/intercepts/{made.json()['intercept_id']}").json()["intercept"]
    assert {k: row[f"recipient_{k}"] for k in RECIPIENT} == RECIPIENT
    assert row["quoted_fee_minor"] == 350 and row["flags"] == ""


def test_the_callback_takes_the_new_reports(server, merchant, zto):
    iid = ask(merchant).json()["intercept_id"]
    with server.client() as client:
        for body in ({"report": "confirmed"}, {"report": "returning"}, {"report": "returned"}):
            answer = client.post(
                "/v1/carriers/ZTO/callbacks", **signed(zto, {"intercept_id": iid, **body})
            )
            assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "returned"
        other = ask(merchant).json()["intercept_id"]
        body = {"intercept_id": other, "report": "rejected", "code": "not_a_platform_waybill"}
        answer = client.post("/v1/carriers/ZTO/callbacks", **signed(zto, body))
        assert answer.json()["status"] == "rejected", answer.text
    row = merchant.get(f"/v1/intercepts/{other}").json()["intercept"]
    assert row["rejection_code"] == "not_a_platform_waybill" and row["rejected_at"]
