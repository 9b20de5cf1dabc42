"""Kafka consumers feeding projections on PostgreSQL: the deployment for more than one machine.

Two consumers in one group share the topic and rebalance while one leaves
mid-stream; each batch advances its partitions under the checkpoint lock, so
the rows end equal to an in-order pass over the event store.
"""

import time

import pytest

from engine.composition import build_engine, build_projection_consumer
from tests.integration.projection_tables import reference_tables, tables
from tests.integration.test_consumer_kafka import drain, published, timeline_count

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_two_consumers_on_postgres_one_leaving_mid_stream_lose_and_double_nothing(
    kafka_settings, postgres_server, tmp_path
):
    settings = kafka_settings.model_copy(
        update={
            "event_store": postgres_server.create_database("events"),
            "projections": postgres_server.create_database("projections"),
        }
    )
    _, total = published(settings, orders=60)
    first = build_projection_consumer(settings, build_engine(settings), max_poll_records=5)
    second = build_projection_consumer(settings, build_engine(settings), max_poll_records=5)
    first.start()
    second.start()
    projections = build_engine(settings)
    deadline = time.monotonic() + 60
    while timeline_count(projections.db) < total // 3 and time.monotonic() < deadline:
        first.poll_once(50)
        second.poll_once(50)
    first.consumer.close(autocommit=False)  # leaves mid-stream
    drain(second, projections.db, total)
    second.consumer.close(autocommit=False)
    assert second.assignments  # the first may leave before the group has settled
    assert tables(projections.db) == reference_tables(settings, tmp_path)
