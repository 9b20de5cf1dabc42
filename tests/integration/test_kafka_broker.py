"""kafka-python 3.0.12 against the Tansu broker started by tests.support.kafka_broker."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition, codec

from tests.support.kafka_broker import KafkaBroker

# The group settings under test: a short session so a dead member is noticed fast.
GROUP_SETTINGS = dict(
    enable_auto_commit=False,
    auto_offset_reset="earliest",
    session_timeout_ms=6000,
    heartbeat_interval_ms=1000,
)
# Tansu holds a first JoinGroup ~3 s (like Kafka's initial rebalance delay); leave room.
DEADLINE_S = 30.0


def unique(prefix: str) -> str:
    # Topics and groups outlive a test on a session broker; never reuse a name.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_keyed_messages_come_back_in_order_through_a_group(kafka_broker: KafkaBroker) -> None:
    topic = unique("orders")
    kafka_broker.create_topic(topic, partitions=6)

    sent: dict[bytes, list[bytes]] = defaultdict(list)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    for i in range(200):
        key, value = f"key-{i % 10}".encode(), f"{i}".encode()
        producer.send(topic, key=key, value=value, headers=[("seq", value)])
        sent[key].append(value)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka_broker.bootstrap, group_id=unique("g"), **GROUP_SETTINGS
    )
    try:
        received: dict[bytes, list[bytes]] = defaultdict(list)
        partitions_of: dict[bytes, set[int]] = defaultdict(set)
        per_partition: dict[int, int] = defaultdict(int)
        started = time.monotonic()
        joined_after: float | None = None
        while sum(map(len, received.values())) < 200 and time.monotonic() - started < DEADLINE_S:
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    assert record.key is not None and record.value is not None
                    assert record.headers == [("seq", record.value)]
                    received[record.key].append(record.value)
                    partitions_of[record.key].add(record.partition)
                    per_partition[record.partition] += 1
            if joined_after is None and consumer.assignment():
                joined_after = time.monotonic() - started
        print(
            f"group join {joined_after:.2f}s, all 200 records after {time.monotonic() - started:.2f}s"
        )

        assert received == sent  # per-key order preserved, nothing missing or duplicated
        assert all(len(p) == 1 for p in partitions_of.values())
        assert len(set().union(*partitions_of.values())) > 1  # keys really spread over partitions

        # Compare with what was consumed, not end_offsets(): see the quirk test below.
        consumer.commit()
        committed = {tp.partition: consumer.committed(tp) for tp in consumer.assignment()}
        assert committed == {p: per_partition[p] for p in range(6)}  # empty partitions commit 0
    finally:
        consumer.close()


@pytest.mark.parametrize("compression", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_round_trip_with_assign_and_seek(
    kafka_broker: KafkaBroker, compression: str
) -> None:
    # kafka-python only ships gzip; the others need python-snappy/lz4/zstandard.
    if not getattr(codec, f"has_{compression}")():
        pytest.skip(f"no {compression} library installed")
    topic = unique(f"codec-{compression}")
    kafka_broker.create_topic(topic, partitions=1)
    producer = KafkaProducer(
        bootstrap_servers=kafka_broker.bootstrap, acks="all", compression_type=compression
    )
    values = [f"{compression}-{i}".encode() * 50 for i in range(20)]
    for value in values:
        producer.send(topic, value=value, headers=[("codec", compression.encode())])
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_broker.bootstrap
    )  # no group: manual assignment
    try:
        tp = TopicPartition(topic, 0)
        assert consumer.partitions_for_topic(topic) == {0}
        consumer.assign([tp])
        consumer.seek(tp, 5)
        got: list[bytes] = []
        started = time.monotonic()
        while len(got) < 15 and time.monotonic() - started < DEADLINE_S:
            for records in consumer.poll(timeout_ms=200).values():
                got += [r.value for r in records if r.headers == [("codec", compression.encode())]]
        assert got == values[5:]
    finally:
        consumer.close()


def test_restart_loses_every_topic() -> None:
    # A broker of its own: restarting the session one would wipe other tests' topics.
    with KafkaBroker() as broker:
        if not broker.managed:
            pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at a broker we cannot restart")
        topic = unique("doomed")
        broker.create_topic(topic, partitions=6)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        producer.send(topic, key=b"k", value=b"v").get(timeout=10)
        producer.close()  # a live client would re-create the topic (see restart())

        bootstrap = broker.bootstrap
        started = time.monotonic()
        broker.restart()
        print(f"restart took {time.monotonic() - started:.3f}s")

        assert broker.bootstrap == bootstrap
        admin = broker.admin()
        try:
            assert topic not in admin.list_topics()
        finally:
            admin.close()
        # Re-creating is a real create (no TopicAlreadyExists swallowed), and it is empty.
        broker.create_topic(topic, partitions=6)
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
        try:
            tps = [TopicPartition(topic, p) for p in range(6)]
            assert set(consumer.end_offsets(tps).values()) == {0}
        finally:
            consumer.close()


def test_tansu_auto_creates_a_topic_a_producer_asks_about() -> None:
    """Pins a Tansu quirk that bites restart-based tests: metadata requests create topics."""
    with KafkaBroker() as broker:
        if not broker.managed:
            pytest.skip("only meaningful for the Tansu broker we start")
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
        try:
            assert producer.partitions_for(unique("ghost")) == {0, 1, 2, 3}
        finally:
            producer.close()


def test_tansu_end_offsets_stop_at_the_last_batch_start(kafka_broker: KafkaBroker) -> None:
    """Pins a Tansu bug: ListOffsets(LATEST) is the last batch's base offset + 1,
    not the high watermark, so end_offsets()/lag are wrong after multi-record batches.
    Fetch's high watermark (consumer.highwater) is right."""
    topic = unique("hw")
    kafka_broker.create_topic(topic, partitions=1)
    tp = TopicPartition(topic, 0)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all", linger_ms=50)
    for _ in range(10):
        producer.send(topic, value=b"x")
    producer.flush()  # one batch of 10 records at offsets 0..9
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap)
    try:
        assert consumer.end_offsets([tp]) == {tp: 1}  # Kafka would say 10
        consumer.assign([tp])
        consumer.seek(tp, 0)
        started = time.monotonic()
        while consumer.highwater(tp) is None and time.monotonic() - started < DEADLINE_S:
            consumer.poll(timeout_ms=200)
        assert consumer.highwater(tp) == 10
    finally:
        consumer.close()
