"""Several relays against one event store: one publishes, a standby takes over when it dies.

Three `intercept relay` processes run while commands keep arriving. Again and again the
one that leads (its /metrics say `intercept_relay_leader 1`) is killed with SIGKILL at a
random moment and a fresh relay joins the standbys. Checked throughout: never two
leaders at once, a new leader within a few seconds. Checked at the end: every event on
the topic, in order per intercept, and no more duplicates than the resend window allows
(at most one batch per kill: what the killed leader had sent but not yet recorded).
"""

import random
import signal
import threading
import time

import httpx
import pytest

from engine.composition import build_engine, event_store_db
from engine.store.positions import RelayPositions
from tests import builders as b
from tests.faults.report import report
from tests.integration.test_relay_kafka import assert_complete_and_ordered
from tests.ops.processes import kafka_env, start

pytestmark = pytest.mark.kafka

BATCH = 20
TAKEOVER_SECONDS = 5.0


def commands_flow(settings, stop: threading.Event, issued: list) -> None:
    engine = build_engine(settings)
    engine.execute(b.policy())
    i = 0
    while not stop.is_set():
        made = engine.execute(b.request(key=f"k{i}", order_id=f"o{i}", tracking_no=f"ZT{i:06d}"))
        issued.append(made)
        if i % 3 == 2:  # a second event on an earlier intercept: order per intercept matters
            engine.execute(b.cancel(issued[i - 1].state.id, reason="buyer_changed_mind"))
        i += 1
        time.sleep(0.01)
    engine.close()


def leading(relays) -> list:
    found = []
    for relay in relays:
        if relay.process.poll() is not None:
            continue
        try:
            if relay.metrics().get("intercept_relay_leader") == 1:
                found.append(relay)
        except httpx.TransportError:
            pass
    return found


def wait_for_leader(relays, timeout: float) -> tuple:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = leading(relays)
        assert len(now) <= 1, f"{len(now)} relays lead at once"
        if now:
            return now[0], time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"no relay took over within {timeout}s")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ha_settings(request, kafka_settings):
    if request.param == "sqlite":
        return kafka_settings, 12
    server = request.getfixturevalue("postgres_server")
    return (
        kafka_settings.model_copy(
            update={
                "event_store": server.create_database("events"),
                "projections": server.create_database("projections"),
            }
        ),
        6,
    )


def test_killing_the_leading_relay_again_and_again_loses_nothing(ha_settings, tmp_path):
    settings, kills_wanted = ha_settings
    settings = settings.model_copy(update={"relay_batch": BATCH})
    build_engine(settings).close()  # tables exist before three relays race to make them
    env = {**kafka_env(settings), "INTERCEPT_RELAY_BATCH": str(BATCH)}
    stop, issued = threading.Event(), []
    writer = threading.Thread(target=commands_flow, args=(settings, stop, issued))
    writer.start()
    relays = [start("relay", env, tmp_path) for _ in range(3)]
    rng = random.Random(18)
    takeovers = []
    try:
        leader, _ = wait_for_leader(relays, 30)
        for _ in range(kills_wanted):
            time.sleep(rng.uniform(0.05, 1.0))
            leader.process.send_signal(signal.SIGKILL)
            leader.process.wait()
            relays.remove(leader)
            leader, took = wait_for_leader(relays, TAKEOVER_SECONDS)
            takeovers.append(took)
            relays.append(start("relay", env, tmp_path))
    finally:
        stop.set()
        writer.join(60)
    engine = build_engine(settings)
    positions = RelayPositions(event_store_db(settings))
    head = engine.app.event_log.max_position()
    deadline = time.monotonic() + 60
    while positions.get(settings.topic) < head and time.monotonic() < deadline:
        time.sleep(0.2)
    for relay in relays:
        assert relay.stop() == 0, relay.log()
    duplicates = assert_complete_and_ordered(settings, engine)
    report(
        "relay-failover",
        backend="postgres" if settings.event_store else "sqlite",
        kills=len(takeovers),
        commands=len(issued),
        log_entries=head,
        duplicates=duplicates,
        slowest_takeover_s=round(max(takeovers), 2),
    )
    assert len(takeovers) == kills_wanted
    assert max(takeovers) < TAKEOVER_SECONDS
    assert duplicates <= len(takeovers) * BATCH, "more resent than one batch per kill"
