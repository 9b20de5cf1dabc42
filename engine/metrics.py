"""Prometheus metrics and health endpoints of the long-running processes.

Each process object owns its registry (never prometheus_client's global one): two
relays in one test, or a relay and a consumer in one `intercept run`, each count
their own. Names follow Prometheus conventions: the unit in the name, `_total` on
counters. docs/operations.md lists them all.
"""

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from engine.observe import Observer, Readings

log = logging.getLogger(__name__)

BATCH_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 5000)


class ProcessMetrics:
    """What `relay`, `consume` and `run` count; a process uses the parts it has."""

    def __init__(self, process: str) -> None:
        self.process = process
        self.registry = CollectorRegistry()
        r = self.registry
        self.relay_read = Counter(
            "intercept_relay_events_read_total", "Intercept events the relay read.", registry=r
        )
        self.relay_published = Counter(
            "intercept_relay_events_published_total",
            "Records the broker acknowledged (resends included).",
            registry=r,
        )
        self.relay_batch_size = Histogram(
            "intercept_relay_batch_size_events",
            "Events per relay batch.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.relay_batch_duration = Histogram(
            "intercept_relay_batch_duration_seconds",
            "Read, send and acknowledge one relay batch.",
            registry=r,
        )
        self.relay_lag_events = Gauge(
            "intercept_relay_lag_events",
            "Intercept events in the event store the relay has not published.",
            registry=r,
        )
        self.relay_lag_seconds = Gauge(
            "intercept_relay_lag_seconds",
            "How long the oldest unpublished event has been in the event store.",
            registry=r,
        )
        self.relay_leader = Gauge(
            "intercept_relay_leader",
            "1 while this relay holds the publishing lock, 0 while it stands by.",
            registry=r,
        )
        self.head = Gauge(
            "intercept_event_store_head_position",
            "The last position in the event store's log.",
            registry=r,
        )
        self.consumer_records = Counter(
            "intercept_consumer_records_total", "Records the consumer polled.", registry=r
        )
        self.applied = Counter(
            "intercept_projection_events_total",
            "Events offered to the projections, by what became of them.",
            ["outcome"],
            registry=r,
        )
        self.consumer_batch_size = Histogram(
            "intercept_consumer_batch_size_records",
            "Records per consumer batch (one projection transaction).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.consumer_batch_duration = Histogram(
            "intercept_consumer_batch_duration_seconds",
            "Decode, apply and commit one consumer batch.",
            registry=r,
        )
        self.partition_lag = Gauge(
            "intercept_projection_lag_events",
            "Records on the topic the projections have not applied, per partition.",
            ["partition"],
            registry=r,
        )
        self.pending = Gauge(
            "intercept_pending_events", "Early events waiting for their predecessor.", registry=r
        )
        self.dead_letters = Counter(
            "intercept_dead_letters_total",
            "Messages parked on the DLQ, by reason.",
            ["reason"],
            registry=r,
        )
        self.retries = Counter(
            "intercept_retries_total",
            "Batches attempted again after a busy database.",
            ["what"],
            registry=r,
        )
        self.refreshes_failed = Counter(
            "intercept_lag_refresh_failures_total",
            "Lag readings that failed (a database unreachable).",
            registry=r,
        )

    # ---- hooks the workers call ------------------------------------------

    def relay_batch(self, read: int, published: int, seconds: float) -> None:
        self.relay_read.inc(read)
        self.relay_published.inc(published)
        self.relay_batch_size.observe(read)
        self.relay_batch_duration.observe(seconds)

    def consumer_batch(self, records: int, result: Any, seconds: float) -> None:
        self.consumer_records.inc(records)
        self.consumer_batch_size.observe(records)
        self.consumer_batch_duration.observe(seconds)
        for outcome in ("applied", "duplicates", "held", "released"):
            self.applied.labels(outcome).inc(getattr(result, outcome))

    def dead_lettered(self, reason: str) -> None:
        self.dead_letters.labels(reason).inc()

    def retried(self, what: str) -> None:
        self.retries.labels(what).inc()

    def show(self, readings: Readings, relay: bool) -> None:
        self.head.set(readings.head)
        if relay and readings.relay_lag_events is not None:
            self.relay_lag_events.set(readings.relay_lag_events)
            self.relay_lag_seconds.set(readings.relay_lag_seconds or 0.0)
        for p in readings.partitions:
            self.partition_lag.labels(str(p.partition)).set(p.lag)
        if readings.pending_events is not None:
            self.pending.set(readings.pending_events)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Readiness:
    """`/readyz`: the databases answer and the projections are less than `max_lag` behind."""

    def __init__(self, observer: Observer, embedded: bool, max_lag: int) -> None:
        self.observer = observer
        self.embedded = embedded
        self.max_lag = max_lag
        self.lock = threading.Lock()  # the observer's connections serve one reading at a time

    def check(self) -> tuple[bool, dict[str, Any]]:
        try:
            with self.lock:
                readings = self.observer.readings(self.embedded)
        except Exception as error:  # noqa: BLE001 - any failure to read is "not ready"
            return False, {"ready": False, "reason": f"{type(error).__name__}: {error}"}
        lag = readings.projection_lag_events
        ready = lag <= self.max_lag
        return ready, {
            "ready": ready,
            "event_store": "reachable",
            "projections": "reachable",
            "projection_lag_events": lag,
            "max_lag_events": self.max_lag,
        }


def refresh_lags(
    metrics: ProcessMetrics,
    observer: Observer,
    lock: threading.Lock,
    stop: threading.Event,
    relay: bool,
    every: float = 1.0,
) -> None:
    """Keep the lag gauges current; a reading that fails is counted and tried again."""
    while not stop.is_set():
        try:
            with lock:
                metrics.show(observer.readings(embedded=False, relay=relay), relay)
        except Exception as error:  # noqa: BLE001 - a lag reading must never stop the process
            metrics.refreshes_failed.inc()
            log.warning("lag reading failed: %s", error)
        stop.wait(every)


class MetricsServer:
    """`--metrics-port`: /metrics, /healthz and /readyz on a small threaded HTTP server."""

    def __init__(
        self,
        port: int,
        exposition: Callable[[], bytes],
        ready: Callable[[], tuple[bool, dict[str, Any]]],
        host: str = "127.0.0.1",
    ) -> None:
        handler = _handler(exposition, ready)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> "MetricsServer":
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(exposition, ready):
    started = time.time()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, exposition())
            elif path == "/healthz":
                body = {"alive": True, "uptime_seconds": round(time.time() - started, 1)}
                self._send(200, "application/json", orjson.dumps(body))
            elif path == "/readyz":
                ok, body = ready()
                self._send(200 if ok else 503, "application/json", orjson.dumps(body))
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args) -> None:  # noqa: A002 - http.server's signature
            pass  # scrapes every few seconds would drown the process's own log

    return Handler
