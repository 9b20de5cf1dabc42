"""The API reads a time cut-off as the CLI does: one use case behind both."""

import pytest

from tests.e2e.api_server import start
from tests.e2e.cli import intercept


@pytest.fixture
def served(tmp_path):
    server = start(tmp_path / "var")
    yield server
    server.stop()


def test_since_takes_a_date_alone_as_its_start_in_utc_in_the_api_and_the_cli(served):
    key = served.key("merchant", merchant="m1")
    with served.client(key) as client:
        policy = {"min_amount_minor": 0, "max_amount_minor": 10_000, "carriers": ["ZTO"]}
        assert client.put("/v1/merchants/m1/policy", json=policy).status_code == 200
        body = {
            "order_id": "o1",
            "tracking_no": "ZT1",
            "carrier": "ZTO",
            "amount_minor": 100,
            "request_reason": "r",
        }
        made = client.post("/v1/intercepts", json=body, headers={"Idempotency-Key": "k1"})
        assert made.status_code == 201, made.text
        found = client.get("/v1/intercepts", params={"since": "2000-01-01"}).json()
        assert [r["order_id"] for r in found["intercepts"]] == ["o1"]
        later = client.get("/v1/intercepts", params={"since": "2100-01-01"}).json()
        assert later["intercepts"] == []
        bad = client.get("/v1/intercepts", params={"since": "2026-13-01"})
        assert bad.status_code == 422 and "since" in bad.text
    by_cli = intercept(served.home, "list", "--since", "2000-01-01", "--json").json()
    assert [r["intercept_id"] for r in by_cli["intercepts"]] == [
        r["intercept_id"] for r in found["intercepts"]
    ]
