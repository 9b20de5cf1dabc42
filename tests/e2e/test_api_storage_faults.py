"""A busy store, against a running `intercept serve`: a named 503, and the connection lives on."""

import socket
import sqlite3
import uuid

import orjson
import pytest

from tests.e2e.api_server import start


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERCEPT_DB_TIMEOUT", "1")  # a short wait, so the test is quick
    running = start(tmp_path / "var")
    yield running
    running.stop()


def _exchange(conn: socket.socket, request: bytes) -> tuple[int, dict, dict]:
    conn.sendall(request)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = conn.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        body += conn.recv(65536)
    return int(lines[0].split()[1]), headers, orjson.loads(body) if body else {}


def _post(path: str, key: str, body: dict, idempotency_key: str) -> bytes:
    raw = orjson.dumps(body)
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n"
        f"Idempotency-Key: {idempotency_key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\n\r\n"
    ).encode() + raw


def test_a_store_locked_past_the_timeout_is_a_named_503_and_the_connection_stays_usable(
    server,
):
    key = server.key("merchant", merchant="m1")
    host, port = server.url.removeprefix("http://").split(":")
    policy = {"max_amount_minor": 100_000, "carriers": ["ZTO"]}
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        status, _, _ = _exchange(
            conn, _post("/v1/merchants/m1/policy", key.key, policy, "p").replace(b"POST", b"PUT", 1)
        )
        assert status == 200
        body = {
            "order_id": "o1",
            "tracking_no": f"ZT{uuid.uuid4().hex[:10]}",
            "carrier": "ZTO",
            "amount_minor": 1000,
            "request_reason": "buyer_refund",
        }
        holder = sqlite3.connect(server.home / "events.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            status, headers, problem = _exchange(conn, _post("/v1/intercepts", key.key, body, "r1"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert status == 503, problem
        assert headers["content-type"] == "application/problem+json"
        assert problem["rule"] == "storage_busy"
        assert int(headers["retry-after"]) > 0
        status, _, answer = _exchange(conn, _post("/v1/intercepts", key.key, body, "r1"))
        assert status == 201, answer
    log = (server.home / "serve.log").read_text()
    assert "Traceback" not in log
