"""The carrier gateway SIGKILLed at random points, many times, against the simulator.

Every request reaches its carrier, no carrier sees one request under two ids, and the
event store ends as a run without kills leaves it (event for event, times aside: the
carriers' answers carry the time they were first given, which differs between runs).
"""

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from carriers.simulator import Timing
from domain.commands import CancelIntercept
from domain.vocabulary import CancelReason, Status
from engine.carrier_gateway import Backoff
from engine.composition import build_carrier_gateway, build_engine, event_store_db
from engine.store.outbound import OutboundStore
from tests.faults.report import report
from tests.support.carriers import PROTOCOL_OF, allow, request, rig

INTERCEPTS = 18
MIN_KILLS = 10
"""Killed at least this often in all, even once everything is sent: a restart then must
resend nothing new under another id."""
# Scans far away: every cancel arrives in time, in both runs, whatever the kills cost.
SLOW = Timing(scan=(3600.0, 7200.0))


def now() -> datetime:
    return datetime.now(UTC)


def merchant_commands(engine) -> list:
    carriers = sorted(PROTOCOL_OF.values())
    allow(engine, *carriers)
    ids = []
    for n in range(INTERCEPTS):
        carrier = carriers[n % len(carriers)]
        ids.append(request(engine, carrier, f"{carrier}K{n:04d}"))
    return ids


def cancel_accepted(engine, ids) -> int:
    cancelled = 0
    for iid in ids[::2]:
        if engine.app.intercept(iid).status is Status.ACCEPTED:
            engine.execute(
                CancelIntercept(
                    intercept_id=iid,
                    reason=CancelReason.MISOPERATION,
                    actor="m1-staff",
                    occurred_at=now(),
                )
            )
            cancelled += 1
    return cancelled


def settled(settings) -> bool:
    store = OutboundStore(event_store_db(settings))
    try:
        rows = store.all()
        return (
            len(rows) == INTERCEPTS
            and store.due(10**15, 1) == []
            and all(r.request_state != "pending" for r in rows)
        )
    finally:
        store.db.close()


def events(engine, ids) -> list:
    """Each intercept's history without the times."""
    times = {"recorded_at", "occurred_at"}
    return [
        [
            (type(e).__name__, e.originator_version, e.model_dump(exclude=times))
            for e in engine.history(i)
        ]
        for i in ids
    ]


def kill_until_settled(settings, env, rng, kills: list[float], deadline: float) -> None:
    while time.monotonic() < deadline:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.carrier_gateway_worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("KILL_DEBUG") else subprocess.DEVNULL,
            cwd=Path(__file__).parents[2],
        )
        try:
            assert worker.stdout.readline().strip() == b"ready"
            wait = rng.uniform(0.1, 1.2)
            time.sleep(wait)
            done = settled(settings)
            worker.send_signal(signal.SIGKILL)
            kills.append(wait)
        finally:
            worker.wait()
        if os.environ.get("KILL_DEBUG"):
            store = OutboundStore(event_store_db(settings))
            print(len(kills), store.counts(), flush=True)
            store.db.close()
        if done and len(kills) >= MIN_KILLS:
            return
    raise AssertionError("the gateway did not settle before the deadline")


def test_killed_gateways_send_every_request_once_and_record_what_a_clean_run_does(
    tmp_path, monkeypatch
):
    rng = random.Random(int(os.environ.get("KILL_SEED", "14")))
    # A slow carrier (each call 40 ms) and a busy one (every id's first call a 503): the
    # kills land during calls, between a call and its recording, and between retries.
    options = {"timing": SLOW, "push": False, "latency": 0.04, "flaky": 1}
    killed_rig = rig(tmp_path / "killed", monkeypatch, seed=9, **options)
    clean_rig = rig(tmp_path / "clean", monkeypatch, seed=9, **options)
    killed = killed_rig.settings(tmp_path / "killed" / "var")
    clean = clean_rig.settings(tmp_path / "clean" / "var")
    env = {**os.environ, **killed.as_env(), **killed_rig.env()}
    env["INTERCEPT_CARRIERS_FILE"] = str(killed_rig.carriers_file)
    kills: list[float] = []
    try:
        # A run without kills: the gateway in process, to the end of each phase.
        reference = build_engine(clean)
        gateway = build_carrier_gateway(clean, reference, backoff=Backoff(first=0.05, cap=0.2))
        clean_ids = merchant_commands(reference)
        while gateway.step() or not settled(clean):
            time.sleep(0.02)
        cancel_accepted(reference, clean_ids)
        while gateway.step():
            pass
        gateway.close()

        engine = build_engine(killed)
        ids = merchant_commands(engine)
        deadline = time.monotonic() + 150  # about 40 s unloaded; a guard, not a target
        kill_until_settled(killed, env, rng, kills, deadline)
        cancels = cancel_accepted(engine, ids)
        # Until every cancel was answered too: the cancel rows settle as `done`.
        while time.monotonic() < deadline:
            kill_until_settled(killed, env, rng, kills, deadline)
            store = OutboundStore(event_store_db(killed))
            pending = [r for r in store.all() if r.cancel_state == "pending"]
            store.db.close()
            if not pending:
                break
        assert cancels > 0
    finally:
        killed_rig.stop()
        clean_rig.stop()

    seen = killed_rig.simulator.seen()
    assert seen["under_two_ids"] == []
    reached = {(r["tracking_no"], r["action"]) for r in seen["requests"]}
    assert {t for t, a in reached if a == "request"} == {
        f"{sorted(PROTOCOL_OF.values())[n % 3]}K{n:04d}" for n in range(INTERCEPTS)
    }
    assert len([1 for t, a in reached if a == "cancel"]) == cancels
    assert events(engine, ids) == events(reference, clean_ids)
    resends = sum(r["times"] - 1 for r in seen["requests"])
    report(
        "carrier gateway kills",
        kills=len(kills),
        intercepts=INTERCEPTS,
        cancels=cancels,
        calls=sum(r["times"] for r in seen["requests"]),
        resends=resends,
        under_two_ids=len(seen["under_two_ids"]),
    )
