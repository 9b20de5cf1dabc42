"""Long-running `intercept` processes as an operator runs them, and their /metrics scraped."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.cli import INTERCEPT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kafka_env(settings) -> dict[str, str]:
    env = {
        **os.environ,
        "INTERCEPT_HOME": str(settings.home),
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap,
        "INTERCEPT_TOPIC": settings.topic,
        "INTERCEPT_DLQ_TOPIC": settings.dlq_topic,
        "INTERCEPT_GROUP_ID": settings.group_id,
        "INTERCEPT_PARTITIONS": str(settings.partitions),
    }
    for name, value in (
        ("INTERCEPT_EVENT_STORE", settings.event_store),
        ("INTERCEPT_PROJECTIONS", settings.projections),
    ):
        if value:
            env[name] = value
    return env


@dataclass
class Process:
    process: subprocess.Popen
    port: int
    log_path: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def metrics(self) -> dict[str, float]:
        """Every sample as `name{label="v",...}` (labels sorted) -> value."""
        return parse(self.get("/metrics").text)

    def wait_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"exited {self.process.returncode}: {self.log()}")
            try:
                if self.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"no /healthz within {timeout}s: {self.log()}")

    def log(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=30)


def start(command: str, env: dict, log_dir, *extra: str) -> Process:
    port = free_port()
    log_path = str(log_dir / f"{command}-{port}.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [INTERCEPT, command, "--metrics-port", str(port), *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    started = Process(process, port, log_path)
    started.wait_serving()
    return started


def parse(text: str) -> dict[str, float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return samples


def total(samples: dict[str, float], name: str) -> float:
    """The sum of a metric over all its label values."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def eventually(check: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")
