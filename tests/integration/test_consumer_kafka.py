"""The projection consumer against a real broker: exactly-once rows under crashes,
rebalances and poison messages."""

import os
import random
import signal
import subprocess
import time

import orjson
import pytest

from consumers import dlq_tools
from engine import kafka_clients
from engine.composition import build_engine, build_projection_consumer, build_relay
from tests.e2e.cli import INTERCEPT
from tests.integration.projection_tables import reference_tables, tables
from tests.integration.test_relay_kafka import seed_history, wait_for_line

pytestmark = pytest.mark.kafka


def published(settings, orders=80):
    """An event store with a history, all of it relayed to the topic."""
    engine = seed_history(settings, orders=orders)
    relay = build_relay(settings, engine)
    relay.check_topic()
    while relay.publish_once():
        pass
    return engine, relay.published


def timeline_count(db) -> int:
    return db.read("SELECT COUNT(*) AS n FROM intercept_events")[0]["n"]


def drain(consumer, db, expected: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while timeline_count(db) < expected and time.monotonic() < deadline:
        consumer.poll_once()
    assert timeline_count(db) == expected


class Crash(Exception):
    """The process dies between committing its rows and committing to Kafka."""


def test_a_consumer_dying_before_its_kafka_commit_applies_nothing_twice(kafka_settings, tmp_path):
    # 50 orders, not 40: since the plan reports after-sales, a history seeded for Kafka
    # (the automatic rule is not inline there) has fewer intercept events (40 orders gave
    # 106), and the polls of Random(3) below crash only 9 times over those; 50 give 135.
    engine, total = published(kafka_settings, orders=50)
    rng = random.Random(3)
    crashes = 0
    projections = build_engine(kafka_settings)
    while timeline_count(projections.db) < total and crashes < 200:
        consumer = build_projection_consumer(
            kafka_settings, build_engine(kafka_settings), max_poll_records=rng.randint(1, 8)
        )
        polls_left = rng.randint(1, 3)

        def crash_before_commit(offsets, polls=[polls_left]):  # noqa: B006 - a counter
            polls[0] -= 1
            if polls[0] <= 0:
                raise Crash(offsets)

        consumer._hint_kafka = crash_before_commit
        consumer.start()
        try:
            # Until all is applied: the last consumer may apply the end of the topic before
            # its crash comes, and an empty poll never reaches the Kafka commit.
            while timeline_count(projections.db) < total:
                consumer.poll_once()
        except Crash:
            crashes += 1
        finally:
            consumer.consumer.close(autocommit=False)
    print(f"consumer: {crashes} crashes between row commit and Kafka commit, {total} events")
    assert crashes >= 10
    assert tables(projections.db) == reference_tables(kafka_settings, tmp_path)


def test_a_consumer_process_killed_at_random_points_applies_nothing_twice(kafka_settings, tmp_path):
    engine, total = published(kafka_settings, orders=60)
    env = {
        **os.environ,
        "INTERCEPT_HOME": str(kafka_settings.home),
        "INTERCEPT_MAX_POLL_RECORDS": "3",
    }
    args = [
        INTERCEPT,
        "consume",
        "--bootstrap",
        kafka_settings.kafka_bootstrap,
        "--topic",
        kafka_settings.topic,
        "--group",
        kafka_settings.group_id,
    ]
    rng = random.Random(8)
    projections = build_engine(kafka_settings)
    kills = 0
    while timeline_count(projections.db) < total and kills < 12:
        process = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(2.0, 5.0))  # a group join alone takes ~3 s
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    final = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wait_for_line(final, "consuming")  # running, its signal handlers in place
    deadline = time.monotonic() + 90
    while timeline_count(projections.db) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    final.send_signal(signal.SIGTERM)
    assert final.wait(timeout=30) == 0
    print(f"consumer: {kills} SIGKILLs, {total} events")
    assert tables(projections.db) == reference_tables(kafka_settings, tmp_path)


def test_two_consumers_one_leaving_mid_stream_lose_and_double_nothing(kafka_settings, tmp_path):
    engine, total = published(kafka_settings, orders=120)
    first = build_projection_consumer(
        kafka_settings, build_engine(kafka_settings), max_poll_records=2
    )
    second = build_projection_consumer(
        kafka_settings, build_engine(kafka_settings), max_poll_records=2
    )
    first.start()
    second.start()
    projections = build_engine(kafka_settings)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        first.poll_once(50)
        second.poll_once(50)
        sharing = first.consumer.assignment() and second.consumer.assignment()
        if sharing and timeline_count(projections.db) >= total // 3:
            break
    # Both members hold partitions at once, and the stream is not finished yet.
    assert first.consumer.assignment() and second.consumer.assignment()
    assert timeline_count(projections.db) < total
    first.consumer.close(autocommit=False)  # leaves mid-stream
    drain(second, projections.db, total)
    second.consumer.close(autocommit=False)
    assert tables(projections.db) == reference_tables(kafka_settings, tmp_path)


def test_poison_messages_go_to_the_dlq_and_their_intercept_waits(kafka_settings, tmp_path):
    engine, total = published(kafka_settings, orders=20)
    records = __import__("tests.integration.kafka_reading", fromlist=["x"]).read_topic(
        kafka_settings.kafka_bootstrap, kafka_settings.topic
    )
    # Take one intercept with several events: its version 2 will be poisoned.
    by_intercept: dict = {}
    for rs in records.values():
        for r in rs:
            by_intercept.setdefault(r.key, []).append(r)
    key, victim = next((k, rs) for k, rs in by_intercept.items() if len(rs) >= 3)
    good_v2 = victim[1].value
    broken_v2 = orjson.loads(good_v2)
    del broken_v2["payload"]["merchant_id"]

    # A fresh topic holding: not JSON, an unknown type, the broken v2, and everything else.
    poisoned = kafka_settings.model_copy(
        update={"topic": kafka_settings.topic + ".p", "dlq_topic": kafka_settings.topic + ".p.dlq"}
    )
    kafka_clients.ensure_topics(poisoned, [poisoned.topic])
    producer = kafka_clients.producer(poisoned)
    unknown = dict(orjson.loads(victim[0].value), event_type="Teleported")
    producer.send(poisoned.topic, key=b"junk", value=b"not json {")
    producer.send(poisoned.topic, key=key, value=orjson.dumps(unknown))
    for rs in records.values():
        for r in rs:
            value = orjson.dumps(broken_v2) if r.value == good_v2 else r.value
            producer.send(poisoned.topic, key=r.key, value=value, headers=r.headers)
    producer.flush()

    consumer = build_projection_consumer(poisoned, build_engine(poisoned))
    consumer.start()
    projections = build_engine(poisoned)
    drain(consumer, projections.db, total - len(victim) + 1)  # the victim stops at v1
    assert consumer.dead_lettered == 3
    letters = dlq_tools.read_all(
        kafka_clients.consumer(poisoned, group_id=None), poisoned.dlq_topic
    )
    reasons = sorted(letter.reason for letter in letters)
    assert reasons == ["invalid", "not_json", "unknown_event_type"]
    invalid = next(letter for letter in letters if letter.reason == "invalid")
    assert "merchant_id" in invalid.detail and invalid.topic == poisoned.topic
    assert invalid.offset >= 0 and invalid.partition >= 0
    waiting = projections.db.read("SELECT version FROM pending_events ORDER BY version")
    assert [w["version"] for w in waiting] == list(range(3, len(victim) + 1))

    # The operator fixes the message and redrives it: the intercept catches up, in order.
    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(good_v2)
    run = subprocess.run(
        [
            INTERCEPT,
            "dlq",
            "redrive",
            "--bootstrap",
            poisoned.kafka_bootstrap,
            "--topic",
            poisoned.topic,
            "--offset",
            str(invalid.dlq_offset),
            "--file",
            str(fixed),
            "--json",
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "INTERCEPT_DLQ_TOPIC": poisoned.dlq_topic,
            "INTERCEPT_HOME": str(poisoned.home),
        },
    )
    assert run.returncode == 0, run.stderr
    drain(consumer, projections.db, total)
    consumer.consumer.close(autocommit=False)
    assert projections.db.read("SELECT * FROM pending_events") == []
    assert tables(projections.db) == reference_tables(poisoned, tmp_path)
