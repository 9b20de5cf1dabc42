"""End to end, every hop over real HTTP on loopback, nothing posted by the test but the
platform's after-sale reports:

after-sale report (`POST /v1/after-sales` on `intercept serve`) -> the automatic rule
requests the intercept -> the server's carrier gateway sends it to the carrier simulator
(`intercept carriers simulate`, its own process, each carrier in its own protocol) -> the
simulator's signed callbacks reach the server's callback endpoint -> the server's webhook
dispatcher posts every event to the merchant's receiver, signed the Standard Webhooks way,
in order per intercept.

The carriers are simulated (nobody can reach real ones from here); everything else is
the engine as it runs.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from tests.e2e.api_server import start
from tests.e2e.cli import INTERCEPT
from tests.support import webhook_receiver
from tests.support.carriers import PROTOCOL_OF, carriers_toml, free_port, secrets
from tests.support.waiting import wait_for

CARRIERS = sorted(PROTOCOL_OF.values())
OPEN = {"requested", "accepted"}
_SIMULATING = re.compile(r"carrier simulator on http://127\.0\.0\.1:(\d+)")


def _simulator(env: dict, port: int, log: Path) -> subprocess.Popen:
    # One simulated hour is half a real second: a parcel's scan within a few seconds.
    with log.open("wb") as out:
        process = subprocess.Popen(
            [INTERCEPT, "carriers", "simulate", "--port", str(port), "--seed", "3"]
            + ["--scale", str(1 / 7200)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _SIMULATING.search(log.read_text(errors="replace")):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the simulator did not start:\n{log.read_text(errors='replace')}")


@pytest.mark.timeout(180)
def test_after_sale_to_carrier_simulator_to_callback_to_signed_webhooks(tmp_path):
    api_port, simulator_port = free_port(), free_port()
    carriers_file = tmp_path / "carriers.toml"
    carriers_file.write_text(carriers_toml(simulator_port, api_port))
    home = tmp_path / "var"
    env = {
        **os.environ,
        **secrets(),
        "INTERCEPT_HOME": str(home),
        "INTERCEPT_CARRIERS_FILE": str(carriers_file),
        "INTERCEPT_WEBHOOKS_ALLOW_PRIVATE": "1",
        "INTERCEPT_WEBHOOKS_RETRY_BASE": "0.2",
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    receiver = webhook_receiver.start()
    simulator = _simulator(env, simulator_port, tmp_path / "simulator.log")
    server = start(home, env=env, port=api_port)
    try:
        merchant = server.key("merchant", merchant="m1")
        with server.client(merchant) as client:
            policy = client.put(
                "/v1/merchants/m1/policy",
                json={
                    "max_amount_minor": 100_000,
                    "carriers": CARRIERS,
                    "auto_intercept": ["refund_requested"],
                },
            )
            assert policy.status_code == 200, policy.text
            hook = client.post("/v1/webhooks", json={"merchant_id": "m1", "url": receiver.url})
            assert hook.status_code == 201, hook.text
            secret = hook.json()["secret"]
            ids = {}
            for n, carrier in enumerate(CARRIERS):
                made = client.post(
                    "/v1/after-sales",
                    json={
                        "merchant_id": "m1",
                        "after_sale_id": f"AS-{n}",
                        "order_id": f"o-{n}",
                        "tracking_no": f"{carrier}E2E{n:04d}",
                        "carrier": carrier,
                        "amount_minor": 19_900 + n,
                        "status": "refund_requested",
                    },
                )
                assert made.status_code == 200, made.text
                answer = made.json()["after_sale"]
                assert answer["auto_rule"] == "requested", answer
                ids[answer["intercept_id"]] = carrier

            def details() -> dict[str, dict]:
                return {i: client.get(f"/v1/intercepts/{i}").json() for i in ids}

            # The carriers decide on their own time; their callbacks say so.
            decided = wait_for(
                lambda: (
                    (d := details())
                    and all(x["intercept"]["status"] not in OPEN for x in d.values())
                    and d
                ),
                90,
                "every carrier's decision",
            )
            seen = httpx.get(f"http://127.0.0.1:{simulator_port}/_simulator/seen").json()
            asked = {(r["carrier"], r["action"]) for r in seen["requests"]}
            assert {(c, "request") for c in CARRIERS} <= asked, seen
            assert seen["callbacks_delivered"] >= len(CARRIERS) and not seen["under_two_ids"]
            # No more callbacks from here on: what the engine holds now is the whole story.
            simulator.terminate()
            simulator.wait(timeout=15)
            histories = {
                i: [(e["version"], e["event_type"]) for e in d["timeline"]]
                for i, d in details().items()
            }
            assert all(len(h) >= 3 for h in histories.values()), histories
            total = sum(len(h) for h in histories.values())
            wait_for(
                lambda: len({r.headers["webhook-id"] for r in receiver.received}) >= total,
                60,
                f"{total} webhooks",
            )
    finally:
        if simulator.poll() is None:
            simulator.kill()
        server.stop()
        receiver.stop()

    verify = Webhook(secret)
    firsts: dict[str, list[tuple[int, str]]] = {}
    for got in receiver.received:
        verify.verify(got.body, got.headers)  # raises on a bad signature
        event = got.event
        assert event["merchant_id"] == "m1"
        entry = (event["version"], event["event_type"])
        if entry not in firsts.setdefault(event["intercept_id"], []):
            firsts[event["intercept_id"]].append(entry)
    # Every event of each intercept, first seen in the order it was recorded.
    assert firsts == histories
    for iid, history in histories.items():
        kinds = [k for _, k in history]
        assert kinds[0] == "Requested"
        assert decided[iid]["intercept"]["status"] not in OPEN | {"cancelled"}
        assert any(k.startswith("Carrier") for k in kinds[1:]), kinds
    requests = [r for r in receiver.received if r.event["event_type"] == "Requested"]
    assert {r.event["actor"] for r in requests} == {"auto-rule"}
