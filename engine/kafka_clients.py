"""Kafka clients configured from settings. Built only by the composition root."""

import time
from collections.abc import Callable
from functools import lru_cache

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from engine.settings import Settings

# Joins take ~20 s with kafka-python's defaults; these keep a rebalance to a few seconds.
GROUP_TIMEOUTS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
FETCH_MAX_WAIT_MS = 20


def producer(settings: Settings, **overrides) -> KafkaProducer:
    config = dict(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        # One request in flight keeps one intercept's events in order across retries.
        max_in_flight_requests_per_connection=1,
        enable_idempotence=False,
        allow_auto_create_topics=False,
        linger_ms=5,
        batch_size=256 * 1024,
        max_block_ms=15_000,
        delivery_timeout_ms=60_000,
        request_timeout_ms=15_000,
    )
    config.update(overrides)
    return KafkaProducer(**config)


# An intercept's id hashed once while its events keep coming, not once per event: the
# pure-Python murmur2 was a tenth of the relay's CPU.
_key_hash = lru_cache(maxsize=1 << 16)(murmur2)


def keyed_partitions(producer: KafkaProducer) -> Callable[[str], Callable[[bytes], int]]:
    """topic -> (key -> partition), choosing exactly as kafka-python's default partitioner
    does for a keyed record (murmur2 of the key over the sorted partitions), so that the
    relay and anything else sending with the same key (the DLQ's redrive) agree."""

    def for_topic(topic: str) -> Callable[[bytes], int]:
        partitions = sorted(producer.partitions_for(topic))
        count = len(partitions)
        return lambda key: partitions[(_key_hash(key) & 0x7FFFFFFF) % count]

    return for_topic


def consumer(settings: Settings, **overrides) -> KafkaConsumer:
    config = dict(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
        max_poll_records=settings.max_poll_records,
        # The broker answers a fetch when data arrives or this long after; Tansu waits it
        # out in full, so its default (500 ms) was half a second of latency per poll.
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        **GROUP_TIMEOUTS,
    )
    config.update(overrides)
    return KafkaConsumer(**config)


def admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15_000)


def existing_topics(settings: Settings) -> set[str]:
    client = admin(settings)
    try:
        return set(client.list_topics())
    finally:
        client.close()


def ensure_topics(settings: Settings, names: list[str], replication: int = 1) -> list[str]:
    """Create the topics that are missing; never leave it to a broker's auto-creation."""
    client = admin(settings)
    try:
        missing = [n for n in names if n not in set(client.list_topics())]
        created = []
        for name in missing:
            try:
                client.create_topics([NewTopic(name, settings.partitions, replication)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process created it first
        return created
    finally:
        client.close()


def read_record(
    settings: Settings, topic: str, partition: int, offset: int, timeout: float = 10.0
) -> bytes | None:
    """The value of one record, or None when the topic has no such record (any more)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        allow_auto_create_topics=False,
    )
    try:
        if topic not in consumer.topics():
            return None
        tp = TopicPartition(topic, partition)
        if partition not in (consumer.partitions_for_topic(topic) or set()):
            return None
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in consumer.poll(timeout_ms=500).get(tp, []):
                return record.value if record.offset == offset else None
        return None
    except KafkaError:  # offset out of range and the like: the record is not there
        return None
    finally:
        consumer.close(autocommit=False)
