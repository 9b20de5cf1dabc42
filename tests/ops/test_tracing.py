"""With the `otel` extra and INTERCEPT_TRACING set, one command is followed end to end.

A real `intercept serve` (Kafka mode), relay and consumer, each writing its spans to its
own file: the caller's trace id must reach the API's request span, the Kafka record's
`traceparent` header and the consumer's `apply` span of that very event.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from api.composition import open_key_store
from engine.grant import KeyGrant
from engine.settings import Settings
from tests.e2e.cli import INTERCEPT
from tests.integration.kafka_reading import read_topic
from tests.ops.processes import eventually, kafka_env, start

pytest.importorskip("opentelemetry.sdk")


def spans(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def serve(env: dict, log_path) -> tuple[subprocess.Popen, str]:
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [INTERCEPT, "serve", "--port", "0"], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log_path.read_text())
        if found:
            return process, found.group(1)
        time.sleep(0.05)
    process.kill()
    raise AssertionError(log_path.read_text())


@pytest.mark.kafka
def test_a_trace_runs_from_the_request_through_kafka_to_the_apply(kafka_settings, tmp_path):
    base = kafka_env(kafka_settings)
    env = {
        name: {**base, "INTERCEPT_TRACING": f"jsonl:{tmp_path / name}.jsonl"}
        for name in ("api", "relay", "consume")
    }
    home = kafka_settings.home
    admin = open_key_store(Settings(home=home)).create(KeyGrant(role="admin")).key
    merchant = (
        open_key_store(Settings(home=home)).create(KeyGrant(role="merchant", merchant_id="m1")).key
    )
    api, url = serve(env["api"], tmp_path / "serve.log")
    relay = start("relay", env["relay"], tmp_path)
    consumer = start("consume", env["consume"], tmp_path)
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            client.put(
                "/v1/merchants/m1/policy",
                headers={"Authorization": f"Bearer {admin}"},
                json={"max_amount_minor": 100_000, "carriers": ["ZTO"]},
            ).raise_for_status()
            made = client.post(
                "/v1/intercepts",
                headers={
                    "Authorization": f"Bearer {merchant}",
                    "Idempotency-Key": "traced-1",
                    "traceparent": f"00-{trace_id}-{caller_span}-01",
                },
                json={
                    "order_id": "o1",
                    "tracking_no": "ZT77",
                    "carrier": "ZTO",
                    "amount_minor": 1000,
                    "request_reason": "buyer_refund",
                },
            )
            assert made.status_code == 201, made.text
        iid = made.json()["intercept_id"]
        eventually(
            lambda: any(s["name"] == "apply" for s in spans(tmp_path / "consume.jsonl")),
            what="the consumer's apply span",
        )
    finally:
        consumer.stop()
        relay.stop()
        api.terminate()
        api.wait(timeout=15)
    request_spans = [s for s in spans(tmp_path / "api.jsonl") if s["trace_id"] == trace_id]
    assert len(request_spans) == 1 and request_spans[0]["parent_id"] == caller_span
    applied = [s for s in spans(tmp_path / "consume.jsonl") if s["name"] == "apply"]
    assert [(s["trace_id"], s["attributes"]["intercept.id"]) for s in applied] == [(trace_id, iid)]
    assert applied[0]["parent_id"] == request_spans[0]["span_id"]
    records = [
        r
        for rs in read_topic(kafka_settings.kafka_bootstrap, kafka_settings.topic).values()
        for r in rs
    ]
    headers = [dict(r.headers).get("traceparent", b"").decode() for r in records]
    assert [h for h in headers if trace_id in h] == [
        f"00-{trace_id}-{request_spans[0]['span_id']}-01"
    ]


def test_tracing_off_imports_nothing_and_changes_no_record(tmp_path):
    probe = (
        "import sys\n"
        "from engine.settings import Settings\n"
        "from engine.composition import build_engine, build_tracing\n"
        "from api.composition import build_api\n"
        f"s = Settings(home={str(tmp_path)!r})\n"
        "assert build_tracing(s, 'x').enabled is False\n"
        "build_api(s)\n"
        # FastAPI loads the OpenTelemetry API on its own when installed; the SDK is ours.
        "print('opentelemetry.sdk' in ' '.join(sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "INTERCEPT_TRACING"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    with sqlite3.connect(tmp_path / "events.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "relay_positions" not in tables and "event_traces" not in tables
