"""`intercept replay`: rebuild the projections from history, or build a point-in-time view."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from engine.cli import context, parse
from engine.cli.output import console, emit_json, errors

if TYPE_CHECKING:
    from engine.replay_cases import Cutoff, ReplayReport


class Source(StrEnum):
    store = "store"
    kafka = "kafka"


def replay(
    source: Source = typer.Option(
        Source.store,
        "--from",
        help=("Read the event store, or the Kafka topic from its earliest offsets."),
    ),
    as_of: str = typer.Option(
        None,
        "--as-of",
        help=("Build the view as the engine knew it at this time (recorded_at), ISO 8601."),
    ),
    occurred_as_of: str = typer.Option(
        None,
        "--occurred-as-of",
        help=(
            "Build the view of what had happened by this time by the merchants' and carriers' "
            "own clocks (occurred_at), ISO 8601."
        ),
    ),
    into: Path = typer.Option(
        None,
        "--into",
        help=("Build into this new SQLite file and leave the live projections alone."),
    ),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers."),
    topic: str = typer.Option(None, "--topic", help="Events topic (default intercept.events)."),
    verify: bool = typer.Option(
        True,
        "--verify/--no-verify",
        help=(
            "Check the hash chain of what was read and refuse to swap in (or keep) a rebuild "
            "from a history that fails it. --no-verify rebuilds unchecked, and says so."
        ),
    ),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Rebuild every projection into a fresh database and swap it in atomically.

    Queries keep working meanwhile. Nothing is published and no side effect runs.
    With --as-of/--occurred-as-of the view goes to its own file (--into) instead.
    The history read is verified first (as `intercept audit verify` does): exit 1,
    nothing swapped in, naming the first event that does not hold.
    """
    cutoff = _cutoff(as_of, occurred_as_of, source)
    settings = context.settings(
        **{k: v for k, v in {"kafka_bootstrap": bootstrap, "topic": topic}.items() if v is not None}
    )
    if source is Source.kafka and settings.kafka_bootstrap is None:
        raise typer.BadParameter(
            "--from kafka needs a broker: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap"
        )
    if cutoff is not None and into is None:
        into = _cases().view_path(settings, cutoff)
    report = _cases().new_report(source.value, cutoff, verify)
    if into is not None and into.exists():
        raise typer.BadParameter(
            f"{into} already exists; a view is built into a new file: "
            "remove it or choose another --into"
        )

    def progress():
        from engine.cli.progress import events_progress

        return events_progress("replaying", quiet=json)

    try:
        if into is not None:
            _cases().build_into(settings, into, source.value, cutoff, report, verify, progress)
        else:
            _cases().rebuild_live(settings, source.value, report, verify, progress)
    except _cases().MissingTopic as error:
        raise typer.BadParameter(str(error)) from None
    except _cases().Refused as refused:
        _refuse(refused.report, settings, json, refused.what)
    _print(report, settings, json)


def _cutoff(as_of: str | None, occurred_as_of: str | None, source: Source) -> Cutoff | None:
    if as_of and occurred_as_of:
        raise typer.BadParameter("use either --as-of or --occurred-as-of, not both")
    if (as_of or occurred_as_of) and source is Source.kafka:
        raise typer.BadParameter(
            "point-in-time views are built from the event store; drop --from kafka"
        )
    if as_of:
        return _cases().Cutoff(parse.instant(as_of, "--as-of"), "recorded")
    if occurred_as_of:
        return _cases().Cutoff(parse.instant(occurred_as_of, "--occurred-as-of"), "occurred")
    return None


def _refuse(report: ReplayReport, settings, json: bool, what: str) -> None:
    """A rebuild from a history that fails verification: say where, keep nothing, exit 1."""
    if json:
        emit_json(report.as_dict())
    else:
        source = "event store" if report.source == "store" else "topic " + settings.topic
        errors.print(
            f"refused: the {source} fails verification, so the rebuild was not {what}; "
            "the live projections are unchanged",
            markup=False,
            soft_wrap=True,
        )
        assert report.verification is not None  # refused by a verdict: the report holds it
        for line in report.verification.get("lines", []):
            errors.print(line, markup=False, soft_wrap=True)
        errors.print(
            "check with `intercept audit verify --all`; rebuild anyway with --no-verify",
            markup=False,
            soft_wrap=True,
        )
    raise typer.Exit(1)


def _print(report: ReplayReport, settings, json: bool) -> None:
    if json:
        return emit_json(report.as_dict())
    what = (
        f"view as of {report.cutoff['at']} ({report.cutoff['clock']})"
        if report.cutoff
        else "projections"
    )
    console.print(
        f"built {what} from the {'event store' if report.source == 'store' else 'topic ' + settings.topic}: "
        f"{report.read} read, {report.applied} applied in {report.seconds:.2f} s "
        f"({report.per_second:,.0f} events/s)",
        markup=False,
        soft_wrap=True,
    )
    if report.verified:
        assert report.verification is not None  # verified: the report holds the verdict
        read = "event store" if report.source == "store" else "topic"
        console.print(
            f"verified the hash chain of the {read}: "
            f"{report.verification['checked']} events, every hash and link holds",
            markup=False,
            soft_wrap=True,
        )
    if report.swapped:
        console.print(f"swapped into {report.target}", markup=False, soft_wrap=True)
    else:
        console.print(
            f"written to {report.target}; query it with "
            f"intercept --projections {report.target} list|show",
            markup=False,
            soft_wrap=True,
        )
    for note in report.notes:
        console.print(note, markup=False, soft_wrap=True)


def _cases():
    """The replay use cases, imported when a replay runs (they reach Kafka's client)."""
    from engine import replay_cases

    return replay_cases
