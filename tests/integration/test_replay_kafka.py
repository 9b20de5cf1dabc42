"""Rebuilds and audits through a real broker: the topic alone rebuilds the same rows and
proves its events untouched; a replay publishes nothing."""

import orjson
import pytest
from kafka import KafkaProducer

from audit.topic_check import verify_records
from consumers.topic_reader import read_from_start
from engine import kafka_clients, replay
from engine.composition import build_engine, build_projection_consumer
from projections.fresh import FreshProjections
from tests.e2e.cli import intercept
from tests.integration.projection_tables import tables
from tests.integration.test_consumer_kafka import drain, published

pytestmark = pytest.mark.kafka


def records(settings, topic: str) -> list:
    consumer = kafka_clients.consumer(settings, group_id=None)
    try:
        return [
            r for batch in read_from_start(consumer, topic) for part in batch.values() for r in part
        ]
    finally:
        consumer.close(autocommit=False)


@pytest.fixture
def projected(kafka_settings):
    """A history relayed to the topic and consumed into the live projections."""
    writer, total = published(kafka_settings, orders=30)
    live = build_engine(kafka_settings)
    consumer = build_projection_consumer(kafka_settings, build_engine(kafka_settings))
    consumer.start()
    drain(consumer, live.db, total)
    consumer.consumer.close(autocommit=False)
    yield writer, live
    writer.close()
    live.close()


def from_topic(settings, db) -> replay.ReplayReport:
    report = replay.ReplayReport("kafka")
    consumer = kafka_clients.consumer(settings, group_id=None)
    try:
        replay.from_topic(
            db, settings.topic, read_from_start(consumer, settings.topic), report, lambda n: None
        )
    finally:
        consumer.close(autocommit=False)
    return report


def test_the_topic_and_the_store_each_rebuild_the_live_rows(kafka_settings, projected):
    writer, live = projected
    expected = tables(live.db)
    positions = live.projector.positions(kafka_settings.topic)
    with FreshProjections(live.db) as target:
        report = from_topic(kafka_settings, target.db)
        assert tables(target.db) == expected and report.skipped == 0
        target.swap_in()
    assert tables(live.db) == expected
    assert live.projector.positions(kafka_settings.topic) == positions
    with FreshProjections(live.db) as target:
        replay.from_store(target.db, writer.read_log, replay.ReplayReport("store"), lambda n: None)
        assert tables(target.db) == expected


def test_every_message_carries_the_store_hashes_and_the_topic_verifies_alone(
    kafka_settings, projected
):
    writer, _ = projected
    on_topic = records(kafka_settings, kafka_settings.topic)
    verdict = verify_records(on_topic)
    assert verdict.ok and verdict.checked == len(on_topic)
    links = {(str(k.aggregate_id), k.version): k for k in writer.app.recorder.chain_links(0, 10**6)}
    for record in on_topic:
        message = orjson.loads(record.value)
        link = links[(message["intercept_id"], message["version"])]
        assert (message["event_hash"], message["prev_hash"], message["log_hash"]) == (
            link.event_hash,
            link.prev_hash,
            link.log_hash,
        )
    # The newest log hash seen on the topic anchors the store's chain.
    head = writer.app.recorder.chain_links_between(verdict.head.position, verdict.head.position)[0]
    assert head.log_hash == verdict.head.log_hash


def test_a_changed_message_is_named_and_a_replay_publishes_nothing(kafka_settings, projected):
    original = records(kafka_settings, kafka_settings.topic)
    victim = next(r for r in original if b'"FeeCharged"' in r.value)
    changed = orjson.loads(victim.value)
    changed["payload"]["amount_minor"] += 1
    producer = KafkaProducer(bootstrap_servers=kafka_settings.kafka_bootstrap)
    for value in (orjson.dumps(changed), b"not json"):
        producer.send(
            kafka_settings.topic, key=victim.key, value=value, partition=victim.partition
        ).get(timeout=30)
    producer.close()
    problem = verify_records(records(kafka_settings, kafka_settings.topic)).problem
    assert problem.check == "event_hash"
    assert problem.where.startswith(f"{kafka_settings.topic}[{victim.partition}]@")
    assert (problem.aggregate_id, problem.version) == (changed["intercept_id"], changed["version"])
    before = {
        t: len(records(kafka_settings, t)) for t in (kafka_settings.topic, kafka_settings.dlq_topic)
    }
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.kafka_bootstrap,
        "INTERCEPT_TOPIC": kafka_settings.topic,
        "INTERCEPT_DLQ_TOPIC": kafka_settings.dlq_topic,
    }
    refused = intercept(kafka_settings.home, "replay", "--from", "kafka", "--json", env=env)
    assert refused.code == 1 and not refused.json()["swapped"]
    assert refused.json()["verification"]["problem"]["check"] == "event_hash"
    run = intercept(
        kafka_settings.home, "replay", "--from", "kafka", "--no-verify", "--json", env=env
    )
    assert run.code == 0, run.err
    assert run.json()["skipped"] == 1 and run.json()["swapped"]  # the live consumer's DLQ job
    after = {t: len(records(kafka_settings, t)) for t in before}
    assert after == before
    verify = intercept(kafka_settings.home, "audit", "verify", "--from", "kafka", env=env)
    assert verify.code == 1 and "event_hash" in verify.err


def test_audit_verify_from_kafka_goes_past_foreign_messages_and_lists_every_problem(
    kafka_settings, projected
):
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.kafka_bootstrap,
        "INTERCEPT_TOPIC": kafka_settings.topic,
    }
    original = records(kafka_settings, kafka_settings.topic)
    fees = [r for r in original if b'"FeeCharged"' in r.value][:2]
    producer = KafkaProducer(bootstrap_servers=kafka_settings.kafka_bootstrap)

    def send(value: bytes, partition: int) -> None:
        producer.send(kafka_settings.topic, value=value, partition=partition).get(timeout=30)

    send(b"not json", 0)
    send(b'{"someone": "else"}', 1)
    clean = intercept(kafka_settings.home, "audit", "verify", "--from", "kafka", env=env)
    assert clean.code == 0, clean.err
    assert f"verified {len(original)} events" in clean.out
    assert "2 foreign message(s) skipped" in clean.out and "FOREIGN record" in clean.out
    assert "policies and parcel registries are not published" in clean.out
    for victim in fees:
        changed = orjson.loads(victim.value)
        changed["payload"]["amount_minor"] += 1
        send(orjson.dumps(changed), victim.partition)
    producer.close()
    first = intercept(kafka_settings.home, "audit", "verify", "--from", "kafka", env=env)
    assert first.code == 1 and first.err.count("TAMPERED [event_hash]") == 1
    assert "--all lists every one" in first.err
    every = intercept(kafka_settings.home, "audit", "verify", "--from", "kafka", "--all", env=env)
    assert every.code == 1 and every.err.count("TAMPERED [event_hash]") == 2
    assert "2 problem(s)" in every.err and every.err.count("FOREIGN record") == 2
    as_json = intercept(
        kafka_settings.home, "audit", "verify", "--from", "kafka", "--all", "--json", env=env
    ).json()
    assert [p["check"] for p in as_json["problems"]] == ["event_hash", "event_hash"]
    assert as_json["unverifiable"]["foreign"] == 2
