"""Reading the dead-letter topic and sending corrected messages back through."""

import orjson

from consumers.dead_letters import DeadLetter, from_dlq_record
from consumers.decode import Poison, decode
from consumers.topic_reader import MissingTopic, read_from_start


def read_all(consumer, dlq_topic: str) -> list[DeadLetter]:
    """Every message on the DLQ, read from the start by a consumer outside any group."""
    try:
        letters = [
            from_dlq_record(r)
            for batch in read_from_start(consumer, dlq_topic)
            for records in batch.values()
            for r in records
        ]
    except MissingTopic:
        return []  # nothing was ever dead-lettered
    finally:
        consumer.close(autocommit=False)
    return sorted(letters, key=lambda letter: (letter.dlq_partition or 0, letter.dlq_offset or 0))


def describe(letter: DeadLetter) -> dict:
    return {
        "dlq_partition": letter.dlq_partition,
        "dlq_offset": letter.dlq_offset,
        "source_topic": letter.topic,
        "source_partition": letter.partition,
        "source_offset": letter.offset,
        "reason": letter.reason,
        "detail": letter.detail,
        "key": letter.key.decode(errors="replace") if letter.key else None,
        "value": letter.value.decode(errors="replace") if letter.value else None,
    }


def redrive(
    letters: list[DeadLetter], producer, topic: str, replacement: bytes | None
) -> list[dict[str, int | None]]:
    """Send each letter (or its replacement) back; returns their DLQ partitions and offsets."""
    try:
        sent = []
        for letter in letters:
            value = replacement if replacement is not None else letter.value
            producer.send(topic, key=_key(letter, value), value=value).get(timeout=30)
            sent.append({"dlq_partition": letter.dlq_partition, "dlq_offset": letter.dlq_offset})
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
