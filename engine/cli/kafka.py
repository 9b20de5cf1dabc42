"""`intercept relay | consume | run | dlq`: the Kafka side of the engine."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from engine import usecases
from engine.cli import context, parse
from engine.cli.output import console, emit_json, errors
from engine.composition import (
    build_automation,
    build_carrier_gateway,
    build_engine,
    build_leader_lock,
    build_leadership,
    build_metrics_server,
    build_projection_consumer,
    build_relay,
    build_tracing,
)
from engine.logs import LogFormat
from engine.logs import configure as configure_logs
from engine.settings import masked

if TYPE_CHECKING:
    from engine.metrics import ProcessMetrics

dlq = typer.Typer(help="Inspect and redrive the dead-letter topic.", no_args_is_help=True)


def _kafka_settings(
    bootstrap: str | None, topic: str | None, group: str | None, partitions: int | None
):
    settings = context.settings(
        **{
            k: v
            for k, v in {
                "kafka_bootstrap": bootstrap,
                "topic": topic,
                "group_id": group,
                "partitions": partitions,
            }.items()
            if v is not None
        }
    )
    if settings.kafka_bootstrap is None:
        raise typer.BadParameter("no Kafka broker: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap")
    return settings


log = logging.getLogger("intercept")


class _Masked(logging.Filter):
    """No password reaches a log line, whichever library wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = masked(record.getMessage()), None
        return True


def _log_to_stderr(process: str = "intercept", fmt: LogFormat = LogFormat.TEXT) -> None:
    configure_logs(process, fmt)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Masked())


class Progress:
    """Counts what one worker moved and logs it: at start, every `every` seconds, at stop.

    It counts in the worker's own thread (it wraps the worker's step), so the lag is read
    on the worker's own connections, never from another thread.
    """

    def __init__(
        self, name: str, unit: str, counted_as: str, lag: Callable[[], str | None]
    ) -> None:
        # `counted_as`: the field the total takes in a JSON log line (--log-format json).
        self.name, self.unit, self.counted_as, self.lag = name, unit, counted_as, lag
        self.every = float(os.environ.get("INTERCEPT_PROGRESS_SECONDS") or 10)
        self.total = 0
        self.started = self.last = time.monotonic()
        self.since_last = 0

    def counted(self, step: Callable[..., int]) -> Callable[..., int]:
        def step_and_count(*args, **kwargs) -> int:
            moved = step(*args, **kwargs)
            self.total += moved
            self.since_last += moved
            now = time.monotonic()
            if now - self.last >= self.every:
                rate = self.since_last / (now - self.last)
                log.info(
                    "%s: %d %s so far, %.0f/s, lag %s",
                    self.name,
                    self.total,
                    self.unit,
                    rate,
                    self._lag(),
                    extra={"counts": {self.counted_as: self.total}},
                )
                self.last, self.since_last = now, 0
            return moved

        return step_and_count

    def _lag(self) -> str:
        try:
            lag = self.lag()
        except Exception as error:  # noqa: BLE001 - progress must never stop the work
            return f"unknown ({type(error).__name__})"
        return "unknown" if lag is None else lag

    def stopped(self) -> None:
        seconds = time.monotonic() - self.started
        log.info(
            "%s stopped: %d %s in %.1f s (%.0f/s)",
            self.name,
            self.total,
            self.unit,
            seconds,
            self.total / seconds if seconds else 0,
            extra={"counts": {self.counted_as: self.total}},
        )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


BOOTSTRAP = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers.")
TOPIC = typer.Option(None, help="Events topic (default intercept.events).")
GROUP = typer.Option(None, help="Consumer group id.")
PARTITIONS = typer.Option(None, help="Partitions for topics the engine creates (default 6).")
METRICS_PORT = typer.Option(
    None,
    "--metrics-port",
    envvar="INTERCEPT_METRICS_PORT",
    help="Serve /metrics, /healthz and /readyz on this port (127.0.0.1; 0 picks one).",
)
LOG_FORMAT = typer.Option(LogFormat.TEXT, "--log-format", help="text, or json: one object a line.")
READY_MAX_LAG = typer.Option(
    None,
    "--ready-max-lag",
    help="/readyz answers 503 when the projections lag more events than this "
    "(default INTERCEPT_READY_MAX_LAG, else 1000).",
)


def _relay_worker(settings, metrics: ProcessMetrics, republish: bool = False):
    tracing = build_tracing(settings, "intercept-relay")
    engine = build_engine(settings)
    the_relay = build_relay(settings, engine, metrics, tracing)
    lock = build_leader_lock(settings)
    progress = Progress(
        "relay",
        "events published",
        "events_published",
        lambda: usecases.relay_lag(engine, the_relay),
    )
    # The relay's loop calls its own publish_once: counting it there keeps its loop whole.
    the_relay.publish_once = progress.counted(the_relay.publish_once)

    def work(stop: threading.Event) -> None:
        log.info(
            "relay started: event store %s -> topic %s at %s",
            settings.event_store or settings.event_store_path,
            settings.topic,
            settings.kafka_bootstrap,
        )
        try:
            # Any number of relays may run: the lock lets one publish (engine/leader.py).
            _leader()(
                lock, the_relay, stop, on_leading=metrics.relay_leader.set, republish=republish
            )
        finally:
            progress.stopped()

    return work


def _with_metrics(settings, metrics, port, max_lag, relay: bool, workers: dict) -> dict:
    if port is None:
        return workers
    limit = settings.ready_max_lag if max_lag is None else max_lag
    server, lags = build_metrics_server(settings, metrics, port, limit, relay)
    server.start()
    log.info("metrics on http://127.0.0.1:%d/metrics", server.port)
    return {**workers, "lags": lags}


def relay(
    bootstrap: str = BOOTSTRAP,
    topic: str = TOPIC,
    partitions: int = PARTITIONS,
    republish: bool = typer.Option(
        False,
        "--republish",
        help=("Publish everything again from the first event (after the broker lost the topic)."),
    ),
    metrics_port: int = METRICS_PORT,
    log_format: LogFormat = LOG_FORMAT,
    ready_max_lag: int = READY_MAX_LAG,
) -> None:
    """Publish the event store's events to Kafka until stopped (SIGINT/SIGTERM).

    Several relays may run: one publishes, the others stand by and take over.
    """
    settings = _kafka_settings(bootstrap, topic, None, partitions)
    _log_to_stderr("relay", log_format)
    metrics = _metrics()("relay")
    workers = {"relay": _relay_worker(settings, metrics, republish)}
    _run_threads(_with_metrics(settings, metrics, metrics_port, ready_max_lag, True, workers))


def consume(
    bootstrap: str = BOOTSTRAP,
    topic: str = TOPIC,
    group: str = GROUP,
    partitions: int = PARTITIONS,
    reset_positions: bool = typer.Option(
        False,
        "--reset-positions",
        help=("Read the topic again from its start (after a republish); nothing applies twice."),
    ),
    metrics_port: int = METRICS_PORT,
    log_format: LogFormat = LOG_FORMAT,
    ready_max_lag: int = READY_MAX_LAG,
) -> None:
    """Feed the projections from Kafka in a consumer group until stopped."""
    settings = _kafka_settings(bootstrap, topic, group, partitions)
    _log_to_stderr("consume", log_format)
    engine = build_engine(settings)
    if reset_positions:
        engine.projector.reset_positions(settings.topic)
    metrics = _metrics()("consume")
    tracing = build_tracing(settings, "intercept-consume")
    consumer = build_projection_consumer(settings, engine, metrics, tracing)
    workers = {"consumer": _consumer_worker(settings, consumer)}
    _run_threads(_with_metrics(settings, metrics, metrics_port, ready_max_lag, False, workers))


def run(
    bootstrap: str = BOOTSTRAP,
    topic: str = TOPIC,
    group: str = GROUP,
    partitions: int = PARTITIONS,
    metrics_port: int = METRICS_PORT,
    log_format: LogFormat = LOG_FORMAT,
    ready_max_lag: int = READY_MAX_LAG,
) -> None:
    """Relay, consumer, automation, webhooks and, when a carrier is connected, the carrier
    gateway in one process.

    The automation is the automatic intercept rule and the policy deadlines
    (docs/automation.md); the gateway is docs/carriers.md's.
    """
    settings = _kafka_settings(bootstrap, topic, group, partitions)
    _log_to_stderr("run", log_format)
    metrics = _metrics()("run")
    consumer_engine = build_engine(settings)
    consumer = build_projection_consumer(
        settings, consumer_engine, metrics, build_tracing(settings, "intercept-run")
    )
    workers = {
        "relay": _relay_worker(settings, metrics),
        "consumer": _consumer_worker(settings, consumer),
        "automation": loop_worker(
            build_automation(settings, build_engine(settings)), "automation and webhooks"
        ),
    }
    carriers = gateway_worker(settings)
    if carriers is not None:  # only when a carrier is connected (docs/carriers.md)
        workers["carriers"] = carriers
    _run_threads(_with_metrics(settings, metrics, metrics_port, ready_max_lag, True, workers))


def loop_worker(loop, name: str) -> Callable[[threading.Event], None]:
    """A worker running the automation's steps in turn until stopped (engine/automation.py)."""

    def work(stop: threading.Event) -> None:
        log.info("%s started", name)
        loop.run(stop)
        log.info("%s stopped", name)

    return work


def gateway_worker(settings):
    """The gateway as a worker of `_run_threads`; None when no carrier is connected."""
    engine = build_engine(settings)
    gateway = build_carrier_gateway(settings, engine)
    if not gateway.links:
        gateway.close()
        engine.close()
        return None

    def work(stop: threading.Event) -> None:
        log.info("carrier gateway started: %s", ", ".join(sorted(gateway.links)))
        try:
            # Any number of gateways may run: the lock lets one send (engine/leader.py).
            gateway.run(stop, leadership=build_leadership(settings, "carrier-gateway"))
        finally:
            log.info("carrier gateway stopped: %s", gateway.store.counts())
            gateway.close()

    return work


def _consumer_worker(settings, consumer) -> Callable[[threading.Event], None]:
    progress = Progress(
        "consumer", "records applied", "events_applied", lambda: usecases.consumer_lag(consumer)
    )
    consumer.poll_once = progress.counted(consumer.poll_once)

    def work(stop: threading.Event) -> None:
        log.info(
            "consumer started: topic %s at %s, group %s -> projections %s",
            settings.topic,
            settings.kafka_bootstrap,
            settings.group_id,
            settings.projections or settings.projections_path,
        )
        try:
            consumer.run(stop)
        finally:
            progress.stopped()

    return work


def _run_threads(workers: dict) -> None:
    """Run until a signal or a failure; a failure stops the others and exits non-zero."""
    stop = _stop_on_signals()
    failures: list[BaseException] = []

    def guarded(name, work):
        try:
            work(stop)
        except BaseException as error:  # noqa: BLE001 - reported below, then exit 1
            failures.append(error)
            stop.set()

    threads = [threading.Thread(target=guarded, args=(n, w), name=n) for n, w in workers.items()]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.2)
    if failures:
        error = failures[0]
        message = (
            str(error)
            if isinstance(error, usecases.TopicLost)
            else f"{type(error).__name__}: {error}"
        )
        errors.print(f"error: {message}", style="red", markup=False)
        raise typer.Exit(1)


@dlq.command("list")
def dlq_list(
    bootstrap: str = BOOTSTRAP, topic: str = TOPIC, json: bool = typer.Option(False, "--json")
) -> None:
    """Show the dead-lettered messages: where they sit, where they came from and why."""
    letters = usecases.dead_letters(_kafka_settings(bootstrap, topic, None, None))
    if json:
        return emit_json(letters)
    for letter in letters:
        console.print(
            f"dlq partition {letter['dlq_partition']} offset {letter['dlq_offset']}: from "
            f"{letter['source_topic']} partition {letter['source_partition']} offset "
            f"{letter['source_offset']}: {letter['reason']}: {letter['detail']}",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"{len(letters)} dead-lettered message(s)", markup=False)
    if letters:
        console.print(
            "redrive one with: intercept dlq redrive --partition P --offset O", markup=False
        )


@dlq.command("redrive")
def dlq_redrive(
    offsets: list[int] = typer.Option(
        None, "--offset", help="DLQ offset(s) to redrive (default all)."
    ),
    partition: int = typer.Option(
        None, "--partition", min=0, help="The DLQ partition the offsets are on."
    ),
    fixed: Path = typer.Option(
        None, "--file", help="Send this corrected JSON instead (one --offset)."
    ),
    bootstrap: str = BOOTSTRAP,
    topic: str = TOPIC,
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Send dead-lettered messages (as they are, or corrected) back to the events topic."""
    settings = _kafka_settings(bootstrap, topic, None, None)
    if fixed is not None and (not offsets or len(offsets) != 1):
        raise typer.BadParameter("--file replaces exactly one message: give one --offset")
    if partition is not None and not offsets:
        raise typer.BadParameter("--partition picks offsets on it: give --offset too")
    replacement = parse.readable_file(fixed) if fixed is not None else None
    if offsets and partition is None:
        _one_partition_each(usecases.dead_letters(settings), offsets)

    def chosen(on: int | None, offset: int | None) -> bool:
        if not offsets:
            return True
        return offset in offsets and (partition is None or on == partition)

    sent = usecases.redrive(settings, chosen, replacement)
    if json:
        return emit_json({"redriven": sent})
    console.print(f"redrove {len(sent)} message(s) to {settings.topic}", markup=False)


def _one_partition_each(letters: list[dict], offsets: list[int]) -> None:
    # An offset alone names a message only on a single-partition DLQ.
    for offset in offsets:
        on = sorted({x["dlq_partition"] for x in letters if x["dlq_offset"] == offset})
        if len(on) > 1:
            raise typer.BadParameter(
                f"offset {offset} is on DLQ partitions {', '.join(map(str, on))}: pass --partition"
            )


def _metrics():
    """prometheus_client and its HTTP server, loaded by the long-running commands only."""
    from engine.metrics import ProcessMetrics

    return ProcessMetrics


def _leader():
    from engine.leader import run_as_leader

    return run_as_leader
