"""Two webhook dispatchers on one store, and two automation loops: one acts, the other
stands by, and takes over when the first is SIGKILLed.

Two `intercept webhooks run` processes are started together on one event store with
endpoints of two merchants. Every event reaches its merchant's receiver exactly once
(no webhook-id twice: the second process never delivers while the first leads); the
leader, named by the lock file, is then killed, and what is recorded afterwards is
delivered by the other, again once each, to its own merchant only. Likewise two
`intercept automation run`: after the leader is killed the other decides the reports
that follow, one automatic request per report in all.
"""

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from engine.composition import build_engine, event_store_db
from engine.settings import Settings
from engine.webhooks import dispatcher as hooks
from engine.webhooks.store import WebhookStore
from tests import builders
from tests.e2e.cli import INTERCEPT
from tests.support import webhook_receiver
from tests.support.waiting import wait_for

MERCHANTS = ("m1", "m2")


def _dispatcher(env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [INTERCEPT, "webhooks", "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _record(engine, first: int, count: int) -> None:
    for i in range(first, first + count):
        merchant = MERCHANTS[i % 2]
        engine.execute(
            builders.request(
                key=f"k{i}",
                merchant_id=merchant,
                order_id=f"o{i}",
                tracking_no=f"ZT{i:05d}",
                actor=f"{merchant}-staff",
                occurred_at=datetime.now(UTC),
            )
        )


def _leader_pid(lock: Path) -> int | None:
    text = lock.read_text().strip() if lock.exists() else ""
    return int(text) if text else None


@pytest.mark.timeout(120)
def test_one_dispatcher_delivers_and_the_other_takes_over_when_it_is_killed(tmp_path):
    home = tmp_path / "var"
    settings = Settings(home=home, automation_inline=False, webhooks_allow_private=True)
    engine = build_engine(settings)
    store = WebhookStore(event_store_db(settings))
    receivers, endpoints = {}, {}
    for merchant in MERCHANTS:
        engine.execute(builders.policy(merchant))
        receivers[merchant] = webhook_receiver.start()
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
    lock = home / f"webhooks-{settings.topic}.lock"

    def received() -> int:
        return sum(len(r.received) for r in receivers.values())

    _record(engine, 0, 20)
    processes = [_dispatcher(env, tmp_path / f"dispatcher-{n}.log") for n in (1, 2)]
    try:
        wait_for(lambda: received() >= 20, 40, "the first 20 webhooks")
        time.sleep(1.0)  # room for a second delivery of any of them, were there one
        first_ids = [g.headers["webhook-id"] for r in receivers.values() for g in r.received]
        assert len(first_ids) == 20 and len(set(first_ids)) == 20, "delivered twice"
        leader = _leader_pid(lock)
        by_pid = {p.pid: p for p in processes}
        assert leader in by_pid, f"lock file names {leader}, not one of {sorted(by_pid)}"

        by_pid[leader].send_signal(signal.SIGKILL)
        by_pid[leader].wait()
        (standby,) = [p for p in processes if p.pid != leader]
        assert standby.poll() is None
        _record(engine, 20, 20)
        wait_for(lambda: received() >= 40, 40, "the next 20 webhooks from the standby")
        time.sleep(1.0)
        assert _leader_pid(lock) == standby.pid
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=15)
        for receiver in receivers.values():
            receiver.stop()

    for merchant, receiver in receivers.items():
        endpoint = endpoints[merchant]["endpoint_id"]
        ids = [g.headers["webhook-id"] for g in receiver.received]
        assert len(ids) == len(set(ids)) == 20, f"{merchant}: {len(ids)} deliveries"
        for got in receiver.received:
            event = orjson.loads(got.body)
            assert event["merchant_id"] == merchant, "delivered to another merchant"
            assert got.headers["webhook-id"] == hooks.webhook_id(endpoint, event["event_id"])
    engine.close()


def _reports(engine, first: int, count: int) -> list[tuple[str, str]]:
    from domain.commands import ReportAfterSale

    made = []
    for i in range(first, first + count):
        engine.execute(
            ReportAfterSale(
                merchant_id="m1",
                after_sale_id=f"A{i}",
                order_id=f"o{i}",
                tracking_no=f"ZT{i:05d}",
                carrier="ZTO",
                amount_minor=19_900,
                status="refund_requested",
                actor="platform",
                occurred_at=datetime.now(UTC),
            )
        )
        made.append(("m1", f"A{i}"))
    return made


@pytest.mark.timeout(120)
def test_one_automation_loop_decides_and_the_other_takes_over_when_it_is_killed(tmp_path):
    home = tmp_path / "var"
    # Not inline: only the automation processes decide the reports.
    settings = Settings(home=home, automation_inline=False)
    engine = build_engine(settings)
    engine.execute(
        builders.policy(
            "m1", carriers=frozenset({"ZTO"}), auto_intercept=frozenset({"refund_requested"})
        )
    )
    env = {**os.environ, "INTERCEPT_HOME": str(home), "INTERCEPT_AUTOMATION_INLINE": "0"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    lock = home / f"automation-{settings.topic}.lock"

    def decided(reports) -> bool:
        return all(not engine.after_sale(m, a).undecided for m, a in reports)

    first = _reports(engine, 0, 10)
    processes = [
        subprocess.Popen(
            [INTERCEPT, "automation", "run", "--no-webhooks"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: decided(first), 40, "the first reports decided")
        leader = _leader_pid(lock)
        by_pid = {p.pid: p for p in processes}
        assert leader in by_pid
        by_pid[leader].send_signal(signal.SIGKILL)
        by_pid[leader].wait()
        (standby,) = [p for p in processes if p.pid != leader]
        second = _reports(engine, 10, 10)
        wait_for(lambda: decided(second), 40, "the next reports, decided by the standby")
        assert standby.poll() is None and _leader_pid(lock) == standby.pid
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=15)
    made = [
        e.order_id
        for _, e in engine.read_intercept_log(0, 100_000)
        if e.event_type() == "Requested" and e.actor == "auto-rule"
    ]
    assert sorted(made) == sorted(f"o{i}" for i in range(20))  # one request per report
    engine.close()
