"""A merchant's package center as the browser tests find it, made through the real API."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.e2e.api_server import ApiServer, Key, signed


@dataclass
class Seeded:
    merchant: Key
    other: Key
    carrier: Key
    ids: dict[str, str] = field(default_factory=dict)
    """Intercept ids by order id."""


def request(server: ApiServer, key: Key, order_id: str, **changes) -> str:
    body = {
        "order_id": order_id,
        "tracking_no": f"ZT{uuid.uuid4().hex[:10].upper()}",
        "carrier": "ZTO",
        "amount_minor": 19_900,
        "request_reason": "buyer_refund",
        **changes,
    }
    with server.client(key) as client:
        answer = client.post(
            "/v1/intercepts", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    assert answer.status_code == 201, answer.text
    return answer.json()["intercept_id"]


def report(server: ApiServer, carrier: Key, iid: str, what: str, **extra) -> None:
    at = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    with server.client() as client:
        answer = client.post(
            "/v1/carriers/ZTO/callbacks",
            **signed(carrier, {"intercept_id": iid, "report": what, "occurred_at": at, **extra}),
        )
    assert answer.status_code == 200, answer.text


def policy(server: ApiServer, key: Key) -> None:
    with server.client(key) as client:
        answer = client.put(
            f"/v1/merchants/{key.merchant_id}/policy",
            json={
                "min_amount_minor": 100,
                "max_amount_minor": 5_000_000,
                "carriers": ["ZTO", "SF"],
            },
        )
    assert answer.status_code == 200, answer.text


def seed(server: ApiServer) -> Seeded:
    """m1: open, accepted, intercepted, failed, rejected, returned, flagged and conflicting
    intercepts; m2: one of its own."""
    found = Seeded(
        merchant=server.key("merchant", merchant="m1"),
        other=server.key("merchant", merchant="m2"),
        carrier=server.key("carrier", carrier="ZTO"),
    )
    policy(server, found.merchant)
    policy(server, found.other)
    ids = found.ids
    for order in (f"PDD-100{n}" for n in range(1, 7)):
        ids[order] = request(server, found.merchant, order)
    # Out for delivery when asked: taken, and flagged as likely to fail.
    ids["PDD-1007"] = request(server, found.merchant, "PDD-1007", parcel_stage="out_for_delivery")
    ids["PDD-1008"] = request(server, found.merchant, "PDD-1008")
    ids["PDD-1009"] = request(server, found.merchant, "PDD-1009")
    ids["PDD-2001"] = request(
        server,
        found.merchant,
        "PDD-2001",
        carrier="SF",
        amount_minor=5_990,
        tracking_no="SF1234567890",
    )
    report(server, found.carrier, ids["PDD-1008"], "rejected", code="not_a_platform_waybill")
    for what in ("confirmed", "returning", "returned"):
        report(server, found.carrier, ids["PDD-1009"], what)
    with server.client(found.merchant) as client:
        fee = client.post(
            f"/v1/intercepts/{ids['PDD-1009']}/fees",
            json={
                "kind": "return_shipping",
                "amount_minor": 800,
                "currency": "CNY",
                "payer": "carrier",
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert fee.status_code == 200, fee.text
    report(server, found.carrier, ids["PDD-1002"], "accepted")
    report(server, found.carrier, ids["PDD-1003"], "confirmed")
    report(server, found.carrier, ids["PDD-1004"], "failed", reason="already_signed")
    # Cancelled, then intercepted anyway: a conflict the merchant must act on.
    with server.client(found.merchant) as client:
        cancelled = client.post(
            f"/v1/intercepts/{ids['PDD-1005']}/cancel", json={"reason": "misoperation"}
        )
        assert cancelled.status_code == 200, cancelled.text
        fee = client.post(
            f"/v1/intercepts/{ids['PDD-1003']}/fees",
            json={"kind": "intercept", "amount_minor": 300, "currency": "CNY", "payer": "merchant"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert fee.status_code == 200, fee.text
    report(server, found.carrier, ids["PDD-1005"], "confirmed")
    ids["M2-9001"] = request(server, found.other, "M2-9001")
    return found
