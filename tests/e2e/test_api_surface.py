"""The API's edges, against a running `intercept serve`: retries, after-sale, 405s, the docs."""

import sqlite3
import uuid

import pytest

from tests.e2e.api_server import start

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start(tmp_path_factory.mktemp("surface") / "var")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def merchant(server):
    key = server.key("merchant", merchant="m1")
    with server.client(key) as client:
        client.put(
            "/v1/merchants/m1/policy", json={"max_amount_minor": 500_000, "carriers": ["ZTO"]}
        ).raise_for_status()
        yield client


def recorded(server) -> int:
    with sqlite3.connect(server.home / "events.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


def ask(client) -> str:
    made = client.post(
        "/v1/intercepts",
        headers={"Idempotency-Key": uuid.uuid4().hex},
        json={
            "order_id": "o1",
            "tracking_no": f"ZT{uuid.uuid4().hex[:10]}",
            "carrier": "ZTO",
            "amount_minor": 19_900,
            "request_reason": "buyer_refund",
        },
    )
    assert made.status_code == 201, made.text
    return made.json()["intercept_id"]


def test_a_fee_without_an_idempotency_key_is_refused_and_records_nothing(server, merchant):
    iid = ask(merchant)
    before = recorded(server)
    answer = merchant.post(
        f"/v1/intercepts/{iid}/fees", json={"kind": "storage", "amount_minor": 5}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert [e["where"] for e in answer.json()["errors"]] == ["header.Idempotency-Key"]
    assert recorded(server) == before


def test_a_retried_fee_is_recorded_once(server, merchant):
    iid = ask(merchant)
    fee = {"kind": "storage", "amount_minor": 5}
    first = merchant.post(f"/v1/intercepts/{iid}/fees", json=fee, headers={"Idempotency-Key": "f"})
    again = merchant.post(f"/v1/intercepts/{iid}/fees", json=fee, headers={"Idempotency-Key": "f"})
    assert (first.json()["outcome"], again.json()["outcome"]) == ("recorded", "duplicate")
    assert merchant.get(f"/v1/intercepts/{iid}").json()["intercept"]["fees_minor"] == 5


def test_the_after_sale_status_changes_over_http_once_per_key(server, merchant):
    iid = ask(merchant)
    path = f"/v1/intercepts/{iid}/after-sale"
    body = {"after_sale_status": "refund_requested"}
    missing_key = merchant.post(path, json=body)
    assert missing_key.status_code == 422
    first = merchant.post(path, json=body, headers={"Idempotency-Key": "as-1"})
    again = merchant.post(path, json=body, headers={"Idempotency-Key": "as-1"})
    same = merchant.post(path, json=body, headers={"Idempotency-Key": "as-2"})
    assert first.status_code == 200, first.text
    assert [a.json()["outcome"] for a in (first, again, same)] == [
        "recorded",
        "duplicate",
        "unchanged",
    ]
    row = merchant.get(f"/v1/intercepts/{iid}").json()["intercept"]
    assert row["after_sale_status"] == "refund_requested"


def test_an_unknown_after_sale_status_is_422_naming_the_field(merchant):
    iid = ask(merchant)
    answer = merchant.post(
        f"/v1/intercepts/{iid}/after-sale",
        json={"after_sale_status": "lost"},
        headers={"Idempotency-Key": "x"},
    )
    assert answer.status_code == 422
    assert [e["where"] for e in answer.json()["errors"]] == ["body.after_sale_status"]


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("DELETE", "/v1/intercepts", "GET, POST"),
        ("PUT", "/v1/intercepts", "GET, POST"),
        ("POST", "/v1/merchants/m1/policy", "GET, PUT"),
        ("DELETE", "/v1/keys", "GET, POST"),
    ],
)
def test_a_405_lists_every_method_of_the_path(merchant, method, path, allowed):
    answer = merchant.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["content-type"] == PROBLEM
    assert answer.headers["allow"] == allowed


def test_the_docs_load_their_assets_from_the_server_itself(server):
    with server.client() as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page)
            assert html.status_code == 200
            assert "cdn." not in html.text and "googleapis" not in html.text, page
            assets = [
                part.split('"')[0]
                for part in html.text.replace("'", '"').split('src="')[1:]
                + html.text.split('href="')[1:]
                if part.startswith("/")
            ]
            assert assets, page
            for asset in assets:
                assert client.get(asset).status_code == 200, asset


@pytest.fixture(scope="module")
def other_merchant(server):
    key = server.key("merchant", merchant="m2")
    with server.client(key) as client:
        client.put(
            "/v1/merchants/m2/policy", json={"max_amount_minor": 500_000, "carriers": ["ZTO"]}
        ).raise_for_status()
        yield client


def _ask_for(client, tracking_no: str):
    return client.post(
        "/v1/intercepts",
        headers={"Idempotency-Key": uuid.uuid4().hex},
        json={
            "order_id": "o1",
            "tracking_no": tracking_no,
            "carrier": "ZTO",
            "amount_minor": 19_900,
            "request_reason": "buyer_refund",
        },
    )


def test_another_merchants_open_intercept_is_not_disclosed(server, merchant, other_merchant):
    tracking = f"ZT{uuid.uuid4().hex[:10]}"
    first = _ask_for(merchant, tracking)
    assert first.status_code == 201
    before = recorded(server)
    refused = _ask_for(other_merchant, tracking)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["rule"] == "parcel_unavailable"
    for told in ("open", "requested", "intercept ", first.json()["intercept_id"], "m1"):
        assert told not in problem["detail"], problem["detail"]
    assert recorded(server) == before
    own = _ask_for(merchant, tracking)
    assert own.json()["rule"] == "one_open_intercept_per_parcel"


def test_an_intercepted_parcel_of_another_merchant_gets_the_same_refusal(
    server, merchant, other_merchant
):
    tracking = f"ZT{uuid.uuid4().hex[:10]}"
    iid = _ask_for(merchant, tracking).json()["intercept_id"]
    zto = server.key("carrier", carrier="ZTO")
    from tests.e2e.api_server import signed

    with server.client() as client:
        confirmed = client.post(
            "/v1/carriers/ZTO/callbacks",
            **signed(zto, {"intercept_id": iid, "report": "confirmed"}),
        )
    assert confirmed.json()["status"] == "intercepted"
    open_tracking = f"ZT{uuid.uuid4().hex[:10]}"
    _ask_for(merchant, open_tracking)
    after_success = _ask_for(other_merchant, tracking).json()
    while_open = _ask_for(other_merchant, open_tracking).json()
    assert after_success["rule"] == while_open["rule"] == "parcel_unavailable"
    assert after_success["detail"].replace(tracking, "T") == while_open["detail"].replace(
        open_tracking, "T"
    )


def _events_of_type(server, topic_part: str) -> int:
    with sqlite3.connect(server.home / "events.db") as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM stored_events WHERE topic LIKE ?", (f"%{topic_part}%",)
        ).fetchone()[0]


def test_evidence_whose_folder_cannot_be_made_records_nothing_and_a_retry_succeeds(
    server, merchant
):
    import hashlib
    import stat

    iid = ask(merchant)
    content = f"chat {uuid.uuid4()}".encode()
    digest = hashlib.sha256(content).hexdigest()
    blocker = server.home / "evidence" / digest[:2]
    if blocker.exists():
        pytest.skip("another upload made this folder already")
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"")  # a file where the folder must go: making it fails
    upload = {"files": {"file": ("chat.txt", content)}, "data": {"kind": "chat_log"}}
    headers = {"Idempotency-Key": "ev-1"}
    before = _events_of_type(server, "EvidenceAttached")
    failed = merchant.post(f"/v1/intercepts/{iid}/evidence", headers=headers, **upload)
    assert failed.status_code == 503, failed.text
    assert failed.headers["content-type"] == PROBLEM
    assert failed.json()["rule"] == "evidence_stored_first"
    assert _events_of_type(server, "EvidenceAttached") == before
    assert list((server.home / "evidence" / ".incoming").iterdir()) == []
    blocker.unlink()
    retried = merchant.post(f"/v1/intercepts/{iid}/evidence", headers=headers, **upload)
    assert retried.json()["outcome"] == "recorded"
    kept = server.home / "evidence" / digest[:2] / digest
    assert kept.read_bytes() == content
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert list((server.home / "evidence" / ".incoming").iterdir()) == []


@pytest.mark.parametrize(
    "raw, field",
    [
        (b'{"reason": "other", "note": "a", "note": "b"}', "note"),
        (b'{"reason": "misoperation", "reason": "other"}', "reason"),
    ],
)
def test_a_body_naming_a_key_twice_is_refused(server, merchant, raw, field):
    iid = ask(merchant)
    before = recorded(server)
    answer = merchant.post(
        f"/v1/intercepts/{iid}/cancel", content=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert [e["where"] for e in answer.json()["errors"]] == [f"body.{field}"]
    assert recorded(server) == before


def test_a_signed_callback_naming_a_key_twice_is_refused(server, merchant):
    from tests.e2e.api_server import signed

    iid = ask(merchant)
    zto = server.key("carrier", carrier="ZTO")
    raw = f'{{"intercept_id": "{iid}", "report": "failed", "report": "confirmed"}}'.encode()
    before = recorded(server)
    with server.client() as client:
        answer = client.post("/v1/carriers/ZTO/callbacks", **signed(zto, raw))
    assert answer.status_code == 422, answer.text
    assert [e["where"] for e in answer.json()["errors"]] == ["body.report"]
    assert recorded(server) == before


@pytest.mark.parametrize("text", ["stop \u009b[2J", "refund \u202egnp.exe", "x\u2066y"])
def test_text_with_c1_controls_or_bidi_overrides_is_refused(server, merchant, text):
    iid = ask(merchant)
    before = recorded(server)
    cancel = merchant.post(f"/v1/intercepts/{iid}/cancel", json={"reason": "other", "note": text})
    redirect = merchant.post(
        "/v1/intercepts",
        headers={"Idempotency-Key": uuid.uuid4().hex},
        json={
            "order_id": "o1",
            "tracking_no": f"ZT{uuid.uuid4().hex[:10]}",
            "carrier": "ZTO",
            "amount_minor": 100,
            "request_reason": "r",
            "action": "redirect",
            "recipient": {
                **{
                    "name": "Li Lei",
                    "phone": "13800138000",
                    "province": "Zhejiang",
                    "city": "Hangzhou",
                    "district": "Xihu",
                    "address": "Room 1",
                },
                "address": text,
            },
        },
    )
    evidence = merchant.post(
        f"/v1/intercepts/{iid}/evidence",
        files={"file": ("a.txt", uuid.uuid4().bytes)},
        data={"kind": "other", "note": text},
    )
    wheres = [a.json()["errors"][0]["where"] for a in (cancel, redirect, evidence)]
    assert [a.status_code for a in (cancel, redirect, evidence)] == [422] * 3
    assert wheres == ["body.note", "body.recipient.address", "body.note"]
    assert "control characters" in cancel.json()["errors"][0]["message"]
    assert recorded(server) == before


def test_an_oversized_authorization_header_is_a_problem_not_a_plain_400(server):
    with server.client() as client:
        answer = client.get("/v1/intercepts", headers={"Authorization": "Bearer " + "k" * 4000})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["rule"] == "api_key_valid"


def test_a_request_head_over_uvicorns_limit_is_refused_by_uvicorn_and_closed(server):
    """Documented in docs/api.md: the API never sees such a request, so cannot answer it."""
    import socket

    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET /v1/intercepts HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ")
        conn.sendall(b"k" * 200_000 + b"\r\n\r\n")
        head = conn.recv(300)
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in head


def test_the_home_and_its_databases_are_the_owners_only(server, merchant):
    import stat

    ask(merchant)
    merchant.post(
        f"/v1/intercepts/{ask(merchant)}/evidence",
        files={"file": ("a.txt", uuid.uuid4().bytes)},
        data={"kind": "other"},
    )
    home = server.home

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home) == 0o700
    for name in ("events.db", "projections.db", "keys.db"):
        assert mode(home / name) == 0o600, name
    assert mode(home / "evidence") == 0o700
    assert {mode(p) for p in (home / "evidence").rglob("*") if p.is_file()} == {0o600}
    assert {mode(p) for p in (home / "evidence").rglob("*") if p.is_dir()} == {0o700}
