"""`--log-format json` on the long-running processes, and the relay lock on its own."""

import json
import os
import subprocess
import sys

import pytest

from engine.leader import ROLES, FileLock, Leadership, lock_key
from engine.logs import JsonFormatter
from tests.integration.test_relay_kafka import seed_history
from tests.ops.processes import eventually, kafka_env, start


@pytest.mark.kafka
def test_relay_and_consumer_log_one_json_object_a_line(kafka_settings, tmp_path):
    seed_history(kafka_settings, orders=10).close()
    env = kafka_env(kafka_settings)
    relay = start("relay", env, tmp_path, "--log-format", "json")
    consumer = start("consume", env, tmp_path, "--log-format", "json")
    eventually(lambda: relay.metrics().get("intercept_relay_lag_events") == 0)
    eventually(lambda: sum(v for k, v in consumer.metrics().items() if "lag_events" in k) == 0)
    assert consumer.stop() == 0
    assert relay.stop() == 0
    for process, name in ((relay, "relay"), (consumer, "consume")):
        lines = [line for line in process.log().splitlines() if line.strip()]
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        assert entries, f"{name} logged nothing"
        for entry in entries:
            assert entry["process"] == name
            assert entry["level"] in ("info", "warning", "error")
            assert entry["time"].endswith("+00:00")
        last = entries[-1]
        if name == "relay":
            assert last["events_published"] > 0
        else:
            assert last["events_applied"] > 0


def test_counts_given_to_a_log_call_become_fields_of_its_json_line():
    import logging

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %d", (3,), None)
    record.counts = {"events_read": 3}
    entry = json.loads(JsonFormatter("relay").format(record))
    assert entry["message"] == "hello 3" and entry["events_read"] == 3


def test_one_file_lock_holder_at_a_time_and_released_when_its_process_dies(tmp_path):
    path = tmp_path / "relay.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from engine.leader import FileLock; "
            f"assert FileLock(Path({str(path)!r})).acquire(); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    assert holder.stdout.readline().strip() == "held"
    mine = FileLock(path)
    assert not mine.acquire()
    holder.kill()
    holder.wait()
    assert mine.acquire() and mine.held()
    assert path.read_text().strip() == str(os.getpid())
    assert not FileLock(path).acquire()  # another descriptor, even in this process
    mine.release()
    assert FileLock(path).acquire()


def test_relays_of_different_topics_use_different_lock_keys():
    assert lock_key("a.events") != lock_key("b.events")
    assert 0 < lock_key("a.events") < 2**63
    keys = {lock_key("a.events", role) for role in ROLES}
    assert len(keys) == len(ROLES) and lock_key("a.events") in keys


def test_a_led_step_runs_only_where_the_lock_is_held(tmp_path):
    path = tmp_path / "webhooks.lock"
    ran: list[str] = []
    first = Leadership(FileLock(path), "webhooks", retry_every=0)
    second = Leadership(FileLock(path), "webhooks", retry_every=0)
    step_one = first.guard(lambda: ran.append("first") or 1)
    step_two = second.guard(lambda: ran.append("second") or 1)
    assert (step_one(), step_two(), step_one(), step_two()) == (1, 0, 1, 0)
    assert ran == ["first", "first"]
    first.release()  # as a dead holder's lock goes: the standby's next try takes it
    assert (step_two(), step_one()) == (1, 0)
    assert ran == ["first", "first", "second"] and second.leading and not first.leading


@pytest.mark.postgres
def test_one_advisory_lock_holder_at_a_time_and_a_broken_session_holds_nothing(postgres_server):
    import psycopg

    from engine.leader import AdvisoryLock

    url = postgres_server.create_database("locks")
    first, second = AdvisoryLock(url, lock_key("t")), AdvisoryLock(url, lock_key("t"))
    assert first.acquire() and first.held()
    assert not second.acquire()
    # The server ends the holder's session (as when its host dies): the lock goes with it.
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND objid = %s",
            (lock_key("t") & 0xFFFFFFFF,),
        )
    assert not first.held()
    assert second.acquire() and second.held()
    assert not first.acquire()
    second.release()
    assert first.acquire()
    first.release()


@pytest.mark.kafka
def test_run_serves_the_relay_and_the_consumer_metrics_on_one_port(kafka_settings, tmp_path):
    from engine.composition import build_engine
    from engine.pipeline import count_intercept_events

    seed_history(kafka_settings, orders=10).close()
    # Seeded for Kafka, the automatic rule did not run inline on the history's after-sale
    # reports; `run`'s automation worker decides them and records intercepts of its own.
    # So every event is counted again as the run goes, not only the seeded ones.
    store = build_engine(kafka_settings)
    seeded = count_intercept_events(store)

    def every_event_applied() -> bool:
        samples, expected = both.metrics(), count_intercept_events(store)
        return (
            samples.get('intercept_projection_events_total{outcome="applied"}', 0)
            + samples.get('intercept_projection_events_total{outcome="released"}', 0)
            == expected
            == samples.get("intercept_relay_events_published_total")
        )

    both = start("run", kafka_env(kafka_settings), tmp_path)
    try:
        eventually(every_event_applied, what="run applied every event")
        samples = both.metrics()
        assert samples["intercept_relay_events_published_total"] > seeded  # the rule's, too
        assert samples["intercept_relay_leader"] == 1
        eventually(lambda: both.get("/readyz").json()["projection_lag_events"] == 0)
    finally:
        store.close()
        assert both.stop() == 0, both.log()


def test_serve_logs_one_json_object_a_line(tmp_path):
    import re
    import time

    import httpx

    from tests.e2e.cli import INTERCEPT

    env = {**os.environ, "INTERCEPT_HOME": str(tmp_path / "var")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [INTERCEPT, "serve", "--port", "0", "--log-format", "json"], stderr=log, env=env
        )
    try:
        deadline, url = time.monotonic() + 30, None
        while url is None and time.monotonic() < deadline:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log_path.read_text())
            url = found.group(1) if found else None
            time.sleep(0.05)
        assert url, log_path.read_text()
        assert httpx.get(url + "/healthz").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=15)
    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert {e["process"] for e in entries} == {"serve"}
    assert any("/healthz" in e["message"] for e in entries)  # the access log, too
