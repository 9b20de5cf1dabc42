"""The CLI's end-to-end scenarios, once through `intercept` and once over HTTP: same rows.

Both runs use the same idempotency keys, so the same intercept ids; times the
engine's clock gives differ between runs and are compared only for presence.
"""

import pytest

from tests.e2e.api_server import signed, start
from tests.e2e.cli import intercept, request_args

CLOCK_COLUMNS = (
    "requested_at",
    "accepted_at",
    "failed_at",
    "cancelled_at",
    "released_at",
    "updated_at",
)
CONFIRMED_AT = "2026-11-26T10:00:00+08:00"


def _comparable(rows: list[dict]) -> list[dict]:
    return sorted(
        ({k: (v is not None) if k in CLOCK_COLUMNS else v for k, v in r.items()} for r in rows),
        key=lambda r: r["intercept_id"],
    )


def by_cli(home, shot) -> tuple[list[dict], dict]:
    def run(*args, ok=(0,)):
        done = intercept(home, *args)
        assert done.code in ok, done.err
        return done

    def ask(key, order, tracking, *extra):
        made = run(*request_args(order=order, tracking=tracking, key=key), "--json", *extra)
        return made.json()["intercept_id"]

    run(
        "policy",
        "set",
        "m1",
        "--min-amount",
        "1.00",
        "--max-amount",
        "5000.00",
        "--carriers",
        "ZTO,SF",
    )
    a = ask("k1", "o1", "ZT1")
    run("cancel", a, "--reason", "misoperation", "--yes")
    run("cancel", a, "--reason", "misoperation", "--yes")
    run("carrier", a, "confirmed", "--carrier", "ZTO", "--at", CONFIRMED_AT)
    b, c = ask("k2", "o2", "ZT2"), ask("k3", "o3", "ZT3")
    run("carrier", b, "confirmed", "--carrier", "ZTO", "--at", CONFIRMED_AT)
    run("cancel", c, b, "--reason", "buyer_changed_mind", "--yes", ok=(3,))
    ask("apply-1", "o4", "ZT4")
    ask("apply-1", "o4", "ZT4")
    d = ask("k5", "o5", "ZT5")
    run("fee", d, "--kind", "storage", "--amount", "3.50")
    run("evidence", d, "--kind", "screenshot", "--file", str(shot))
    refused = dict(order="o9", tracking="YT1", carrier="YTO", amount="10.00", reason="x", key="k9")
    run(*request_args(**refused), ok=(3,))
    invalid = dict(order="o9", tracking="ZT9", amount="-1", reason="x", key="k10")
    run(*request_args(**invalid), ok=(2,))
    rows = run("list", "--json", "--limit", "1000").json()["intercepts"]
    timelines = {
        r["intercept_id"]: [
            e["event_type"] for e in run("show", r["intercept_id"], "--json").json()["timeline"]
        ]
        for r in rows
    }
    return rows, timelines


def by_http(server, shot) -> tuple[list[dict], dict]:
    admin, m1 = server.key("admin"), server.key("merchant", merchant="m1")
    zto = server.key("carrier", carrier="ZTO")
    with server.client(admin) as client:
        client.put(
            "/v1/merchants/m1/policy",
            json={"min_amount_minor": 100, "max_amount_minor": 500_000, "carriers": ["ZTO", "SF"]},
        )
    with server.client(m1) as client, server.client() as carrier:

        def ask(key, order, tracking, carrier_code="ZTO", amount=19_900):
            return client.post(
                "/v1/intercepts",
                headers={"Idempotency-Key": key},
                json={
                    "order_id": order,
                    "tracking_no": tracking,
                    "carrier": carrier_code,
                    "amount_minor": amount,
                    "request_reason": "buyer_refund",
                },
            )

        def confirm(iid):
            body = {"intercept_id": iid, "report": "confirmed", "occurred_at": CONFIRMED_AT}
            answer = carrier.post("/v1/carriers/ZTO/callbacks", **signed(zto, body))
            assert answer.status_code == 200, answer.text

        a = ask("k1", "o1", "ZT1").json()["intercept_id"]
        for _ in range(2):
            client.post(f"/v1/intercepts/{a}/cancel", json={"reason": "misoperation"})
        confirm(a)
        b, c = (
            ask(k, o, t).json()["intercept_id"]
            for k, o, t in (("k2", "o2", "ZT2"), ("k3", "o3", "ZT3"))
        )
        confirm(b)
        client.post(
            "/v1/intercepts/cancel", json={"intercept_ids": [c, b], "reason": "buyer_changed_mind"}
        )
        ask("apply-1", "o4", "ZT4")
        ask("apply-1", "o4", "ZT4")
        d = ask("k5", "o5", "ZT5").json()["intercept_id"]
        client.post(
            f"/v1/intercepts/{d}/fees",
            json={"kind": "storage", "amount_minor": 350},
            headers={"Idempotency-Key": "fee-d"},
        )
        client.post(
            f"/v1/intercepts/{d}/evidence",
            data={"kind": "screenshot"},
            files={"file": ("shot.png", shot.read_bytes())},
        )
        assert ask("k9", "o9", "YT1", carrier_code="YTO").status_code == 409
        assert ask("k10", "o9", "ZT9", amount=-1).status_code == 422
        rows = client.get("/v1/intercepts", params={"limit": 1000}).json()["intercepts"]
        timelines = {
            r["intercept_id"]: [
                e["event_type"]
                for e in client.get(f"/v1/intercepts/{r['intercept_id']}").json()["timeline"]
            ]
            for r in rows
        }
    return rows, timelines


@pytest.fixture
def shot(tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(b"screenshot of the chat")
    return path


def test_the_cli_and_the_api_give_the_same_projection_rows(tmp_path, shot):
    cli_rows, cli_timelines = by_cli(tmp_path / "cli", shot)
    server = start(tmp_path / "api")
    try:
        api_rows, api_timelines = by_http(server, shot)
    finally:
        server.stop()
    assert len(cli_rows) == 5
    assert _comparable(api_rows) == _comparable(cli_rows)
    assert api_timelines == cli_timelines
