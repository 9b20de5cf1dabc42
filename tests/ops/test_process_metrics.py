"""A running relay and consumer on the real broker: their /metrics move with the events.

Commands write the event store (Kafka mode); a relay and a consumer process carry the
events on. The scraped counters must match what the store holds, and the projection
lag must rise while the consumer is stopped and fall back to 0 once it runs again;
`intercept status` must report the same.
"""

import json
import signal

import pytest

from engine.composition import build_engine
from engine.pipeline import count_intercept_events
from tests import builders as b
from tests.e2e.cli import intercept
from tests.integration.test_relay_kafka import seed_history
from tests.ops.processes import eventually, kafka_env, start, total

pytestmark = pytest.mark.kafka


def status(settings, env, *args):
    done = intercept(settings.home, "status", "--json", *args, env=env)
    assert done.code in (0, 4), done.err
    return done.code, json.loads(done.out)


def test_counters_and_lags_move_as_events_flow_and_the_consumer_stops(kafka_settings, tmp_path):
    engine = seed_history(kafka_settings, orders=30)
    first = count_intercept_events(engine)
    env = kafka_env(kafka_settings)
    relay = start("relay", env, tmp_path)
    consumer = start("consume", env, tmp_path)
    try:
        eventually(
            lambda: relay.metrics().get("intercept_relay_events_published_total") == first,
            what="the relay published the history",
        )
        m = relay.metrics()
        assert m["intercept_relay_events_read_total"] == first
        assert m["intercept_relay_leader"] == 1
        assert m["intercept_relay_batch_size_events_count"] >= 1

        def applied(process) -> float:
            s = process.metrics()
            return s.get('intercept_projection_events_total{outcome="applied"}', 0) + s.get(
                'intercept_projection_events_total{outcome="released"}', 0
            )

        eventually(lambda: applied(consumer) == first, what="the consumer applied the history")
        eventually(
            lambda: (
                total(relay.metrics(), "intercept_projection_lag_events") == 0
                and relay.metrics()["intercept_relay_lag_events"] == 0
            ),
            what="no lag once everything is applied",
        )
        eventually(lambda: total(consumer.metrics(), "intercept_projection_lag_events") == 0)
        assert consumer.metrics()["intercept_consumer_records_total"] == first
        assert consumer.get("/readyz").status_code == 200
        code, report = status(kafka_settings, env, "--max-lag", "0")
        assert code == 0, report["problems"]
        assert report["relay_lag_events"] == 0 and report["projection_lag_events"] == 0

        assert consumer.stop(signal.SIGTERM) == 0
        more = [
            b.request(key=f"more-{i}", order_id=f"more-{i}", tracking_no=f"ZT9{i:03d}")
            for i in range(12)
        ]
        writer = build_engine(kafka_settings)
        writer.execute(b.policy())
        for command in more:
            writer.execute(command)
        eventually(
            lambda: relay.metrics()["intercept_relay_events_published_total"] == first + 12,
            what="the relay published the new events",
        )
        eventually(
            lambda: total(relay.metrics(), "intercept_projection_lag_events") == 12,
            what="the projection lag rose by the events not consumed",
        )
        assert relay.get("/readyz").status_code == 200  # 12 is under the default 1000
        code, report = status(kafka_settings, env, "--max-lag", "5")
        assert code == 4
        assert report["projection_lag_events"] == 12
        assert sum(p["lag"] for p in report["partitions"]) == 12
        assert any("projections lag 12 events" in p for p in report["problems"])

        consumer = start("consume", env, tmp_path)
        eventually(
            lambda: total(relay.metrics(), "intercept_projection_lag_events") == 0,
            what="the lag fell to 0 after the consumer restarted",
        )
        eventually(lambda: applied(consumer) == 12, what="the restarted consumer applied the rest")
        code, report = status(kafka_settings, env, "--max-lag", "0")
        assert code == 0, report["problems"]
        assert report["dead_letters"] == 0
        assert report["oldest_open_intercept"] is not None
    finally:
        consumer.stop()
        assert relay.stop() == 0, relay.log()
