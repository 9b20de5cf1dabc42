"""The projection consumer's polls, whatever their boundaries: every poll is applied in one
transaction with its partitions' next offsets, and under redelivery (a restart from the
stored offsets, a partition read again from further back, poison among the records) the
rows end as one in-order pass leaves them, each poison parked, the offsets at the ends.

The broker is a stand-in here (a unit test); tests/integration/test_consumer_kafka.py runs
the same consumer against a real one.
"""

from collections import namedtuple
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import TopicPartition

from consumers.projection_consumer import ProjectionConsumer
from domain.envelope import Envelope
from engine.relay import message
from projections.projector import Projector
from projections.schema import migrate
from storage.database import Database
from tests.strategies import histories

TOPIC = "t"
PARTITIONS = 3
Record = namedtuple("Record", "topic partition offset key value headers")
POISON = (b"not json", b'{"event_type": "Teleported"}', None)


class _Broker:
    """The topic: each partition's records in offset order."""

    def __init__(self, values: list[tuple[bytes, bytes | None]]) -> None:
        self.logs: dict[int, list[Record]] = {p: [] for p in range(PARTITIONS)}
        for key, value in values:
            p = sum(key) % PARTITIONS  # one key, one partition
            log = self.logs[p]
            log.append(Record(TOPIC, p, len(log), key, value, [("event_type", b"x")]))

    def ends(self) -> dict[int, int]:
        return {p: len(log) for p, log in self.logs.items() if log}


class _Consumer:
    """kafka-python's consumer as the projection consumer uses it, polls cut as drawn."""

    def __init__(self, broker: _Broker, sizes) -> None:
        self.broker = broker
        self.sizes = sizes  # draws how many records the next poll takes from a partition
        self.at: dict[int, int] = {}
        self.listener = None

    def subscribe(self, topics, listener) -> None:
        self.listener = listener

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at[tp.partition] = offset

    def poll(self, timeout_ms: int = 0) -> dict:
        if self.listener is not None:  # the group assigns every partition on the first poll
            listener, self.listener = self.listener, None
            listener.on_partitions_assigned([TopicPartition(TOPIC, p) for p in range(PARTITIONS)])
        batch = {}
        for p, log in self.broker.logs.items():
            start = self.at.get(p, 0)
            records = log[start : start + self.sizes()]
            if records:
                batch[TopicPartition(TOPIC, p)] = records
                self.at[p] = start + len(records)
        return batch

    def commit_async(self, offsets, callback=None) -> None:
        pass

    def close(self, autocommit: bool = False) -> None:
        pass


class _DeadLetters:
    def __init__(self) -> None:
        self.parked: list[tuple[int, int]] = []

    def send(self, topic, key=None, value=None, headers=None):
        source = dict(headers)
        self.parked.append((int(source["dlq.source.partition"]), int(source["dlq.source.offset"])))
        return SimpleNamespace(get=lambda timeout=None: None)

    def flush(self, timeout=None) -> None:
        pass


def _projector() -> Projector:
    db = Database("sqlite:///:memory:")
    migrate(db)
    return Projector(db)


def _tables(projector: Projector) -> tuple:
    db = projector.db
    return (
        db.read("SELECT * FROM intercepts ORDER BY intercept_id"),
        db.read("SELECT * FROM intercept_events ORDER BY intercept_id, version"),
        db.read("SELECT * FROM pending_events"),
    )


def _polled_to_the_end(consumer: ProjectionConsumer, broker: _Broker, limit: int) -> None:
    for _ in range(limit):
        if not consumer.poll_once():
            return
    raise AssertionError("the consumer kept finding records")


@settings(max_examples=40)
@given(history=histories(), data=st.data())
def test_any_poll_boundaries_and_redeliveries_end_in_the_in_order_rows(history, data):
    messages = [
        (str(e.originator_id).encode(), message(Envelope.of(e, n))["value"])
        for n, e in enumerate(history, start=1)
    ]
    poison = data.draw(st.lists(st.sampled_from(POISON), max_size=3))
    mixed = data.draw(st.permutations(messages + [(b"p%d" % i, v) for i, v in enumerate(poison)]))
    # The relay sends one intercept's events in order; poison lands anywhere.
    order = iter(sorted((m for m in mixed if m in messages), key=messages.index))
    values = [next(order) if m in messages else m for m in mixed]
    broker = _Broker(values)
    reference = _projector()
    reference.apply([Envelope.model_validate_json(v) for _, v in messages], {})

    projector, parked = _projector(), _DeadLetters()
    sizes = lambda: data.draw(st.integers(1, 4), label="poll size")  # noqa: E731
    for _life in range(data.draw(st.integers(1, 3), label="restarts") + 1):
        kafka = _Consumer(broker, sizes)
        consumer = ProjectionConsumer(kafka, projector, parked, TOPIC, f"{TOPIC}.dlq")
        consumer.start()
        for _ in range(data.draw(st.integers(0, 4), label="polls before a restart")):
            consumer.poll_once()
        if data.draw(st.booleans(), label="a partition read again from further back"):
            p = data.draw(st.integers(0, PARTITIONS - 1))
            kafka.at[p] = data.draw(st.integers(0, kafka.at.get(p, 0)))
            before = projector.positions(TOPIC)
            consumer.poll_once()
            after = projector.positions(TOPIC)
            # Offsets read again never pull a stored position back.
            assert all(after.get(q, 0) >= o for q, o in before.items())
    _polled_to_the_end(consumer, broker, limit=len(values) + 10)

    assert _tables(projector) == _tables(reference)
    assert projector.positions(TOPIC) == broker.ends()
    poisoned = {
        (p, r.offset) for p, log in broker.logs.items() for r in log if r.key.startswith(b"p")
    }
    assert set(parked.parked) == poisoned
