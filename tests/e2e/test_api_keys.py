"""API keys: `intercept keys create|list|revoke`, and an admin key managing keys over HTTP."""

import uuid

import pytest

from api.composition import open_key_store
from engine.settings import Settings
from tests.e2e.api_server import Key, signed, start
from tests.e2e.cli import intercept


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start(tmp_path_factory.mktemp("keys") / "var")
    yield running
    running.stop()


def created(server, *args) -> Key:
    run = intercept(server.home, "keys", "create", *args, "--json")
    assert run.code == 0, run.err
    out = run.json()
    return Key(
        out["key"],
        out["key_id"],
        out["role"],
        out["merchant_id"],
        out["carrier"],
        out["signing_secret"],
    )


def test_a_created_key_is_printed_once_and_stored_only_hashed(server):
    key = created(server, "--role", "merchant", "--merchant", "m1")
    assert key.key.startswith("ik_") and len(key.key) > 40
    with server.client(key) as client:
        assert client.get("/v1/intercepts").status_code == 200
    stored = (server.home / "keys.db").read_bytes()
    assert key.key.encode() not in stored
    listed = intercept(server.home, "keys", "list", "--json")
    assert key.key not in listed.out
    row = next(k for k in listed.json()["keys"] if k["key_id"] == key.key_id)
    assert (row["role"], row["merchant_id"], row["revoked_at"]) == ("merchant", "m1", None)


def test_a_carrier_key_comes_with_the_secret_its_callbacks_are_signed_with(server):
    admin = created(server, "--role", "admin")
    merchant = created(server, "--role", "merchant", "--merchant", "m2")
    zto = created(server, "--role", "carrier", "--carrier", "zto")
    assert zto.carrier == "ZTO" and zto.signing_secret.startswith("whsec_")
    assert intercept(server.home, "keys", "list").out.count("whsec_") == 0
    with server.client(admin) as client:
        client.put(
            "/v1/merchants/m2/policy", json={"max_amount_minor": 10_000, "carriers": ["ZTO"]}
        )
    with server.client(merchant) as client:
        iid = client.post(
            "/v1/intercepts",
            headers={"Idempotency-Key": "k"},
            json={
                "order_id": "o",
                "tracking_no": "ZTKEYS1",
                "carrier": "ZTO",
                "amount_minor": 100,
                "request_reason": "r",
            },
        ).json()["intercept_id"]
    with server.client() as client:
        answer = client.post(
            "/v1/carriers/ZTO/callbacks", **signed(zto, {"intercept_id": iid, "report": "accepted"})
        )
    assert answer.json()["status"] == "accepted"


def test_a_revoked_key_opens_nothing_from_the_next_request_on(server):
    key = created(server, "--role", "auditor")
    with server.client(key) as client:
        assert client.get("/v1/intercepts").status_code == 200
        assert intercept(server.home, "keys", "revoke", key.key_id).code == 0
        assert client.get("/v1/intercepts").status_code == 401
    again = intercept(server.home, "keys", "revoke", key.key_id, "--json")
    assert again.code == 0  # revoking twice keeps the first time
    assert intercept(server.home, "keys", "revoke", "key_000000000000").code == 1


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--role", "merchant"], "a merchant key needs a merchant"),
        (["--role", "auditor", "--merchant", "m1"], "only a merchant key takes one"),
        (["--role", "carrier", "--carrier", "XXX"], "carrier"),
        (["--role", "admin", "--carrier", "ZTO"], "only a carrier key takes one"),
        (["--role", "merchant", "--merchant", "bad merchant"], "merchant_id"),
        (["--role", "root"], "root"),
    ],
)
def test_a_key_that_would_be_ill_scoped_is_refused(server, args, complaint):
    store = open_key_store(Settings(home=server.home))
    before = store.all()
    run = intercept(server.home, "keys", "create", *args)
    assert run.code == 2
    assert complaint in run.err
    assert store.all() == before


def test_an_admin_manages_keys_over_http(server):
    admin = created(server, "--role", "admin")
    with server.client(admin) as client:
        made = client.post("/v1/keys", json={"role": "merchant", "merchant_id": "m9"})
        assert made.status_code == 201
        new = made.json()
        assert new["key"].startswith("ik_") and new["signing_secret"] is None
        listed = client.get("/v1/keys").json()
        assert new["key_id"] in {k["key_id"] for k in listed}
        assert all("key" not in k and "signing_secret" not in k for k in listed)
        bad = client.post("/v1/keys", json={"role": "carrier"})
        assert bad.status_code == 422 and "needs a carrier" in bad.json()["detail"]
        unknown = client.post("/v1/keys", json={"role": "carrier", "carrier": "XXX"})
        assert unknown.status_code == 422 and "unknown carrier" in unknown.text
        missing = client.post(f"/v1/keys/key_{uuid.uuid4().hex[:12]}/revoke")
        assert missing.status_code == 404
        revoked = client.post(f"/v1/keys/{new['key_id']}/revoke")
        assert revoked.json()["revoked_at"] is not None
    with server.client() as client:
        answer = client.get("/v1/intercepts", headers={"Authorization": f"Bearer {new['key']}"})
    assert answer.status_code == 401
