"""Reading a whole topic back, for assertions about what the broker holds."""

from kafka import KafkaConsumer, TopicPartition

from domain.envelope import Envelope
from consumers.decode import decode


def read_topic(bootstrap: str, topic: str, idle_polls: int = 4) -> dict[int, list]:
    """partition -> records, in offset order; read until the topic stays quiet."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             allow_auto_create_topics=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        out: dict[int, list] = {tp.partition: [] for tp in tps}
        quiet = 0
        while quiet < idle_polls:
            batch = consumer.poll(timeout_ms=500)
            quiet = 0 if batch else quiet + 1
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
