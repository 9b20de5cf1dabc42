"""Access control: every endpoint against every kind of key, over real HTTP.

A merchant key acts only on its merchant's intercepts (another merchant's answers
404, as if it did not exist); a carrier key only reports for its own carrier's
parcels; an auditor key reads everything and changes nothing; an admin key
manages keys and policies. Whatever is refused records nothing.
"""

import sqlite3
import uuid

import pytest

from api.composition import open_key_store
from engine.settings import Settings
from tests.e2e.api_server import signed, start

ROLES = (
    "none",
    "revoked",
    "merchant",
    "other_merchant",
    "carrier",
    "other_carrier",
    "auditor",
    "admin",
)

# endpoint: the status each role gets, in the order of ROLES.
TABLE = {
    "set_policy": (401, 401, 200, 404, 403, 403, 403, 200),
    "get_policy": (401, 401, 200, 404, 403, 403, 200, 200),
    "request": (401, 401, 201, 201, 403, 403, 403, 403),
    "cancel": (401, 401, 200, 404, 403, 403, 403, 403),
    "cancel_batch": (401, 401, 200, 200, 403, 403, 403, 403),
    "add_fee": (401, 401, 200, 404, 403, 403, 403, 403),
    "after_sale": (401, 401, 200, 404, 403, 403, 403, 403),
    "evidence": (401, 401, 200, 404, 403, 403, 403, 403),
    "list": (401, 401, 200, 200, 403, 403, 200, 403),
    "show": (401, 401, 200, 404, 403, 403, 200, 403),
    "stats": (401, 401, 200, 404, 403, 403, 200, 403),
    "export_csv": (401, 401, 200, 404, 403, 403, 200, 403),
    "callback": (401, 401, 403, 403, 200, 403, 403, 403),
    "create_key": (401, 401, 403, 403, 403, 403, 403, 201),
    "list_keys": (401, 401, 403, 403, 403, 403, 403, 200),
    "revoke_key": (401, 401, 403, 403, 403, 403, 403, 200),
    "erase": (401, 401, 403, 403, 403, 403, 403, 200),
}
POLICY = {"min_amount_minor": 0, "max_amount_minor": 500_000, "carriers": ["SF", "ZTO"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    server = start(tmp_path_factory.mktemp("access") / "var")
    keys = {
        "merchant": server.key("merchant", merchant="m1"),
        "other_merchant": server.key("merchant", merchant="m2"),
        "carrier": server.key("carrier", carrier="ZTO"),
        "other_carrier": server.key("carrier", carrier="SF"),
        "auditor": server.key("auditor"),
        "admin": server.key("admin"),
        "revoked": server.key("merchant", merchant="m1"),
    }
    open_key_store(Settings(home=server.home)).revoke(keys["revoked"].key_id)
    with server.client(keys["admin"]) as admin:
        for merchant in ("m1", "m2"):
            assert admin.put(f"/v1/merchants/{merchant}/policy", json=POLICY).status_code == 200
    yield server, keys
    server.stop()


@pytest.fixture
def intercept_id(world) -> str:
    """A fresh intercept of merchant m1 with carrier ZTO."""
    server, keys = world
    with server.client(keys["merchant"]) as m1:
        made = m1.post(
            "/v1/intercepts",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "order_id": "o1",
                "tracking_no": f"ZT{uuid.uuid4().hex[:12]}",
                "carrier": "ZTO",
                "amount_minor": 1000,
                "request_reason": "buyer_refund",
            },
        )
    assert made.status_code == 201, made.text
    return made.json()["intercept_id"]


def _call(endpoint: str, client, key, iid: str, spare_key_id: str):
    calls = {
        "set_policy": lambda: client.put("/v1/merchants/m1/policy", json=POLICY),
        "get_policy": lambda: client.get("/v1/merchants/m1/policy"),
        "request": lambda: client.post(
            "/v1/intercepts",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "order_id": "o2",
                "tracking_no": f"SF{uuid.uuid4().hex[:12]}",
                "carrier": "SF",
                "amount_minor": 1000,
                "request_reason": "buyer_refund",
            },
        ),
        "cancel": lambda: client.post(
            f"/v1/intercepts/{iid}/cancel", json={"reason": "misoperation"}
        ),
        "cancel_batch": lambda: client.post(
            "/v1/intercepts/cancel", json={"intercept_ids": [iid], "reason": "misoperation"}
        ),
        "add_fee": lambda: client.post(
            f"/v1/intercepts/{iid}/fees",
            json={"kind": "storage", "amount_minor": 100},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ),
        "after_sale": lambda: client.post(
            f"/v1/intercepts/{iid}/after-sale",
            json={"after_sale_status": "refund_requested"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ),
        "evidence": lambda: client.post(
            f"/v1/intercepts/{iid}/evidence",
            files={"file": ("a.txt", uuid.uuid4().bytes)},
            data={"kind": "other"},
        ),
        "list": lambda: client.get("/v1/intercepts", params={"limit": 1000}),
        "show": lambda: client.get(f"/v1/intercepts/{iid}"),
        "stats": lambda: client.get("/v1/stats", params={"merchant_id": "m1"}),
        "export_csv": lambda: client.get("/v1/intercepts.csv", params={"merchant_id": "m1"}),
        "callback": lambda: client.post("/v1/carriers/ZTO/callbacks", **_callback(key, iid)),
        "create_key": lambda: client.post("/v1/keys", json={"role": "auditor"}),
        "list_keys": lambda: client.get("/v1/keys"),
        "revoke_key": lambda: client.post(f"/v1/keys/{spare_key_id}/revoke"),
        # A subject nobody has data of: allowed, and nothing to erase or record.
        "erase": lambda: client.post("/v1/erasures", json={"subject": f"buyer-{uuid.uuid4().hex}"}),
    }
    return calls[endpoint]()


def _callback(key, iid: str) -> dict:
    body = {"intercept_id": iid, "report": "accepted"}
    if key is not None and key.signing_secret:
        return signed(key, body)
    return {"json": body, "headers": key.headers if key else {}}


def _recorded(server) -> tuple[int, int]:
    with sqlite3.connect(server.home / "events.db") as events:
        n_events = events.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
    with sqlite3.connect(server.home / "keys.db") as keys:
        n_live = keys.execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[
            0
        ]
    return n_events, n_live


@pytest.mark.parametrize("endpoint", TABLE)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_table_says_and_a_refusal_records_nothing(
    world, intercept_id, endpoint, role
):
    server, keys = world
    key = keys.get(role)
    expected = TABLE[endpoint][ROLES.index(role)]
    spare_key_id = server.key("auditor").key_id
    with server.client(key) as client:
        before = _recorded(server)
        answer = _call(endpoint, client, key, intercept_id, spare_key_id)
        after = _recorded(server)
    assert answer.status_code == expected, answer.text
    if expected >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == expected
        assert after == before, "a refused call recorded events or changed keys"


def test_another_merchants_intercept_is_not_revealed_anywhere(world, intercept_id):
    server, keys = world
    with server.client(keys["other_merchant"]) as m2:
        batch = m2.post(
            "/v1/intercepts/cancel",
            json={"intercept_ids": [intercept_id], "reason": "misoperation"},
        )
        listed = m2.get("/v1/intercepts", params={"limit": 1000}).json()["intercepts"]
        asked_for_m1 = m2.get("/v1/intercepts", params={"merchant_id": "m1"}).json()
        foreign = m2.get(f"/v1/intercepts/{intercept_id}").json()
        unknown_id = str(uuid.uuid4())
        unknown = m2.get(f"/v1/intercepts/{unknown_id}").json()
    assert batch.json()["results"][0]["outcome"] == "not_found"
    assert intercept_id not in {r["intercept_id"] for r in listed}
    assert asked_for_m1["intercepts"] == []
    # The same answer as for an id that does not exist, but for the id itself.
    assert {k: str(v).replace(intercept_id, "ID") for k, v in foreign.items()} == {
        k: str(v).replace(unknown_id, "ID") for k, v in unknown.items()
    }
    with server.client(keys["merchant"]) as m1:
        assert m1.get(f"/v1/intercepts/{intercept_id}").json()["intercept"]["status"] == "requested"


def test_the_auditor_sees_every_merchant(world, intercept_id):
    server, keys = world
    with server.client(keys["auditor"]) as auditor:
        rows = auditor.get("/v1/intercepts", params={"limit": 1000}).json()["intercepts"]
    assert {"m1", "m2"} <= {r["merchant_id"] for r in rows}
    assert intercept_id in {r["intercept_id"] for r in rows}


def test_a_carrier_cannot_report_on_another_carriers_parcel(world, intercept_id):
    server, keys = world
    sf = keys["other_carrier"]
    before = _recorded(server)
    with server.client() as client:
        answer = client.post(
            "/v1/carriers/SF/callbacks",
            **signed(sf, {"intercept_id": intercept_id, "report": "confirmed"}),
        )
    assert answer.status_code == 404
    assert _recorded(server) == before


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer ik_not-a-key",
        "Basic bTE6cGFzcw==",
        "Token ik_x",
    ],
)
def test_no_key_or_a_wrong_one_is_401_with_a_bearer_challenge(world, authorization):
    server, _ = world
    headers = {"Authorization": authorization} if authorization else {}
    with server.client() as client:
        answer = client.get("/v1/intercepts", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["rule"] == "api_key_valid"
