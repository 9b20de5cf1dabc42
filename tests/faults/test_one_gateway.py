"""Two carrier gateways on one store: one sends, the other stands by, and takes over when
the first is SIGKILLed.

Two `intercept carriers run` processes against the carrier simulator (each call slowed,
so two senders would overlap): every request reaches its carrier exactly once while
both run; the leader, named by its lock file, is killed, and the requests recorded
afterwards are sent by the other, again once each.
"""

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carriers.simulator import Timing
from engine.composition import build_engine, event_store_db
from engine.store.outbound import OutboundStore
from tests import builders
from tests.e2e.cli import INTERCEPT
from tests.support.carriers import PROTOCOL_OF, rig
from tests.support.waiting import wait_for

CARRIERS = sorted(PROTOCOL_OF.values())


def _gateway(env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [INTERCEPT, "carriers", "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _request(engine, first: int, count: int) -> None:
    for n in range(first, first + count):
        carrier = CARRIERS[n % len(CARRIERS)]
        engine.execute(
            builders.request(
                key=f"k{n}",
                order_id=f"o{n}",
                tracking_no=f"{carrier}G{n:04d}",
                carrier=carrier,
                occurred_at=datetime.now(UTC),
            )
        )


def _sent(settings) -> int:
    store = OutboundStore(event_store_db(settings))
    try:
        return sum(1 for r in store.all() if r.request_state not in (None, "pending"))
    finally:
        store.db.close()


@pytest.mark.timeout(150)
def test_one_gateway_sends_and_the_other_takes_over_when_it_is_killed(tmp_path, monkeypatch):
    carriers = rig(
        tmp_path,
        monkeypatch,
        seed=4,
        timing=Timing(scan=(3600.0, 7200.0)),
        push=False,
        latency=0.1,
    )
    settings = carriers.settings(tmp_path / "var")
    engine = build_engine(settings)
    engine.execute(builders.policy(carriers=frozenset(CARRIERS)))
    env = {**os.environ, **settings.as_env(), **carriers.env()}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    lock = settings.home / f"carrier-gateway-{settings.topic}.lock"
    _request(engine, 0, 9)
    processes = [_gateway(env, tmp_path / f"gateway-{n}.log") for n in (1, 2)]
    try:
        wait_for(lambda: _sent(settings) >= 9, 60, "the first 9 requests sent")
        time.sleep(1.0)  # room for a second send of any of them, were there one
        seen = carriers.simulator.seen()
        assert [r["times"] for r in seen["requests"]] == [1] * 9, seen["requests"]
        leader = int(lock.read_text().strip())
        by_pid = {p.pid: p for p in processes}
        assert leader in by_pid
        by_pid[leader].send_signal(signal.SIGKILL)
        by_pid[leader].wait()
        (standby,) = [p for p in processes if p.pid != leader]
        _request(engine, 9, 9)
        wait_for(lambda: _sent(settings) >= 18, 60, "the next 9 requests, from the standby")
        time.sleep(1.0)
        assert standby.poll() is None and int(lock.read_text().strip()) == standby.pid
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=15)
        carriers.stop()
    seen = carriers.simulator.seen()
    assert seen["under_two_ids"] == []
    assert sorted(r["tracking_no"] for r in seen["requests"]) == sorted(
        f"{CARRIERS[n % 3]}G{n:04d}" for n in range(18)
    )
    assert [r["times"] for r in seen["requests"]] == [1] * 18, "a request sent twice"
    engine.close()
