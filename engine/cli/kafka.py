"""`intercept relay | consume | run | dlq`: the Kafka side of the engine."""

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import typer

from engine import usecases
from engine.cli import context, parse
from engine.cli.output import console, emit_json, errors
from engine.composition import build_engine, build_projection_consumer, build_relay
from engine.settings import masked

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


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Masked())
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO is per-connection chatter


class Progress:
    """Counts what one worker moved and logs it: at start, every `every` seconds, at stop.

    It counts in the worker's own thread (it wraps the worker's step), so the lag is read
    on the worker's own connections, never from another thread.
    """

    def __init__(self, name: str, unit: str, lag: Callable[[], str | None]) -> None:
        self.name, self.unit, self.lag = name, unit, lag
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


def relay(
    bootstrap: str = BOOTSTRAP,
    topic: str = TOPIC,
    partitions: int = PARTITIONS,
    republish: bool = typer.Option(
        False,
        "--republish",
        help=("Publish everything again from the first event (after the broker lost the topic)."),
    ),
) -> None:
    """Publish the event store's events to Kafka until stopped (SIGINT/SIGTERM)."""
    settings = _kafka_settings(bootstrap, topic, None, partitions)
    _log_to_stderr()
    engine = build_engine(settings)
    the_relay = build_relay(settings, engine)
    if republish:
        the_relay.republish()
    _run_threads({"relay": _relay_worker(settings, engine, the_relay)})


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
) -> None:
    """Feed the projections from Kafka in a consumer group until stopped."""
    settings = _kafka_settings(bootstrap, topic, group, partitions)
    _log_to_stderr()
    engine = build_engine(settings)
    if reset_positions:
        engine.projector.reset_positions(settings.topic)
    consumer = build_projection_consumer(settings, engine)
    _run_threads({"consumer": _consumer_worker(settings, consumer)})


def run(
    bootstrap: str = BOOTSTRAP, topic: str = TOPIC, group: str = GROUP, partitions: int = PARTITIONS
) -> None:
    """Relay and consumer in one process."""
    settings = _kafka_settings(bootstrap, topic, group, partitions)
    _log_to_stderr()
    relay_engine, consumer_engine = build_engine(settings), build_engine(settings)
    _run_threads(
        {
            "relay": _relay_worker(settings, relay_engine, build_relay(settings, relay_engine)),
            "consumer": _consumer_worker(
                settings, build_projection_consumer(settings, consumer_engine)
            ),
        }
    )


def _relay_worker(settings, engine, the_relay) -> Callable[[threading.Event], None]:
    progress = Progress("relay", "events published", lambda: usecases.relay_lag(engine, the_relay))
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
            the_relay.run(stop)
        finally:
            progress.stopped()

    return work


def _consumer_worker(settings, consumer) -> Callable[[threading.Event], None]:
    progress = Progress("consumer", "records applied", lambda: usecases.consumer_lag(consumer))
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
