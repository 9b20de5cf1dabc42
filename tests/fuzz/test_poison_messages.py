"""Poison Kafka messages, fuzzed: every one ends in the dead-letter topic, none crash.

In process, any bytes either decode to an event or are named poison; the ones
no valid message can look like are always poison, and whatever decodes also
applies without an error. Against the real broker a bounded sample is mixed
into a topic holding a full history: the consumer parks exactly the poison in
the dead-letter topic and projects the rest as a clean run would.
"""

import random
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import NonInteractiveExampleWarning

from consumers.decode import Poison, decode
from projections.projector import Projector
from projections.schema import migrate
from storage.database import Database
from tests.faults.report import report
from tests.fuzz.poison import poison, published
from tests.strategies import histories

TRIED: dict[str, int] = {"cases": 0, "poison": 0, "decoded": 0}


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    if TRIED["cases"]:
        report("poison messages in process", **TRIED)


@given(cases=st.lists(poison(), min_size=1, max_size=8))
def test_any_bytes_decode_or_are_named_poison_and_never_crash_the_projector(cases):
    for value, surely_poison in cases:
        TRIED["cases"] += 1
        try:
            envelope = decode(value)
        except Poison as named:
            TRIED["poison"] += 1
            assert named.kind and named.detail
            continue
        TRIED["decoded"] += 1
        assert not surely_poison, value
        db = Database("sqlite:///:memory:")
        migrate(db)
        Projector(db).apply([envelope], {("t", 0): 1})  # strange but valid: it still applies


def samples(strategy, n: int) -> list:
    """`n` varied draws, for a test too slow to run per hypothesis example."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        return [strategy.example() for _ in range(n)]


@pytest.mark.kafka
def test_fuzzed_poison_on_a_real_topic_all_ends_in_the_dlq(kafka_settings):
    from consumers import dlq_tools
    from engine import kafka_clients
    from engine.composition import build_engine, build_projection_consumer
    from tests.integration.test_consumer_kafka import drain
    from tests.integration.test_projector_delivery import tables

    good = published(max(samples(histories(max_intercepts=4, max_steps=8), 10), key=len))
    poisons = [value for value, surely in samples(poison(), 60) if surely][:40] + [None]
    mixed = [*good, *poisons]
    random.Random(3).shuffle(mixed)
    kafka_clients.ensure_topics(kafka_settings, [kafka_settings.topic])
    producer = kafka_clients.producer(kafka_settings)
    for n, value in enumerate(mixed):
        producer.send(kafka_settings.topic, key=str(n % 7).encode(), value=value)
    producer.flush()
    producer.close()

    engine = build_engine(kafka_settings)
    consumer = build_projection_consumer(kafka_settings, engine)
    consumer.start()
    try:
        drain(consumer, engine.db, len(good))  # an exception from any poll fails the test
        while consumer.dead_lettered < len(poisons) and consumer.poll_once(500):
            pass
    finally:
        consumer.consumer.close(autocommit=False)
    letters = dlq_tools.read_all(
        kafka_clients.consumer(kafka_settings, group_id=None), kafka_settings.dlq_topic
    )
    reference = Projector(Database("sqlite:///:memory:"))
    migrate(reference.db)
    reference.apply([decode(v) for v in good], {})
    report(
        "poison messages through the broker",
        poison_sent=len(poisons),
        good_sent=len(good),
        dead_lettered=consumer.dead_lettered,
        in_dlq=len(letters),
        reasons=",".join(sorted({letter.reason for letter in letters})),
    )
    assert consumer.dead_lettered == len(letters) == len(poisons)
    assert sorted(letter.value or b"" for letter in letters) == sorted(v or b"" for v in poisons)
    assert tables(Projector(engine.db))[:2] == tables(reference)[:2]
