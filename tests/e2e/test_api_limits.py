"""What a request costs the server before it is known to be allowed, against `intercept serve`.

Raw sockets send the headers of a large body and then wait: an answer that comes
before the body is sent proves the body was never read.
"""

import socket
import threading
import time
import uuid

import httpx
import orjson
import psutil
import pytest

from tests.e2e.api_server import start

PROBLEM = "application/problem+json"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start(tmp_path_factory.mktemp("limits") / "var")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def merchant(server):
    return server.key("merchant", merchant="m1")


def _raw(server, head: str, body: bytes = b"", wait: float = 5.0) -> tuple[int, dict, bytes]:
    """Send `head` (and the start of a body), then read one answer without sending more."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as conn:
        conn.sendall(head.encode() + b"\r\n" + body)
        received = b""
        deadline = time.monotonic() + wait
        while b"\r\n\r\n" not in received and time.monotonic() < deadline:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        status_line, _, rest = received.partition(b"\r\n")
        assert status_line, "no answer before the body was sent: the server is reading it"
        header_block, _, content = rest.partition(b"\r\n\r\n")
        headers = {}
        for line in header_block.split(b"\r\n"):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        while len(content) < length:
            content += conn.recv(65536)
        return int(status_line.split()[1]), headers, content


def _head(method: str, path: str, length: int | None, *extra: str) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", "Content-Type: application/json", *extra]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return "\r\n".join(lines) + "\r\n"


def test_an_unauthenticated_body_is_refused_before_it_is_read(server):
    status, headers, content = _raw(server, _head("POST", "/v1/intercepts", 300 * MiB), b"{")
    assert status == 401
    assert headers["content-type"] == PROBLEM
    assert orjson.loads(content)["rule"] == "api_key_valid"


def test_an_unknown_key_with_a_body_is_refused_before_it_is_read(server):
    head = _head("POST", "/v1/intercepts", 300 * MiB, "Authorization: Bearer ik_nope")
    status, _, content = _raw(server, head, b"{")
    assert (status, orjson.loads(content)["rule"]) == (401, "api_key_valid")


def test_an_unauthenticated_upload_is_refused_before_it_is_read(server):
    head = _head(
        "POST",
        f"/v1/intercepts/{uuid.uuid4()}/evidence",
        1024 * MiB,
        "Idempotency-Key: k",
    ).replace("application/json", "multipart/form-data; boundary=b")
    status, _, _ = _raw(server, head, b"--b\r\n")
    assert status == 401
    assert not list((server.home / "evidence").glob(".incoming/*"))


def test_a_declared_length_over_the_limit_is_refused_at_once(server, merchant):
    head = _head(
        "POST",
        "/v1/intercepts",
        MiB + 1,
        f"Authorization: Bearer {merchant.key}",
        "Idempotency-Key: k",
    )
    status, headers, content = _raw(server, head, b"{")
    problem = orjson.loads(content)
    assert (status, headers["content-type"], problem["rule"]) == (413, PROBLEM, "body_size_limit")
    assert str(MiB) in problem["detail"]


def test_an_upload_declared_over_its_limit_is_refused_at_once(server, merchant):
    head = _head(
        "POST",
        f"/v1/intercepts/{uuid.uuid4()}/evidence",
        300 * MiB,
        f"Authorization: Bearer {merchant.key}",
        "Idempotency-Key: k",
    ).replace("application/json", "multipart/form-data; boundary=b")
    status, _, content = _raw(server, head, b"--b\r\n")
    assert (status, orjson.loads(content)["rule"]) == (413, "body_size_limit")


def test_a_chunked_body_is_read_no_further_than_the_limit(server, merchant):
    head = _head(
        "POST",
        "/v1/intercepts",
        None,
        f"Authorization: Bearer {merchant.key}",
        "Idempotency-Key: k",
        "Transfer-Encoding: chunked",
    )
    chunk = b"x" * (256 * 1024)
    # Five chunks are past the limit; the answer comes with no end of the body in sight.
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5))
    status, _, content = _raw(server, head, body)
    assert (status, orjson.loads(content)["rule"]) == (413, "body_size_limit")


def test_the_connection_stays_usable_after_a_refused_body(server, merchant):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        refused = client.post("/v1/intercepts", content=b"x" * (MiB + 10), headers=merchant.headers)
        assert refused.status_code == 413
        again = client.get("/v1/intercepts", headers=merchant.headers)
        assert again.status_code == 200


def _zeros(total: int, chunk: int = MiB):
    block = b"0" * chunk
    for _ in range(total // chunk):
        yield block


def _post_big(url: str, path: str, headers: dict, total: int, answers: list) -> None:
    try:
        with httpx.Client(timeout=120) as client:
            r = client.post(
                url + path,
                content=_zeros(total),
                headers={
                    **headers,
                    "Content-Length": str(total),
                    "Content-Type": "application/json",
                },
            )
            answers.append(r.status_code)
    except httpx.HTTPError as error:  # the server may close once it has answered
        answers.append(type(error).__name__)


def test_peak_memory_stays_near_idle_while_large_bodies_arrive(tmp_path, merchant):
    """Four concurrent unauthenticated 300 MB bodies (and two authenticated ones over the
    limit): the server's resident memory grows by well under 100 MB."""
    running = start(tmp_path / "var")
    try:
        key = running.key("merchant", merchant="m1")
        process = psutil.Process(running.process.pid)
        with httpx.Client(base_url=running.url, timeout=30) as client:
            assert client.get("/v1/intercepts", headers=key.headers).status_code == 200
        idle = process.memory_info().rss
        peak, done = idle, threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, process.memory_info().rss)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        answers: list = []
        senders = [
            threading.Thread(
                target=_post_big, args=(running.url, path, headers, 300 * MiB, answers)
            )
            for path, headers in [
                ("/v1/intercepts", {}),
                ("/v1/intercepts", {}),
                ("/v1/merchants/m1/policy", {}),
                (f"/v1/intercepts/{uuid.uuid4()}/evidence", {}),
                ("/v1/intercepts", {**key.headers, "Idempotency-Key": "big"}),
                (
                    f"/v1/intercepts/{uuid.uuid4()}/evidence",
                    {**key.headers, "Idempotency-Key": "k"},
                ),
            ]
        ]
        started = time.monotonic()
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=300)
        elapsed = time.monotonic() - started
        done.set()
        sampler.join()
        grown = (peak - idle) / MiB
        print(
            f"idle {idle / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB, grown {grown:.1f} MiB, "
            f"{elapsed:.1f}s, answers {answers}"
        )
        assert len(answers) == len(senders), "a sender did not finish in time"
        assert grown < 100, f"RSS grew by {grown:.1f} MiB while large bodies arrived"
        assert all(a in (401, 413) or isinstance(a, str) for a in answers), answers
    finally:
        running.stop()
