"""Reading the dead-letter topic and sending corrected messages back through."""

import orjson
from kafka import TopicPartition

from consumers.dead_letters import DeadLetter, from_dlq_record
from consumers.decode import Poison, decode


def read_all(consumer, dlq_topic: str, idle_polls: int = 3) -> list[DeadLetter]:
    """Every message on the DLQ, read from the start by a consumer outside any group."""
    try:
        partitions = consumer.partitions_for_topic(dlq_topic) or set()
        tps = [TopicPartition(dlq_topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        letters: list[DeadLetter] = []
        quiet = 0
        # Reading until the topic stays quiet, not up to end offsets: some brokers
        # report end offsets wrongly, and a DLQ is small.
        while quiet < idle_polls:
            batch = consumer.poll(timeout_ms=500)
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                letters.extend(from_dlq_record(r) for r in records)
        return sorted(letters, key=lambda l: (l.dlq_offset or 0))
    finally:
        consumer.close(autocommit=False)


def describe(letter: DeadLetter) -> dict:
    return {
        "dlq_offset": letter.dlq_offset, "source_topic": letter.topic,
        "source_partition": letter.partition, "source_offset": letter.offset,
        "reason": letter.reason, "detail": letter.detail,
        "key": letter.key.decode(errors="replace") if letter.key else None,
        "value": letter.value.decode(errors="replace") if letter.value else None,
    }


def redrive(letters: list[DeadLetter], producer, topic: str,
            replacement: bytes | None) -> list[int]:
    """Send each letter (or its replacement) back to the events topic; returns DLQ offsets."""
    try:
        sent = []
        for letter in letters:
            value = replacement if replacement is not None else letter.value
            producer.send(topic, key=_key(letter, value), value=value).get(timeout=30)
            sent.append(letter.dlq_offset)
        producer.flush()
        return sent
    finally:
        producer.close()


def _key(letter: DeadLetter, value: bytes | None) -> bytes | None:
    """Keep the intercept's partition: the envelope's id when it decodes, else the old key."""
    try:
        return str(decode(value).intercept_id).encode()
    except (Poison, orjson.JSONDecodeError):
        return letter.key
