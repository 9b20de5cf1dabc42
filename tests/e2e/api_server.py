"""`intercept serve` as a test runs it: a real process on a free loopback port."""

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from api.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from engine.composition import open_key_store
from engine.grant import KeyGrant
from engine.settings import Settings
from tests.e2e.cli import INTERCEPT

_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@dataclass
class Key:
    key: str
    key_id: str
    role: str
    merchant_id: str | None = None
    carrier: str | None = None
    signing_secret: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class ApiServer:
    url: str
    home: Path
    process: subprocess.Popen

    def key(self, role: str, merchant: str | None = None, carrier: str | None = None) -> Key:
        """A new key, made the way `intercept keys create` makes it (same store, same home)."""
        issued = open_key_store(Settings(home=self.home)).create(
            KeyGrant(role=role, merchant_id=merchant, carrier=carrier)
        )
        r = issued.record
        return Key(issued.key, r.key_id, r.role.value, r.merchant_id, r.carrier, r.signing_secret)

    def client(self, key: Key | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=key.headers if key else {}, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(home: Path, timeout: float = 30, env: dict[str, str] | None = None) -> ApiServer:
    home.mkdir(parents=True, exist_ok=True)
    log = home / "serve.log"
    env = {**os.environ, "INTERCEPT_HOME": str(home), **(env or {})}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [INTERCEPT, "serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "info"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            return ApiServer(found.group(1), home, process)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"intercept serve did not start:\n{log.read_text(errors='replace')}")


def signed(
    key: Key, body: dict | bytes, at: int | None = None, idempotency_key: str | None = None
) -> dict:
    """Keyword arguments for httpx: a callback body and its signature headers."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    timestamp = int(time.time()) if at is None else at
    headers = {
        **key.headers,
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(key.signing_secret, timestamp, raw, idempotency_key),
    }
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return {"content": raw, "headers": headers}
