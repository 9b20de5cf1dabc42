"""Scenario 4: from a command to its row in the projections, embedded and through Kafka.

Embedded: a command returns once the projections have caught up, so the
latency is from issuing the command to a query seeing its row. Through Kafka:
from the command returning (the event store has it) to the row appearing,
with `intercept run` (relay and consumer) in a child process, as deployed.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import closing

from bench import workload
from bench.backends import Backend
from bench.measure import percentiles
from domain.ids import intercept_id
from engine.composition import build_engine, projections_db
from projections import queries

POLL_S = 0.0005


def _wait_for(db, iid: str, version: int, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while True:
        row = queries.get_intercept(db, iid)
        if row is not None and row["version"] >= version:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"intercept {iid} v{version} not projected within {timeout:.0f}s")
        time.sleep(POLL_S)


def embedded(backend: Backend, n: int) -> dict:
    latencies: list[float] = []
    with closing(build_engine(backend.settings("latency"), clock=workload.StepClock())) as engine:
        for command in workload.policies():
            engine.execute(command)
        for i in range(n):
            request = workload.request(i, "lat")
            iid = str(intercept_id(request.merchant_id, request.key or ""))
            for command, version in ((request, 1), (workload.cancel_for(request), 2)):
                started = time.perf_counter()
                engine.execute(command)
                latencies.append(_wait_for(engine.db, iid, version, timeout=5) - started)
    return percentiles(latencies)


def _pipeline(settings) -> subprocess.Popen:
    env = {
        **os.environ,
        "INTERCEPT_HOME": str(settings.home),
        "INTERCEPT_TOPIC": settings.topic,
        "INTERCEPT_DLQ_TOPIC": settings.dlq_topic,
        "INTERCEPT_GROUP_ID": settings.group_id,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap,
    }
    if settings.event_store:
        env["INTERCEPT_EVENT_STORE"] = settings.event_store
    if settings.projections:
        env["INTERCEPT_PROJECTIONS"] = settings.projections
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def through_kafka(backend: Backend, bootstrap: str, n: int) -> dict:
    settings = backend.settings(
        "latencykafka",
        kafka_bootstrap=bootstrap,
        topic=f"bench.lat{os.getpid()}",
        group_id=f"lat{os.getpid()}",
        dlq_topic=f"bench.lat{os.getpid()}.dlq",
    )
    writer = build_engine(settings, clock=workload.StepClock())
    reader = projections_db(settings)
    child = _pipeline(settings)
    try:
        for command in workload.policies():
            writer.execute(command)
        warm = workload.request(n, "lat")  # waits out the group join
        writer.execute(warm)
        _wait_for(reader, str(intercept_id(warm.merchant_id, warm.key or "")), 1, timeout=60)
        since_return, since_issue = [], []
        for i in range(n):
            request = workload.request(i, "lat")
            iid = str(intercept_id(request.merchant_id, request.key or ""))
            issued = time.perf_counter()
            writer.execute(request)
            returned = time.perf_counter()
            visible = _wait_for(reader, iid, 1)
            since_return.append(visible - returned)
            since_issue.append(visible - issued)
        return {"from_return": percentiles(since_return), "from_issue": percentiles(since_issue)}
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
        reader.close()
        writer.close()
