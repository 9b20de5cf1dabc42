"""`intercept relay | consume | run | dlq`: the Kafka side of the engine."""

import logging
import signal
import threading
from pathlib import Path

import typer

from engine import usecases
from engine.cli import context, parse
from engine.cli.output import console, emit_json, errors
from engine.composition import build_engine, build_projection_consumer, build_relay

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


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO is per-connection chatter


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
    the_relay = build_relay(settings, build_engine(settings))
    if republish:
        the_relay.republish()
    _run_threads({"relay": the_relay.run})


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
    _run_threads({"consumer": build_projection_consumer(settings, engine).run})


def run(
    bootstrap: str = BOOTSTRAP, topic: str = TOPIC, group: str = GROUP, partitions: int = PARTITIONS
) -> None:
    """Relay and consumer in one process."""
    settings = _kafka_settings(bootstrap, topic, group, partitions)
    _log_to_stderr()
    relay_engine, consumer_engine = build_engine(settings), build_engine(settings)
    _run_threads(
        {
            "relay": build_relay(settings, relay_engine).run,
            "consumer": build_projection_consumer(settings, consumer_engine).run,
        }
    )


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
