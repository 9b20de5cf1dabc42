"""Reads a whole topic from its first offsets, for rebuilds and audits: no group, no commits.

It stops once the topic has stayed quiet for a while, not at the end offsets, which
some brokers report wrongly.
"""

from collections.abc import Iterator

from kafka import TopicPartition


class MissingTopic(LookupError):
    pass


def read_from_start(
    consumer, topic: str, idle_polls: int = 4, poll_ms: int = 500
) -> Iterator[dict[TopicPartition, list]]:
    """Poll batches (partition -> records) until `idle_polls` polls in a row bring nothing."""
    # Asking for a missing topic's partitions makes some brokers create it: check first.
    if topic not in consumer.topics():
        raise MissingTopic(f"topic {topic} does not exist on the broker")
    partitions = [
        TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, 0)
    quiet = 0
    while quiet < idle_polls:
        batch = consumer.poll(timeout_ms=poll_ms)
        quiet = 0 if batch else quiet + 1
        if batch:
            yield batch
