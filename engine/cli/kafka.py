"""`intercept relay | consume | run | dlq`: the Kafka side of the engine."""

import logging
import signal
import threading
from pathlib import Path

import typer

from consumers import dlq_tools
from engine import kafka_clients
from engine.cli import context
from engine.cli.output import console, emit_json, errors
from engine.composition import (
    build_engine,
    build_leader_lock,
    build_metrics_server,
    build_projection_consumer,
    build_relay,
    build_tracing,
)
from engine.leader import run_as_leader
from engine.logs import LogFormat
from engine.logs import configure as configure_logs
from engine.metrics import ProcessMetrics
from engine.relay import TopicLost

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


def _log_to_stderr(process: str = "intercept", fmt: LogFormat = LogFormat.TEXT) -> None:
    configure_logs(process, fmt)


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
log = logging.getLogger("intercept.process")


def _relay_worker(settings, metrics: ProcessMetrics, republish: bool = False):
    tracing = build_tracing(settings, "intercept-relay")
    the_relay = build_relay(settings, build_engine(settings), metrics, tracing)
    lock = build_leader_lock(settings)
    # Any number of relays may run: the lock lets one publish (engine/leader.py).
    return lambda stop: run_as_leader(
        lock, the_relay, stop, on_leading=metrics.relay_leader.set, republish=republish
    )


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
    metrics = ProcessMetrics("relay")
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
    metrics = ProcessMetrics("consume")
    tracing = build_tracing(settings, "intercept-consume")
    workers = {"consumer": build_projection_consumer(settings, engine, metrics, tracing).run}
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
    """Relay and consumer in one process."""
    settings = _kafka_settings(bootstrap, topic, group, partitions)
    _log_to_stderr("run", log_format)
    metrics = ProcessMetrics("run")
    consumer_engine = build_engine(settings)
    workers = {
        "relay": _relay_worker(settings, metrics),
        "consumer": build_projection_consumer(
            settings, consumer_engine, metrics, build_tracing(settings, "intercept-run")
        ).run,
    }
    _run_threads(_with_metrics(settings, metrics, metrics_port, ready_max_lag, True, workers))


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
        message = str(error) if isinstance(error, TopicLost) else f"{type(error).__name__}: {error}"
        errors.print(f"error: {message}", style="red", markup=False)
        raise typer.Exit(1)


@dlq.command("list")
def dlq_list(
    bootstrap: str = BOOTSTRAP, topic: str = TOPIC, json: bool = typer.Option(False, "--json")
) -> None:
    """Show the dead-lettered messages: where they came from and why."""
    settings = _kafka_settings(bootstrap, topic, None, None)
    letters = dlq_tools.read_all(
        kafka_clients.consumer(settings, group_id=None), settings.dlq_topic
    )
    if json:
        return emit_json([dlq_tools.describe(letter) for letter in letters])
    for letter in letters:
        console.print(
            f"dlq@{letter.dlq_offset} from {letter.topic}[{letter.partition}]@{letter.offset}: {letter.reason}: {letter.detail}",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"{len(letters)} dead-lettered message(s)")


@dlq.command("redrive")
def dlq_redrive(
    offsets: list[int] = typer.Option(
        None, "--offset", help="DLQ offset(s) to redrive (default all)."
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
    replacement = fixed.read_bytes() if fixed is not None else None
    letters = dlq_tools.read_all(
        kafka_clients.consumer(settings, group_id=None), settings.dlq_topic
    )
    chosen = [letter for letter in letters if not offsets or letter.dlq_offset in offsets]
    sent = dlq_tools.redrive(chosen, kafka_clients.producer(settings), settings.topic, replacement)
    if json:
        return emit_json({"redriven": sent})
    console.print(f"redrove {len(sent)} message(s) to {settings.topic}")
