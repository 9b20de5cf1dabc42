"""The relay against a real broker: every event on the topic, in order per intercept."""

import os
import random
import signal
import subprocess
import time
from datetime import UTC

import pytest

from domain.envelope import INTERCEPT_EVENT_TYPES
from engine import kafka_clients
from engine.composition import build_engine, build_relay
from engine.pipeline import count_intercept_events
from engine.relay import TopicLost
from tests.e2e.cli import INTERCEPT
from tests.integration.kafka_reading import envelopes_by_intercept, read_topic

pytestmark = pytest.mark.kafka


def seed_history(settings, orders=120):
    from engine import demo

    clock = demo.SimulatedClock(demo_start())
    engine = build_engine(settings, clock=clock)
    demo.run(demo.plan(orders, 11, demo_start()), engine.execute, clock)
    return engine


def demo_start():
    from datetime import datetime

    return datetime(2026, 11, 20, tzinfo=UTC)


def store_versions(engine) -> dict[str, list[int]]:
    from domain.events import InterceptEvent

    found: dict[str, list[int]] = {}
    for _, event in engine.read_log(0, 10**9):
        if isinstance(event, InterceptEvent):
            found.setdefault(str(event.originator_id), []).append(event.originator_version)
    return found


def assert_complete_and_ordered(settings, engine) -> int:
    on_topic = envelopes_by_intercept(read_topic(settings.kafka_bootstrap, settings.topic))
    expected = store_versions(engine)
    assert set(on_topic) == set(expected)
    duplicates = 0
    for iid, envelopes in on_topic.items():
        first_seen = list(dict.fromkeys(e.version for e in envelopes))
        assert first_seen == expected[iid], f"intercept {iid} out of order: {first_seen}"
        # A resend repeats a run of versions that were already sent, never skips ahead.
        highest = 0
        for e in envelopes:
            assert e.version <= highest + 1, f"intercept {iid}: version {e.version} skipped ahead"
            highest = max(highest, e.version)
        duplicates += len(envelopes) - len(first_seen)
    return duplicates


def test_the_relay_publishes_every_intercept_event_keyed_and_in_order(kafka_settings):
    engine = seed_history(kafka_settings)
    # Small batches: one publish_once chains several, each sent before the last is acked.
    relay = build_relay(kafka_settings.model_copy(update={"relay_batch": 7}), engine)
    relay.check_topic()
    positions = [
        r["position"]
        for r in engine.app.event_log.log_rows_of(0, 10**9, tuple(INTERCEPT_EVENT_TYPES))
    ]
    calls = 0
    while relay.publish_once():
        calls += 1
        # Everything a call moved past is acknowledged and recorded when it returns.
        assert relay.positions.get(kafka_settings.topic) == positions[relay.published - 1]
    assert calls < len(positions) / 7  # batches were chained
    assert relay.published == count_intercept_events(engine)
    placed = kafka_clients.keyed_partitions(relay.producer)(kafka_settings.topic)
    for partition, found in read_topic(
        kafka_settings.kafka_bootstrap, kafka_settings.topic
    ).items():
        assert all(placed(r.key) == partition for r in found)  # the default partitioner's
    assert assert_complete_and_ordered(kafka_settings, engine) == 0
    records = read_topic(kafka_settings.kafka_bootstrap, kafka_settings.topic)
    assert len(records) == kafka_settings.partitions  # created by the relay, not auto-created
    record = next(r for rs in records.values() for r in rs)
    headers = dict(record.headers)
    assert headers["content-type"] == b"application/json"
    event_class = INTERCEPT_EVENT_TYPES[headers["event_type"].decode()]
    assert headers["schema_version"] == str(event_class.class_version).encode()
    assert record.key.decode() == __import__("orjson").loads(record.value)["intercept_id"]


def test_a_relay_killed_at_random_points_loses_nothing(kafka_settings):
    engine = seed_history(kafka_settings, orders=500)
    total = engine.app.recorder.max_notification_id()
    env = {**os.environ, "INTERCEPT_HOME": str(kafka_settings.home), "INTERCEPT_RELAY_BATCH": "2"}
    args = [
        INTERCEPT,
        "relay",
        "--bootstrap",
        kafka_settings.kafka_bootstrap,
        "--topic",
        kafka_settings.topic,
        "--partitions",
        "6",
    ]
    rng = random.Random(5)
    kills = 0
    positions = build_relay(kafka_settings, engine).positions
    while positions.get(kafka_settings.topic) < total and kills < 40:
        process = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0.0, 0.8))  # while starting up
        else:
            wait_for_line(process, "relaying to")
            time.sleep(rng.uniform(0.0, 0.12))  # while publishing
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    final = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wait_for_line(final, "relaying to")  # running, its signal handlers in place
    deadline = time.monotonic() + 60
    while positions.get(kafka_settings.topic) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    final.send_signal(signal.SIGTERM)
    assert final.wait(timeout=30) == 0, final.stderr.read()
    duplicates = assert_complete_and_ordered(kafka_settings, engine)
    print(f"relay: {kills} SIGKILLs, {total} log entries, {duplicates} resent duplicates")
    assert kills >= 10


def wait_for_line(process, text: str, lines: int = 50) -> None:
    for _ in range(lines):
        line = process.stderr.readline()
        if text in line or not line:
            return


def test_a_lost_topic_is_noticed_and_republished(kafka_settings):
    from tests.support.kafka_broker import KafkaBroker

    own = KafkaBroker()
    if not own.managed:
        pytest.skip("needs a broker this suite can restart")
    with own as kafka_broker:
        kafka_settings = kafka_settings.model_copy(update={"kafka_bootstrap": own.bootstrap})
        check_republish_after_loss(kafka_broker, kafka_settings)


def check_republish_after_loss(kafka_broker, kafka_settings):
    engine = seed_history(kafka_settings, orders=30)
    relay = build_relay(kafka_settings, engine)
    relay.check_topic()
    while relay.publish_once():
        pass
    kafka_broker.restart()  # a memory broker forgets every topic
    with pytest.raises(TopicLost, match="intercept relay --republish"):
        relay.check_topic()
    relay.republish()
    relay.check_topic()
    while relay.publish_once():
        pass
    assert assert_complete_and_ordered(kafka_settings, engine) == 0
