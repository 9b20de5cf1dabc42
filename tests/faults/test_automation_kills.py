"""SIGKILL the automatic rule and the webhook dispatcher at random moments, many times.

`intercept automation run` (the rule, the deadlines and the dispatcher in one process) is
killed again and again while after-sale reports keep arriving for two merchants, each
with a receiver on loopback that now and then answers 500. Checked at the end: exactly
one automatic request per after-sale the rule acts on and none for the others, every
event delivered to its merchant's endpoint at least once under a webhook-id fixed per
endpoint and event (the same body every time), in order per intercept, and nothing
delivered to another merchant's endpoint.
"""

import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime

import orjson
import pytest

from domain.after_sale import AUTO_ACTOR
from domain.commands import ReportAfterSale, SetPolicy
from domain.events import Requested
from engine.automation import AUTO_RULE
from engine.composition import build_engine, event_store_db
from engine.outgoing import reader
from engine.settings import Settings
from engine.store.positions import ProcessPositions
from engine.webhooks import dispatcher as hooks
from engine.webhooks.store import DISPATCHER, WebhookStore
from tests.e2e.cli import INTERCEPT
from tests.support import webhook_receiver

KILLS = 12
REPORTS = 40
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _policy(merchant: str) -> SetPolicy:
    return SetPolicy(
        merchant_id=merchant,
        min_amount_minor=0,
        max_amount_minor=100_000,
        carriers=frozenset({"ZTO"}),
        auto_intercept=frozenset({"refund_requested"}),
        actor="ops",
        occurred_at=NOW,
    )


def _report_commands(count: int) -> list:
    """The platform's reports: refund requests and refunds, some repeated, some withdrawn."""
    rng = random.Random(7)
    commands = []
    for i in range(count):
        merchant = "m1" if i % 2 else "m2"
        status = rng.choice(["refund_requested", "refund_requested", "refunded"])
        command = ReportAfterSale(
            merchant_id=merchant,
            after_sale_id=f"A{i}",
            order_id=f"o{i}",
            tracking_no=f"ZT{i:05d}",
            carrier="ZTO",
            amount_minor=1000 + i,
            status=status,
            actor="platform",
            occurred_at=NOW,
        )
        commands.append(command)
        if rng.random() < 0.3:
            commands.append(command)  # the platform repeats itself
        if status == "refund_requested" and rng.random() < 0.3:
            commands.append(command.model_copy(update={"status": "closed"}))  # withdrawn
    return commands


def _automation(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [INTERCEPT, "automation", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.timeout(120)
def test_killed_automation_requests_once_and_delivers_every_webhook(tmp_path):
    home = tmp_path / "var"
    settings = Settings(home=home, automation_inline=False, webhooks_allow_private=True)
    engine = build_engine(settings)
    store = WebhookStore(event_store_db(settings))
    rng = random.Random(11)
    receivers, endpoints = {}, {}
    for merchant in ("m1", "m2"):
        engine.execute(_policy(merchant))
        receivers[merchant] = webhook_receiver.start(
            lambda n, r=random.Random(merchant): "fail" if r.random() < 0.1 else "ok"
        )
        endpoints[merchant] = hooks.add_endpoint(
            store, 0, merchant, receivers[merchant].url, [], datetime.now(UTC), True
        )
    env = {
        **os.environ,
        "INTERCEPT_HOME": str(home),
        "INTERCEPT_WEBHOOKS_ALLOW_PRIVATE": "1",
        "INTERCEPT_WEBHOOKS_RETRY_BASE": "0.05",
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    commands = _report_commands(REPORTS)
    issued = sorted(
        {(c.merchant_id, c.after_sale_id, c.status) for c in commands if c.status != "closed"}
    )
    per_round = len(commands) // KILLS + 1
    positions = ProcessPositions(event_store_db(settings))
    busy = 0
    try:
        for round_ in range(KILLS):
            for command in commands[round_ * per_round : (round_ + 1) * per_round]:
                engine.execute(command)
            before = (positions.get(AUTO_RULE), positions.get(DISPATCHER))
            process = _automation(env)
            # However slowly it starts on a loaded machine: kill it once it is at work, at
            # a random point of that work.
            started = time.monotonic()
            while time.monotonic() - started < 20:
                if (positions.get(AUTO_RULE), positions.get(DISPATCHER)) != before:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.3))
            process.send_signal(signal.SIGKILL)
            process.wait()
            busy += (positions.get(AUTO_RULE), positions.get(DISPATCHER)) != before
        process = _automation(env)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            pending = [
                d
                for d in hooks.list_deliveries(store, None, None, 10_000)
                if d["status"] != "delivered"
            ]
            undecided = [a for m, a, _ in issued if engine.after_sale(m, a).undecided]
            if not pending and not undecided and hooks.list_deliveries(store, None, None, 1):
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    finally:
        for receiver in receivers.values():
            receiver.stop()
    assert busy >= KILLS // 3, f"only {busy} kills found the processes at work"

    # Exactly one automatic request per after-sale the rule acts on, none for the others.
    made = [
        e
        for _, e in engine.read_intercept_log(0, 100_000)
        if isinstance(e, Requested) and e.actor == AUTO_ACTOR
    ]
    by_order = {}
    for e in made:
        assert e.order_id not in by_order, f"two automatic requests for {e.order_id}"
        by_order[e.order_id] = e
    for merchant, after_sale, status in issued:
        state = engine.after_sale(merchant, after_sale)
        assert not state.undecided
        # The first report decided was the first recorded or a later one; a refund request
        # recorded first is always requested (a withdrawal then only flags it).
        if status == "refund_requested" and state.intercept_id is None:
            assert state.report.status == "closed"  # decided after the withdrawal arrived
        if status == "refunded":
            assert state.intercept_id is None

    # Every event at least once, to its own merchant only, stable ids, in order.
    _, published = reader(engine.app)(0, 100_000)
    for merchant, receiver in receivers.items():
        endpoint = endpoints[merchant]["endpoint_id"]
        wanted = {
            r.event_id: r.value
            for r in published
            if orjson.loads(r.value)["merchant_id"] == merchant
        }
        seen: dict[str, bytes] = {}
        firsts: dict[str, list[int]] = {}
        for got in receiver.received:
            event = got.event
            assert event["merchant_id"] == merchant, "delivered to another merchant"
            assert got.headers["webhook-id"] == hooks.webhook_id(endpoint, event["event_id"])
            assert seen.setdefault(got.headers["webhook-id"], got.body) == got.body
            versions = firsts.setdefault(event["intercept_id"], [])
            if event["version"] not in versions:
                versions.append(event["version"])
        assert {orjson.loads(b)["event_id"] for b in seen.values()} == set(wanted)
        for versions in firsts.values():
            assert versions == sorted(versions), "out of order for one intercept"
    engine.close()
