"""Reading a whole topic back, for assertions about what the broker holds."""

from kafka import KafkaConsumer

from consumers.decode import decode
from consumers.topic_reader import read_from_start
from domain.envelope import Envelope


def read_topic(bootstrap: str, topic: str) -> dict[int, list]:
    """partition -> records, in offset order; read until the topic stays quiet."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
    )
    try:
        out: dict[int, list] = {p: [] for p in consumer.partitions_for_topic(topic) or ()}
        for batch in read_from_start(consumer, topic):
            for tp, records in batch.items():
                out[tp.partition].extend(records)
        return out
    finally:
        consumer.close(autocommit=False)


def envelopes_by_intercept(records_by_partition: dict[int, list]) -> dict[str, list[Envelope]]:
    """Each intercept's envelopes in the order they sit on their partition."""
    found: dict[str, list[Envelope]] = {}
    for records in records_by_partition.values():
        for record in records:
            envelope = decode(record.value)
            found.setdefault(str(envelope.intercept_id), []).append(envelope)
    return found
