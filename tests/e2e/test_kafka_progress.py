"""`intercept run` (relay and consumer) says when it starts, how it goes, and what it did."""

import os
import signal
import subprocess
import time

import pytest

from tests.e2e.cli import INTERCEPT, intercept

pytestmark = pytest.mark.kafka


def test_relay_and_consumer_log_start_progress_and_totals(kafka_settings):
    home = kafka_settings.home
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.kafka_bootstrap,
        "INTERCEPT_TOPIC": kafka_settings.topic,
        "INTERCEPT_DLQ_TOPIC": kafka_settings.dlq_topic,
        "INTERCEPT_GROUP_ID": kafka_settings.group_id,
    }
    made = intercept(
        home, "policy", "set", "m1", "--max-amount", "10", "--carriers", "ZTO", env=env
    )
    assert made.code == 0, made.err
    asked = intercept(
        home,
        *("request", "--merchant", "m1", "--order", "o1", "--tracking", "T1", "--carrier"),
        *("ZTO", "--amount", "1.00", "--reason", "r"),
        env=env,
    )
    assert asked.code == 0, asked.err
    process = subprocess.Popen(
        [INTERCEPT, "run"],
        env={
            **os.environ,
            **env,
            "INTERCEPT_HOME": str(home),
            "INTERCEPT_PROGRESS_SECONDS": "0.2",
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not intercept(home, "list", "--json", env=env).json()["intercepts"]:
        assert time.monotonic() < deadline, "the consumer never projected the request"
        time.sleep(0.5)
    time.sleep(1)  # a few progress periods after the last record, so a progress line is logged
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "relay started: event store" in err and "consumer started: topic" in err
    assert "relay stopped: 1 events published" in err, err
    assert "consumer stopped:" in err and "records applied" in err
    assert "lag" in err
