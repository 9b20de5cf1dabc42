"""End to end over HTTP: an after-sale report makes the engine request the intercept
itself; the carrier's signed callback moves it; a real receiver on loopback gets every
event as a signed webhook, in order. The CLI's after-sale and webhook commands too."""

import pytest
from standardwebhooks import Webhook

from tests.e2e.api_server import signed, start
from tests.e2e.cli import intercept
from tests.support import webhook_receiver


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    server = start(
        tmp_path_factory.mktemp("automation") / "var",
        env={"INTERCEPT_WEBHOOKS_ALLOW_PRIVATE": "1"},
    )
    receiver = webhook_receiver.start()
    yield server, receiver
    receiver.stop()
    server.stop()


def test_after_sale_to_automatic_intercept_to_carrier_to_signed_webhooks(world):
    server, receiver = world
    merchant, zto = server.key("merchant", merchant="m1"), server.key("carrier", carrier="ZTO")
    with server.client(merchant) as client:
        policy = client.put(
            "/v1/merchants/m1/policy",
            json={"max_amount_minor": 100_000, "carriers": ["ZTO"]},
        )
        assert policy.status_code == 200, policy.text
        hook = client.post("/v1/webhooks", json={"merchant_id": "m1", "url": receiver.url})
        assert hook.status_code == 201, hook.text
        secret = hook.json()["secret"]
        assert secret.startswith("whsec_")
        listed = client.get("/v1/webhooks").json()["endpoints"]
        assert "secret" not in listed[0] and listed[0]["status"] == "enabled"

        # The rule is off by default: the record says so.
        body = {
            "merchant_id": "m1",
            "after_sale_id": "AS-1",
            "order_id": "o-1",
            "tracking_no": "ZT-E2E-1",
            "carrier": "ZTO",
            "amount_minor": 19_900,
            "status": "refund_requested",
        }
        off = client.post("/v1/after-sales", json=body).json()["after_sale"]
        assert (off["auto_rule"], off["stopped_by"]) == ("declined", "auto_intercept_off")

        on = client.put(
            "/v1/merchants/m1/policy",
            json={
                "max_amount_minor": 100_000,
                "carriers": ["ZTO"],
                "auto_intercept": ["refund_requested", "return_requested"],
            },
        )
        assert on.status_code == 200, on.text
        made = client.post("/v1/after-sales", json={**body, "after_sale_id": "AS-2"})
        assert made.status_code == 200, made.text
        answer = made.json()["after_sale"]
        assert answer["auto_rule"] == "requested"
        iid = answer["intercept_id"]
        again = client.post("/v1/after-sales", json={**body, "after_sale_id": "AS-2"}).json()
        assert (again["outcome"], again["after_sale"]["intercept_id"]) == ("unchanged", iid)
        got = client.get("/v1/merchants/m1/after-sales/AS-2").json()
        assert got["intercept_id"] == iid

        money = client.post("/v1/after-sales", json={**body, "amount_minor": "199.00"})
        assert money.status_code == 422

    with server.client() as client:
        for report in ("accepted", "confirmed"):
            answer = client.post(
                "/v1/carriers/ZTO/callbacks",
                **signed(zto, {"intercept_id": iid, "report": report}),
            )
            assert answer.status_code == 200, answer.text

    received = receiver.wait_for(3)
    mine = [r for r in received if r.event["intercept_id"] == iid]
    assert [r.event["event_type"] for r in mine] == [
        "Requested",
        "CarrierAccepted",
        "CarrierConfirmed",
    ]
    for r in mine:
        Webhook(secret).verify(r.body, r.headers)
    assert mine[0].event["actor"] == "auto-rule"

    with server.client(merchant) as client:
        log = client.get("/v1/webhooks/deliveries").json()["deliveries"]
        assert {d["status"] for d in log if d["intercept_id"] == iid} == {"delivered"}
        other = server.key("merchant", merchant="m2")
    with server.client(other) as client:
        assert client.get("/v1/webhooks/deliveries").json()["deliveries"] == []
        assert client.get("/v1/merchants/m1/after-sales/AS-2").status_code == 404
    assert secret not in (server.home / "serve.log").read_text()


def test_the_cli_reports_after_sales_and_manages_webhooks(tmp_path):
    home = tmp_path / "var"

    def run(*args: str):
        return intercept(home, *args)

    policy = run(
        "policy",
        "set",
        "m1",
        "--max-amount",
        "1000",
        "--carriers",
        "ZTO",
        "--auto-intercept",
        "refund_requested",
    )
    assert policy.code == 0, policy.err
    report = [
        "after-sale",
        "report",
        "--merchant",
        "m1",
        "--order",
        "o1",
        "--status",
        "refund_requested",
        "--carrier",
        "ZTO",
    ]
    out = run(*report, "--after-sale-id", "A1", "--tracking", "T1", "--amount", "199.00", "--json")
    assert out.code == 0, out.err
    made = out.json()["after_sale"]
    assert made["auto_rule"] == "requested" and made["amount_minor"] == 19_900
    bad = run(*report, "--after-sale-id", "A2", "--tracking", "T2", "--amount", "199.001")
    assert bad.code == 2 and "--amount" in bad.err
    changed = run("after-sale", made["intercept_id"], "refunded", "--json")
    assert changed.code == 0 and changed.json()["outcome"] == "recorded"
    added = run("webhooks", "add", "--merchant", "m1", "--url", "https://example.com/h", "--json")
    assert added.code == 0, added.err
    secret = added.json()["secret"]
    assert secret.startswith("whsec_")
    listed = run("webhooks", "list", "--json").json()["endpoints"]
    assert [e["endpoint_id"] for e in listed] == [added.json()["endpoint_id"]]
    assert secret not in run("webhooks", "list").out
    refused = run("webhooks", "add", "--merchant", "m1", "--url", "http://127.0.0.1/h")
    assert refused.code == 2 and "url" in refused.err
    assert run("webhooks", "remove", added.json()["endpoint_id"]).code == 0
    assert run("webhooks", "list", "--json").json()["endpoints"] == []
