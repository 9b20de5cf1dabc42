"""The relay chooses each record's partition itself, exactly as kafka-python's default
partitioner would for its key: one intercept, one partition, whoever sends it."""

from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import DefaultPartitioner

from engine.kafka_clients import keyed_partitions


class _Cluster:
    """What the default partitioner asks of the producer's metadata."""

    def __init__(self, partitions: set[int]) -> None:
        self.partitions = partitions

    def topics(self):
        return {"t"}

    def partitions_for_topic(self, topic):
        return self.partitions

    def available_partitions_for_topic(self, topic):
        return self.partitions


class _Producer:
    def __init__(self, partitions: set[int]) -> None:
        self.partitions = partitions

    def partitions_for(self, topic):
        return self.partitions


@given(
    keys=st.lists(st.uuids().map(lambda u: str(u).encode()) | st.binary(min_size=1), max_size=50),
    partitions=st.sets(st.integers(0, 40), min_size=1, max_size=12),
)
def test_the_relay_places_a_key_where_the_default_partitioner_does(keys, partitions):
    place = keyed_partitions(_Producer(partitions))("t")
    default = DefaultPartitioner()
    for key in keys + keys:  # the second time from the cache
        assert place(key) == default.partition("t", key, key, b"", b"", _Cluster(partitions))
