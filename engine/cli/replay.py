"""`intercept replay`: rebuild the projections from history, or build a point-in-time view."""

from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import typer

from audit.topic_check import TopicCheck
from audit.verdict import describe, describe_all
from engine import replay as rebuild
from engine.cli import context, parse
from engine.cli.output import console, emit_json, errors
from engine.cli.progress import events_progress
from projections.fresh import FreshProjections
from projections.point_in_time import Cutoff
from projections.schema import migrate
from projections.timefmt import stamp
from storage.database import Database


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
        into = settings.home / "as-of" / f"{cutoff.clock}-{stamp(cutoff.at).replace(':', '')}.db"
    report = rebuild.ReplayReport(source=source.value, cutoff=_describe(cutoff))
    if not verify:
        report.notes.append(
            "NOT VERIFIED (--no-verify): the history read was not checked against its hash "
            "chain; run `intercept audit verify`"
        )
    if into is not None:
        _build_into(settings, into, source, cutoff, report, json, verify)
    else:
        _rebuild_live(settings, source, report, json, verify)
    _print(report, settings, json)


def _cutoff(as_of: str | None, occurred_as_of: str | None, source: Source) -> Cutoff | None:
    if as_of and occurred_as_of:
        raise typer.BadParameter("use either --as-of or --occurred-as-of, not both")
    if (as_of or occurred_as_of) and source is Source.kafka:
        raise typer.BadParameter(
            "point-in-time views are built from the event store; drop --from kafka"
        )
    if as_of:
        return Cutoff(parse.instant(as_of, "--as-of"), "recorded")
    if occurred_as_of:
        return Cutoff(parse.instant(occurred_as_of, "--occurred-as-of"), "occurred")
    return None


def _describe(cutoff: Cutoff | None) -> dict | None:
    return {"clock": cutoff.clock, "at": stamp(cutoff.at)} if cutoff else None


def _build_into(
    settings, into: Path, source: Source, cutoff: Cutoff | None, report, json, verify: bool
) -> None:
    if into.exists():
        raise typer.BadParameter(
            f"{into} already exists; a view is built into a new file: "
            "remove it or choose another --into"
        )
    db = Database.sqlite_file(into)
    report.target = f"sqlite:///{into}"
    try:
        migrate(db)
        _run(settings, db, source, cutoff, report, json, verify)
        if verify and not report.verified:
            _refuse(report, settings, json, "kept")
    except BaseException:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{into}{suffix}").unlink(missing_ok=True)
        raise
    db.close()


def _rebuild_live(settings, source: Source, report, json, verify: bool) -> None:
    from engine.composition import build_engine, projections_db

    live = projections_db(settings)
    report.target = masked(live.url)
    store = build_engine(settings.model_copy(update={"kafka_bootstrap": None}))
    try:
        with FreshProjections(live) as fresh:
            _run(settings, fresh.db, source, None, report, json, verify)
            if verify and not report.verified:
                _refuse(report, settings, json, "swapped in")  # the rebuild is discarded
            # From the store, what live catch-ups projected meanwhile is carried over.
            fresh.swap_in(read=store.read_intercept_log if source is Source.store else None)
            report.swapped = True
        if source is Source.store and settings.embedded:
            store.catch_up()  # events recorded during the rebuild
        elif not settings.embedded:
            report.notes.append(
                "restart the projection consumers (intercept consume/run): "
                "they resume from the swapped-in positions"
            )
    finally:
        store.close()
        live.close()


def _run(
    settings, db: Database, source: Source, cutoff: Cutoff | None, report, json, verify: bool
) -> None:
    with events_progress("replaying", quiet=json) as progress:
        if source is Source.kafka:
            task = progress.add_task("replay", total=None)
            check = TopicCheck() if verify else None
            _from_kafka(settings, db, report, lambda n: progress.advance(task, n), check)
            if check is not None:
                _verified(report, check.verdict)
            return
        from engine.composition import build_engine

        engine = build_engine(settings.model_copy(update={"kafka_bootstrap": None}))
        try:
            total = engine.app.event_log.max_position()
            task = progress.add_task("replay", total=total)
            read_up_to = [0]

            def read(after: int, limit: int):
                # Intercept events only (the store skips the rest unread); progress by position.
                batch = engine.read_intercept_log(after, limit)
                progress.update(task, completed=batch[-1][0] if batch else total)
                if batch:
                    read_up_to[0] = batch[-1][0]
                return batch

            if cutoff is None:
                rebuild.from_store(db, read, report, lambda n: None)
            else:
                rebuild.as_of(db, read, cutoff, report, lambda n: None)
            if verify:
                progress.update(task, description="verifying")
                _verified(report, rebuild.verify_read(engine.app.event_log, read_up_to[0]))
        finally:
            engine.close()


def _verified(report, verdict) -> None:
    report.verification = verdict.as_dict()
    if not verdict.ok:
        report.verification["lines"] = describe(verdict) or describe_all(verdict)


def _from_kafka(settings, db: Database, report, advance, check) -> None:
    from consumers.topic_reader import MissingTopic, read_from_start
    from engine import kafka_clients

    consumer = kafka_clients.consumer(settings, group_id=None)
    try:
        rebuild.from_topic(
            db, settings.topic, read_from_start(consumer, settings.topic), report, advance, check
        )
    except MissingTopic as error:
        raise typer.BadParameter(str(error)) from None
    finally:
        consumer.close(autocommit=False)


def _refuse(report: rebuild.ReplayReport, settings, json: bool, what: str) -> None:
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


def masked(url: str) -> str:
    """The URL without its password, for output and logs.

    Local to replay until the settings module offers one masking helper for every command.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def _print(report: rebuild.ReplayReport, settings, json: bool) -> None:
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
