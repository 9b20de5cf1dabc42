"""A home that turns read-only under a running server: reads go on, writes get a named 503.

Made read-only with `chattr +i` (immutable), which holds even for root; skipped where
the file system or the user cannot do that.
"""

import shutil
import subprocess
import uuid

import pytest

from tests.e2e.api_server import start
from tests.e2e.cli import intercept


def _chattr(flag: str, *paths) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def frozen(tmp_path):
    server = start(tmp_path / "var")
    key = server.key("merchant", merchant="m1")
    with server.client(key) as client:
        client.put(
            "/v1/merchants/m1/policy", json={"max_amount_minor": 1000, "carriers": ["ZTO"]}
        ).raise_for_status()
        assert client.get("/v1/intercepts").status_code == 200
    home = server.home
    # serve.log is the harness's capture of the output, not the engine's data.
    frozen = [home, *[p for p in home.iterdir() if p.is_file() and p.name != "serve.log"]]
    if not _chattr("+i", *frozen):
        server.stop()
        pytest.skip("chattr +i is not available here")
    try:
        yield server, key
    finally:
        _chattr("-i", *frozen)
        server.stop()


def test_reads_go_on_and_a_write_is_a_named_503(frozen):
    server, key = frozen
    with server.client(key) as client:
        listed = client.get("/v1/intercepts")
        policy = client.get("/v1/merchants/m1/policy")
        write = client.post(
            "/v1/intercepts",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "order_id": "o1",
                "tracking_no": "ZTRO1",
                "carrier": "ZTO",
                "amount_minor": 500,
                "request_reason": "r",
            },
        )
        after = client.get("/v1/intercepts")
    assert (listed.status_code, policy.status_code) == (200, 200)
    assert write.status_code == 503, (write.text, (server.home / "serve.log").read_text())
    assert write.json()["rule"] == "storage_read_only"
    assert "retry-after" not in write.headers
    assert after.status_code == 200
    assert "Traceback" not in (server.home / "serve.log").read_text()


def test_keys_create_on_a_read_only_home_says_so_without_a_traceback(frozen):
    server, _ = frozen
    run = intercept(server.home, "keys", "create", "--role", "auditor")
    assert run.code == 1, run
    assert "Traceback" not in run.out + run.err
    assert "read-only" in (run.out + run.err).lower() or "readonly" in (run.out + run.err)
