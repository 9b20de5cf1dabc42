"""What `intercept replay` does with the store, the topic and the projections.

The CLI parses the options, calls these and prints the report; the rebuild itself is
`engine.replay`. A history that fails verification raises `Refused` after everything
built from it is discarded; a topic that does not exist raises `MissingTopic`.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from audit.topic_check import TopicCheck
from audit.verdict import Verdict, describe, describe_all
from consumers.topic_reader import MissingTopic
from engine import replay as rebuild
from engine.replay import ReplayReport
from engine.settings import Settings
from projections.fresh import FreshProjections
from projections.point_in_time import Cutoff
from projections.schema import migrate
from projections.timefmt import stamp
from storage.database import Database

__all__ = ["Cutoff", "MissingTopic", "ReplayReport"]  # what the front door builds or catches

STORE = "store"
KAFKA = "kafka"


class Progress(Protocol):
    """The progress display the front door opens (a rich Progress on the CLI)."""

    def add_task(self, description: str, total: float | None = ...) -> Any: ...

    def advance(self, task_id: Any, advance: float = ...) -> None: ...

    def update(self, task_id: Any, **fields: Any) -> None: ...


OpenProgress = Callable[[], AbstractContextManager[Progress]]


class Refused(Exception):
    """The history read fails verification: nothing built from it was kept or swapped in."""

    def __init__(self, report: ReplayReport, what: str) -> None:
        super().__init__(what)
        self.report = report
        self.what = what  # "kept" (a view) or "swapped in" (the live projections)


def describe_cutoff(cutoff: Cutoff | None) -> dict | None:
    return {"clock": cutoff.clock, "at": stamp(cutoff.at)} if cutoff else None


def view_path(settings: Settings, cutoff: Cutoff) -> Path:
    """Where a point-in-time view goes when no --into is given: under the home's as-of/."""
    return settings.home / "as-of" / f"{cutoff.clock}-{stamp(cutoff.at).replace(':', '')}.db"


def new_report(source: str, cutoff: Cutoff | None, verify: bool) -> ReplayReport:
    report = ReplayReport(source=source, cutoff=describe_cutoff(cutoff))
    if not verify:
        report.notes.append(
            "NOT VERIFIED (--no-verify): the history read was not checked against its hash "
            "chain; run `intercept audit verify`"
        )
    return report


def build_into(
    settings: Settings,
    into: Path,
    source: str,
    cutoff: Cutoff | None,
    report: ReplayReport,
    verify: bool,
    progress: OpenProgress,
) -> None:
    """Build the projections (or a view as of `cutoff`) into the new SQLite file `into`.

    On any failure, a refusal included, the file is removed.
    """
    db = Database.sqlite_file(into)
    report.target = f"sqlite:///{into}"
    try:
        migrate(db, settings.timezone)
        _run(settings, db, source, cutoff, report, verify, progress)
        if verify and not report.verified:
            raise Refused(report, "kept")
    except BaseException:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{into}{suffix}").unlink(missing_ok=True)
        raise
    db.close()


def rebuild_live(
    settings: Settings,
    source: str,
    report: ReplayReport,
    verify: bool,
    progress: OpenProgress,
) -> None:
    """Rebuild every projection into a fresh database and swap it in atomically."""
    from engine.composition import build_engine, projections_db

    live = projections_db(settings)
    report.target = masked(live.url)
    store = build_engine(settings.model_copy(update={"kafka_bootstrap": None}))
    try:
        with FreshProjections(live) as fresh:
            _run(settings, fresh.db, source, None, report, verify, progress)
            if verify and not report.verified:
                raise Refused(report, "swapped in")  # the rebuild is discarded
            # From the store, what live catch-ups projected meanwhile is carried over.
            fresh.swap_in(
                read=store.read_intercept_log if source == STORE else None, keys=store.seals
            )
            report.swapped = True
        if source == STORE and settings.embedded:
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
    settings: Settings,
    db: Database,
    source: str,
    cutoff: Cutoff | None,
    report: ReplayReport,
    verify: bool,
    open_progress: OpenProgress,
) -> None:
    with open_progress() as progress:
        if source == KAFKA:
            task = progress.add_task("replay", total=None)
            check = TopicCheck() if verify else None
            _from_kafka(settings, db, report, lambda n: progress.advance(task, n), check)
            if check is not None:
                _verified(report, check.verdict)
            return
        from engine.composition import build_engine
        from projections import after_sales

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

            parts = rebuild.in_parts(db, total) if cutoff is None else 1
            if parts > 1:
                read_up_to[0] = rebuild.from_store_in_parts(settings, db, report, total, parts)
                progress.update(task, completed=total)
                after_sales.catch_up(db, engine.app.event_log.read_log_of)
            elif cutoff is None:
                rebuild.from_store(db, read, report, lambda n: None, engine.seals)
                # The after-sales table too: its events are in the store only, not on Kafka.
                after_sales.catch_up(db, engine.app.event_log.read_log_of)
            else:
                rebuild.as_of(db, read, cutoff, report, lambda n: None, keys=engine.seals)
            if verify:
                progress.update(task, description="verifying")
                _verified(report, rebuild.verify_read(engine.app.event_log, read_up_to[0]))
        finally:
            engine.close()


def _verified(report: ReplayReport, verdict: Verdict) -> None:
    report.verification = verdict.as_dict()
    if not verdict.ok:
        report.verification["lines"] = describe(verdict) or describe_all(verdict)


def _from_kafka(settings: Settings, db: Database, report: ReplayReport, advance, check) -> None:
    from consumers.topic_reader import read_from_start
    from engine import kafka_clients
    from engine.composition import subject_keys
    from engine.privacy import Seals

    consumer = kafka_clients.consumer(settings, group_id=None)
    seals = Seals(subject_keys(settings))
    try:
        rebuild.from_topic(
            db,
            settings.topic,
            read_from_start(consumer, settings.topic),
            report,
            advance,
            check,
            keys=seals,
        )
    finally:
        consumer.close(autocommit=False)
        seals.keys.close()


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
