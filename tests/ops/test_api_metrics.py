"""A running `intercept serve`: its /metrics count commands, requests and bad signatures."""

import time
import uuid

import pytest

from api.signature import SIGNATURE_HEADER
from tests.e2e.api_server import signed, start
from tests.ops.processes import parse


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    server = start(tmp_path_factory.mktemp("ops-api") / "var")
    admin, merchant = server.key("admin"), server.key("merchant", merchant="m1")
    with server.client(admin) as client:
        client.put(
            "/v1/merchants/m1/policy", json={"max_amount_minor": 100_000, "carriers": ["ZTO", "SF"]}
        )
    yield server, merchant, server.key("carrier", carrier="ZTO")
    server.stop()


def scrape(server) -> dict[str, float]:
    with server.client() as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def request_body(amount: int = 1000) -> dict:
    return {
        "order_id": "o1",
        "tracking_no": f"ZT{uuid.uuid4().hex[:10]}",
        "carrier": "ZTO",
        "amount_minor": amount,
        "request_reason": "buyer_refund",
    }


RECORDED = 'intercept_api_commands_total{command="RequestIntercept",outcome="recorded",rule=""}'
REFUSED = (
    'intercept_api_commands_total{command="RequestIntercept",outcome="refused",'
    'rule="policy_amount_interval"}'
)
CREATED = 'intercept_http_requests_total{method="POST",route="/v1/intercepts",status="201"}'
CONFLICT = 'intercept_http_requests_total{method="POST",route="/v1/intercepts",status="409"}'
LATENCY = 'intercept_http_request_duration_seconds_count{method="POST",route="/v1/intercepts"}'


def test_commands_and_requests_are_counted_by_outcome_rule_route_and_status(world):
    server, merchant, _ = world
    before = scrape(server)
    with server.client(merchant) as client:
        for _ in range(3):
            made = client.post(
                "/v1/intercepts",
                headers={"Idempotency-Key": uuid.uuid4().hex},
                json=request_body(),
            )
            assert made.status_code == 201
        refused = client.post(
            "/v1/intercepts",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json=request_body(amount=10_000_000),
        )
        assert refused.status_code == 409
        iid = made.json()["intercept_id"]
        assert client.get(f"/v1/intercepts/{iid}").status_code == 200
    after = scrape(server)
    assert after.get(RECORDED, 0) - before.get(RECORDED, 0) == 3
    assert after.get(REFUSED, 0) - before.get(REFUSED, 0) == 1
    assert after.get(CREATED, 0) - before.get(CREATED, 0) == 3
    assert after.get(CONFLICT, 0) - before.get(CONFLICT, 0) == 1
    assert after[LATENCY] - before.get(LATENCY, 0) == 4
    # By template, never by the raw path: one series for every intercept.
    shown = 'intercept_http_requests_total{method="GET",route="/v1/intercepts/{intercept_id}",status="200"}'
    assert after[shown] >= 1
    assert not any(iid in name for name in after)


def test_callback_signature_failures_are_counted(world):
    server, merchant, zto = world
    with server.client(merchant) as client:
        iid = client.post(
            "/v1/intercepts", headers={"Idempotency-Key": uuid.uuid4().hex}, json=request_body()
        ).json()["intercept_id"]
    before = scrape(server).get("intercept_callback_signature_failures_total", 0)
    body = {"intercept_id": iid, "report": "accepted"}
    stale = signed(zto, body, at=int(time.time()) - 3600)
    forged = signed(zto, body)
    forged["headers"][SIGNATURE_HEADER] = "sha256=" + "0" * 64
    with server.client() as client:
        for kwargs in (stale, forged):
            refused = client.post("/v1/carriers/ZTO/callbacks", **kwargs)
            assert refused.status_code == 401
            assert refused.json()["rule"] == "callback_signature_valid"
        good = client.post("/v1/carriers/ZTO/callbacks", **signed(zto, body))
        assert good.status_code == 200
    assert scrape(server)["intercept_callback_signature_failures_total"] - before == 2


def test_health_and_readiness(world):
    server, _, _ = world
    with server.client() as client:
        assert client.get("/healthz").json() == {"alive": True}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["ready"] is True
        assert ready.json()["projection_lag_events"] == 0
        # Not part of the public API document.
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]
