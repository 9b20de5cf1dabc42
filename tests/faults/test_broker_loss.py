"""The broker restarts and loses every topic: recovery by the procedure in docs/operations.md.

Before the loss the projections are complete and more commands are waiting in
the event store. After it, a relay process must refuse to go on, and the
documented steps (stop the consumers, delete a topic the broker re-created on
its own, `intercept relay --republish`, `intercept consume --reset-positions`)
must end with projections equal to a reference: nothing lost, nothing twice.
"""

import os
import signal
import subprocess
import time
from uuid import UUID

import pytest

from engine import kafka_clients
from engine.composition import build_engine, build_projection_consumer, build_relay
from engine.pipeline import count_intercept_events
from tests import builders as b
from tests.e2e.cli import INTERCEPT
from tests.faults.report import report
from tests.integration.projection_tables import reference_tables, tables
from tests.integration.test_consumer_kafka import drain, timeline_count
from tests.integration.test_relay_kafka import seed_history, wait_for_line

pytestmark = pytest.mark.kafka


def run_until(args: list[str], env: dict, done, timeout: float = 90) -> int:
    """Start an `intercept` process, wait until `done()` holds, stop it with SIGTERM."""
    process = subprocess.Popen(
        [INTERCEPT, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wait_for_line(process, "relaying to" if args[0] == "relay" else "consuming")
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_a_broker_that_lost_its_topics_is_recovered_by_the_documented_procedure(
    kafka_settings, tmp_path
):
    from tests.support.kafka_broker import KafkaBroker

    broker = KafkaBroker()
    if not broker.managed:
        pytest.skip("needs a broker this suite can restart")
    with broker:
        settings = kafka_settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        writer = seed_history(settings, orders=40)
        relay = build_relay(settings, writer)
        relay.check_topic()
        while relay.publish_once():
            pass
        projections = build_engine(settings)
        consumer = build_projection_consumer(settings, projections)
        consumer.start()
        before = count_intercept_events(writer)
        drain(consumer, projections.db, before)
        consumer.consumer.close(autocommit=False)  # step 1: the consumers are stopped
        relay.producer.close()

        # Written while the broker is down: only the event store has them.
        for row in projections.db.read("SELECT intercept_id FROM intercepts LIMIT 5"):
            writer.execute(b.fee(UUID(row["intercept_id"]), key=f"late-{row['intercept_id']}"))
        broker.restart()

        env = {
            **os.environ,
            "INTERCEPT_HOME": str(settings.home),
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "INTERCEPT_TOPIC": settings.topic,
            "INTERCEPT_DLQ_TOPIC": settings.dlq_topic,
            "INTERCEPT_GROUP_ID": settings.group_id,
        }
        noticed = subprocess.run(
            [INTERCEPT, "relay"], env=env, capture_output=True, text=True, timeout=120
        )
        auto_created = settings.topic in kafka_clients.existing_topics(settings)
        if auto_created:  # as the procedure says: let the relay create it with its partitions
            admin = kafka_clients.admin(settings)
            admin.delete_topics([settings.topic])
            admin.close()

        total = count_intercept_events(writer)
        positions = build_relay(settings, writer).positions
        last = writer.app.recorder.max_notification_id()
        republished = run_until(
            ["relay", "--republish"], env, lambda: positions.get(settings.topic) >= last
        )
        consumed = run_until(
            ["consume", "--reset-positions"], env, lambda: timeline_count(projections.db) >= total
        )
        partitions = len(
            kafka_clients.admin(settings).describe_topics([settings.topic])[0]["partitions"]
        )

    applied = timeline_count(projections.db)
    report(
        "broker restart lost every topic",
        events_before_loss=before,
        events_written_during_loss=total - before,
        relay_exit_on_loss=noticed.returncode,
        topic_auto_created=auto_created,
        republished_exit=republished,
        consume_exit=consumed,
        events_applied=applied,
        events_expected=total,
        topic_partitions=partitions,
    )
    said = " ".join((noticed.stdout + noticed.stderr).split())  # rich wraps long lines
    assert noticed.returncode == 1 and "intercept relay --republish" in said
    assert (republished, consumed) == (0, 0)
    assert partitions == settings.partitions
    assert applied == total
    assert tables(projections.db) == reference_tables(settings, tmp_path)
