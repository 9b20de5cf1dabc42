"""The composition root: the only place infrastructure is built, from settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from engine.settings import Settings
from storage.database import (
    Database,
    DatabaseBusy,
    private_folder,
    private_sqlite_file,
    retry_busy,
)

if TYPE_CHECKING:
    from domain.commands import Command
    from domain.decision import Decision
    from domain.errors import DomainError
    from domain.event import Event
    from domain.personal import Sealed
    from domain.policy import InterceptPolicy
    from domain.vocabulary import DispatchState
    from engine.application import Check, Clock, InterceptApplication
    from engine.carrier_catalog import CarrierCatalog
    from engine.evidence_store import EvidenceStore
    from engine.keystore import KeyStore
    from engine.privacy import DatabaseSubjectKeys, Seals
    from engine.store.outbound import OutboundStore
    from projections.personal import Keys
    from projections.projector import Projector

# Only what a command uses is imported (docs/performance.md, "The CLI starts light"):
# building the write side (the domain's models, the event store's library, the ciphers)
# is the builders' work, not this module's. What the front doors type their calls with
# is named here and imported when first asked for.
_NAMED_HERE = {
    "Check": "engine.application",
    "Clock": "engine.application",
    "Read": "engine.application",  # what a Check is given, for the front doors
}


def __getattr__(name: str) -> Any:
    if name not in _NAMED_HERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_NAMED_HERE[name]), name)


T = TypeVar("T")


@cache
def _intercept_topics() -> tuple[str, ...]:
    """The event store keeps each event under its type name (engine/store/mapper.py)."""
    from domain.events import INTERCEPT_EVENTS

    return tuple(cls.event_type() for cls in INTERCEPT_EVENTS)


def system_clock() -> datetime:
    return datetime.now(UTC)


def event_store_env(settings: Settings) -> dict[str, str]:
    if settings.event_store is None:
        private_home(settings)
        private_sqlite_file(settings.event_store_path)  # before the library first opens it
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.event_store_path),
            "SQLITE_LOCK_TIMEOUT": str(max(1, round(settings.db_timeout))),
            "CREATE_TABLE": "y",
        }
    from engine.postgres_env import postgres_env

    return postgres_env(settings.event_store, lock_timeout=settings.db_timeout)


def private_home(settings: Settings) -> None:
    """The home 0700, as keys.db and the evidence are kept private in it.

    Its databases hold every merchant's orders and addresses; whoever else can log in
    to the machine has no business reading them. Each SQLite file is made 0600 where it
    is first opened (`storage.database.private_sqlite_file`), whichever command opens it.
    """
    private_folder(settings.home)


def projections_db(settings: Settings) -> Database:
    from projections.schema import migrate

    db = _open_projections_db(settings)
    migrate(db, settings.timezone)
    return db


def _open_projections_db(settings: Settings) -> Database:
    timeout_ms = round(settings.db_timeout * 1000)
    if settings.projections and not settings.projections.startswith("sqlite:"):
        from engine.postgres_env import check_reachable

        check_reachable(settings.projections, "projections", settings.db_timeout)
    if settings.projections:
        return Database(settings.projections, timeout_ms)
    private_home(settings)
    return Database.sqlite_file(settings.projections_path, timeout_ms)


def migrate_storage(settings: Settings) -> dict:
    """Create or upgrade every table the engine uses; running it again changes nothing."""
    from projections.schema import upgrade

    db = _open_projections_db(settings)
    try:
        before, after = upgrade(db, settings.timezone)
    finally:
        db.close()
    build_engine(settings).close()  # creates the event store's tables when missing
    _create_relay_and_trace_tables(settings)
    return {"projections_schema": {"before": before, "after": after}, "event_store": "ready"}


def _create_relay_and_trace_tables(settings: Settings) -> None:
    """The tables the relay and tracing keep beside the events, made by their own code so
    that `intercept migrate` leaves nothing for a first relay or traced server to create."""
    from engine import tracing
    from engine.store.deadlines import DeadlineWatch
    from engine.store.outbound import OutboundStore
    from engine.store.positions import RelayPositions

    db = event_store_db(settings)
    try:
        RelayPositions(db)  # relay_positions, relay_partition_ends
        tracing.EventTraces(db)  # event_traces
        OutboundStore(db)  # carrier_gateway_positions, carrier_outbound
        DeadlineWatch(db)  # deadline_watch, deadline_limits, process_positions
    finally:
        db.close()


@dataclass(frozen=True)
class Dispatches:
    """Where each row's request to its carrier stands, from the carrier gateway's table:
    `not_connected` for a carrier with no connection configured, `pending` for a request
    the gateway has not read yet. Read the same by the engine and by the read side."""

    connected: frozenset[str]
    store: OutboundStore | None

    @classmethod
    def of(cls, settings: Settings) -> Dispatches:
        connected = connected_carriers(settings)
        if not connected:
            return cls(connected, None)
        from engine.store.outbound import OutboundStore

        return cls(connected, OutboundStore(event_store_db(settings)))

    def states(self, rows: Sequence[dict[str, Any]]) -> dict[str, DispatchState]:
        from domain.vocabulary import DispatchState

        ids = [r["intercept_id"] for r in rows if r["carrier"] in self.connected]
        known = self.store.states(ids) if self.store is not None and ids else {}
        return {
            r["intercept_id"]: known.get(r["intercept_id"], DispatchState.PENDING)
            if r["carrier"] in self.connected
            else DispatchState.NOT_CONNECTED
            for r in rows
        }


@dataclass
class Engine:
    """Commands in, projections kept current (embedded mode) or left to the consumers."""

    settings: Settings
    app: InterceptApplication
    db: Database
    projector: Projector
    seals: Seals
    carriers: Any = None
    """Embedded mode with a carrier connected: the carrier gateway, driven after each
    command like the projections' catch-up (`with_carriers`)."""
    _auto_rule: Any = None
    _dispatches: Dispatches | None = None
    _after_sales_scanned: Any = None

    def execute(self, command: Command) -> Decision:
        from domain.commands import ReportAfterSale

        decision: Decision[Any] = self.app.execute(command)
        if self.settings.embedded and decision.events:
            if self.settings.automation_inline and isinstance(command, ReportAfterSale):
                # Embedded, the automatic rule runs in process: the report's answer then
                # already says what the rule did.
                self.auto_rule().run_until_idle()
            self._catch_up_after_recording()
            self._dispatch()
        return decision

    def auto_rule(self):
        """The automatic intercept rule over this engine's event store (engine/automation.py)."""
        if self._auto_rule is None:
            from engine.automation import AutoRule
            from engine.store.positions import ProcessPositions

            self._auto_rule = AutoRule(
                self.app, ProcessPositions(event_store_db(self.settings)), self.app.clock
            )
        return self._auto_rule

    def dispatch_states(self, rows: Sequence[dict[str, Any]]) -> dict[str, DispatchState]:
        if self._dispatches is None:
            self._dispatches = Dispatches.of(self.settings)
        return self._dispatches.states(rows)

    def after_sale(self, merchant_id: str, after_sale_id: str):
        """An after-sale record as the write side holds it; None when never reported."""
        return self.app.after_sale(merchant_id, after_sale_id)

    def catch_up_after_sales(self) -> int:
        from projections import after_sales

        log = self.app.event_log
        if self._after_sales_scanned is None:
            self._after_sales_scanned = after_sales.Scanned()
        scanned = self._after_sales_scanned
        return retry_busy(
            lambda: after_sales.catch_up(self.db, log.read_log_of, log.max_position, scanned)
        )

    def _dispatch(self) -> None:
        if self.carriers is None:
            return
        try:
            self.carriers.step()
        except Exception as error:  # noqa: BLE001 - the command is recorded; the next step resends
            import logging

            logging.getLogger("intercept.carriers").warning(
                "dispatch after the command failed (%s: %s); the next command or "
                "`intercept carriers run` sends it",
                type(error).__name__,
                error,
            )

    def execute_many(
        self, commands: Sequence[Command], checks: Sequence[Check | None] = ()
    ) -> list[Decision | DomainError]:
        """Many commands in one transaction, each answered by its decision or its refusal."""
        from domain.commands import ReportAfterSale
        from domain.decision import Decision

        results = self.app.execute_many(commands, checks)
        if self.settings.embedded and any(isinstance(r, Decision) and r.events for r in results):
            if self.settings.automation_inline and any(
                isinstance(c, ReportAfterSale) and isinstance(r, Decision) and r.events
                for c, r in zip(commands, results, strict=True)
            ):
                self.auto_rule().run_until_idle()
            self._catch_up_after_recording()
            self._dispatch()
        return results

    def policy(self, merchant_id: str) -> InterceptPolicy | None:
        """A merchant's intercept policy as the write side holds it; None when it has none."""
        return self.app.policy(merchant_id)

    def history(self, aggregate_id: UUID) -> Sequence[Event]:
        """Every stored event of one aggregate, oldest first, from the event store itself."""
        return [cast("Event", e) for e in self.app.events.get(aggregate_id)]

    def read(self, query: Callable[[Database], T]) -> T:
        """A query on the projections, as the use cases ask the API's gateway too."""
        return query(self.db)

    def _catch_up_after_recording(self) -> None:
        try:
            self.catch_up()
        except DatabaseBusy as error:
            # The events are safe in the event store: say so, or a retry would look needed.
            raise DatabaseBusy(
                f"the command was recorded, but the projections could not be brought up to "
                f"date ({error}); the next command catches them up"
            ) from error

    def catch_up_and_mark(self) -> int:
        """`catch_up`, noting where the log stood before it: a read that finds the log still
        there then reads the projections alone (`fresh_read_side`)."""
        from projections.store import mark_caught_up

        head = event_log_head(self.settings)
        seen = self.catch_up()
        if head is not None:
            retry_busy(lambda: mark_caught_up(self.db, head))
        return seen

    def catch_up(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Embedded mode: project everything the event store has that the projections lack."""
        from projections.catchup import catch_up

        seen = retry_busy(
            lambda: catch_up(self.projector, self.read_intercept_log, on_batch=on_batch)
        )
        self.catch_up_after_sales()
        return seen

    def read_log(self, after: int, limit: int) -> Sequence[tuple[int, Event]]:
        return self.app.event_log.read_log(after, limit)

    def read_intercept_log(
        self, after: int, limit: int, part: tuple[int, int] | None = None
    ) -> Sequence[tuple[int, Event]]:
        """Like `read_log`, but only intercept events: the store skips the rest unread.

        `part`: (k, n), the intercepts of the k-th of n parts of the log only."""
        return self.app.event_log.read_log_of(after, limit, _intercept_topics(), part)

    def parcel_intercepts(self, carrier: str, tracking_no: str) -> tuple[UUID, ...]:
        """The intercepts ever opened on one parcel, oldest first (its registry)."""
        from domain.ids import parcel_id
        from domain.parcel import project_parcel

        parcel = self.app._get(parcel_id(carrier, tracking_no), project_parcel)
        return parcel.intercept_ids if parcel is not None else ()

    def read_log_of(
        self, after: int, limit: int, topics: Sequence[str]
    ) -> Sequence[tuple[int, Event]]:
        """Events of these types only, after position `after` (the carrier gateway's feed)."""
        return self.app.event_log.read_log_of(after, limit, topics)

    def close(self) -> None:
        if self.carriers is not None:
            self.carriers.close()
        self.db.close()
        self.app.close()
        self.seals.keys.close()


@dataclass
class ReadSide:
    """The projections alone, for the queries: no event store, no command models, and the
    subject keys only when a sealed field is opened (docs/performance.md)."""

    settings: Settings
    db: Database
    _seals: Seals | None = None
    _dispatches: Dispatches | None = None

    def read(self, query: Callable[[Database], T]) -> T:
        return query(self.db)

    @property
    def seals(self) -> Keys:
        # Opened when a sealed value is first met: a timeline without one reads no key.
        return _SealsWhenOpened(self)

    def _opened_seals(self) -> Seals:
        if self._seals is None:
            from engine.privacy import Seals

            self._seals = Seals(subject_keys(self.settings))
        return self._seals

    def dispatch_states(self, rows: Sequence[dict[str, Any]]) -> dict[str, DispatchState]:
        if self._dispatches is None:
            self._dispatches = Dispatches.of(self.settings)
        return self._dispatches.states(rows)

    def close(self) -> None:
        self.db.close()
        if self._seals is not None:
            self._seals.keys.close()


@dataclass(frozen=True)
class _SealsWhenOpened:
    """The read side's seals (`Keys`), built on the first sealed value asked for."""

    side: ReadSide

    def open(self, sealed: Sealed) -> str | None:
        return self.side._opened_seals().open(sealed)

    def has(self, key_id: str) -> bool:
        return self.side._opened_seals().has(key_id)


def build_read_side(settings: Settings) -> ReadSide:
    """The projections as they are, read as the engine would read them."""
    return ReadSide(settings, projections_db(settings))


def fresh_read_side(settings: Settings) -> ReadSide | None:
    """Embedded: the projections alone, when they hold everything the event store has;
    None when something may be left to project (the engine then catches them up)."""
    head = event_log_head(settings)
    if head is None:
        return None
    from projections.store import caught_up_head

    side = build_read_side(settings)
    if caught_up_head(side.db) == head:
        return side
    side.close()
    return None


def event_log_head(settings: Settings) -> int | None:
    """The embedded SQLite event store's last position; None when there is no such store
    yet (or it is PostgreSQL, whose tables the event store library names)."""
    if settings.event_store is not None or not settings.event_store_path.exists():
        return None
    from engine.store.positions import log_head

    db = event_store_db(settings)
    try:
        return log_head(db)
    except (DatabaseBusy, sqlite3.Error):
        return None  # no answer (busy, or not made yet) proves nothing: catch up as before
    finally:
        db.close()


def subject_keys(settings: Settings) -> DatabaseSubjectKeys:
    """The subject key store (docs/privacy.md): apart from the event store, always."""
    if settings.subject_keys is None:
        private_home(settings)
    from engine.privacy import open_subject_keys

    secret = settings.master_keys.get_secret_value() if settings.master_keys else None
    return open_subject_keys(settings.subject_keys, settings.home, secret)


def carrier_catalog(settings: Settings) -> CarrierCatalog:
    """The carriers the settings configure (a TOML file, or the eight built in)."""
    from engine.carrier_catalog import load_catalog

    return load_catalog(settings.carriers_file)


def connected_carriers(settings: Settings) -> frozenset[str]:
    """The carriers the catalog connects (an adapter and a connection): the ones
    requests are sent to; read from the catalog alone, without building a link."""
    if settings.carriers_file is None:
        return frozenset()  # the built-in catalog connects none, and is not parsed for it
    catalog = carrier_catalog(settings)
    return frozenset(
        code for code, entry in catalog.entries.items() if entry.adapter and entry.connection
    )


def carrier_links(settings: Settings, clock: Clock = system_clock) -> dict:
    """Each connected carrier's protocol adapter and connection, from the catalog.

    A carrier with no adapter or no connection is left out: nothing is dispatched to it.
    A connection whose secret is not in the environment is refused here, naming the
    variable (never its value), rather than sending unsigned calls.
    """
    from carriers import adapters
    from carriers.protocol import Connection
    from engine.carrier_catalog import CatalogError
    from engine.carrier_gateway import Link

    protocols = adapters(clock)
    links = {}
    for code, entry in carrier_catalog(settings).entries.items():
        conn = entry.connection
        if entry.adapter is None or conn is None:
            continue
        if entry.adapter not in protocols:
            raise CatalogError(
                f"carrier {code}: unknown adapter {entry.adapter!r}; "
                f"the adapters are {', '.join(protocols)}"
            )
        secret = conn.secret()
        if not secret:
            raise CatalogError(
                f"carrier {code}: its secret is not set ({conn.secret_env or 'no secret_env'})"
            )
        links[code] = Link(
            protocols[entry.adapter],
            Connection(
                base_url=conn.base_url,
                key=conn.account() or code,
                secret=secret,
                callback_url=conn.callback_url,
                timeout=conn.timeout,
            ),
        )
    return links


def simulated_carriers(settings: Settings, clock: Clock = system_clock) -> dict:
    """Every connected carrier as the simulator plays it, with the credentials the engine
    holds, calling back where the catalog says the engine listens."""
    from carriers.simulator import SimulatedCarrier

    return {
        code: SimulatedCarrier(code, link.adapter.name, link.connection)
        for code, link in carrier_links(settings, clock).items()
    }


def build_simulator(settings: Settings, clock: Clock = system_clock, **options):
    """A simulator (carriers/simulator.py) for every connected carrier."""
    from carriers.simulator import Simulator

    return Simulator(simulated_carriers(settings, clock), clock, **options)


def build_carrier_gateway(settings: Settings, engine: Engine, backoff=None, rng=None):
    """The carrier gateway over `engine` (engine/carrier_gateway.py), with its own tables."""
    from engine.carrier_gateway import CarrierGateway
    from engine.store.outbound import OutboundStore

    return CarrierGateway(
        engine,
        OutboundStore(event_store_db(settings)),
        carrier_links(settings, engine.app.clock),
        engine.app.clock,
        backoff or retry_schedule(settings),
        rng,
    )


def retry_schedule(settings: Settings):
    """The gateway's backoff, from the `carrier_retry_*` settings."""
    from engine.carrier_gateway import Backoff

    return Backoff(
        first=settings.carrier_retry_base,
        cap=settings.carrier_retry_cap,
        attempts=settings.carrier_retry_attempts,
        within=settings.carrier_retry_horizon,
    )


def build_carrier_desk(settings: Settings, parcel_intercepts, clock: Clock = system_clock):
    """What the front doors ask of connected carriers; None when none is connected."""
    from engine.carrier_gateway import CarrierDesk
    from engine.store.outbound import OutboundStore

    links = carrier_links(settings, clock)
    if not links:
        return None
    return CarrierDesk(links, parcel_intercepts, OutboundStore(event_store_db(settings)))


def with_carriers(engine: Engine) -> Engine:
    """Embedded mode: the engine sends to connected carriers after each command, as it
    catches the projections up (one pass: what fails waits for the next, or for
    `intercept carriers run`). Without a connected carrier it is the engine as it was."""
    if engine.settings.embedded and carrier_links(engine.settings, engine.app.clock):
        engine.carriers = build_carrier_gateway(engine.settings, engine)
    return engine


def build_engine(settings: Settings, clock: Clock = system_clock) -> Engine:
    if settings.event_store is not None:
        from engine.postgres_env import check_reachable

        # At once and with the server's reason, before the library's pool would retry.
        check_reachable(settings.event_store, "event store", settings.db_timeout)
    from engine.application import InterceptApplication
    from engine.privacy import Seals
    from projections.projector import Projector

    seals = Seals(subject_keys(settings))
    app = InterceptApplication(
        event_store_env(settings), clock=clock, max_retries=settings.max_retries, seals=seals
    )
    if settings.event_store is not None:
        from engine.postgres_env import create_tables_once

        create_tables_once(settings.event_store, app.event_log.create_tables)
    db = projections_db(settings)
    return Engine(
        settings=settings,
        app=app,
        db=db,
        projector=Projector(db, seals, scrub_erased=True),
        seals=seals,
    )


def open_key_store(settings: Settings, clock: Clock = system_clock) -> KeyStore:
    """The API keys, shared by `intercept keys` and `intercept serve` under one home."""
    from engine.keystore import KeyStore

    return KeyStore(settings.home / "keys.db", clock)


def evidence_store(settings: Settings) -> EvidenceStore:
    """Evidence files, the same store for `intercept evidence` and the HTTP upload."""
    from engine.evidence_store import EvidenceStore

    return EvidenceStore(settings.home / "evidence")


def event_store_db(settings: Settings) -> Database:
    """A plain connection to the event store's database, for the relay's positions."""
    timeout_ms = round(settings.db_timeout * 1000)
    if settings.event_store is None:
        private_home(settings)
        return Database.sqlite_file(settings.event_store_path, timeout_ms)
    return Database(settings.event_store, timeout_ms)


def build_tracing(settings: Settings, service: str):
    """Tracing as `INTERCEPT_TRACING` asks (engine/tracing.py); off costs nothing."""
    from engine import tracing

    if not settings.tracing:
        return tracing.NO_TRACING
    return tracing.build(settings.tracing, tracing.EventTraces(event_store_db(settings)), service)


def build_relay(settings: Settings, engine: Engine, metrics=None, tracing=None):
    from engine import kafka_clients
    from engine.outgoing import reader, with_traces
    from engine.relay import Relay, RelayPositions

    read = reader(engine.app)
    if tracing is not None and tracing.enabled:
        read = with_traces(read, tracing.headers_for)
    producer = kafka_clients.producer(settings)
    return Relay(
        # Intercept events only, sealed with their chain links (docs/audit.md).
        read,
        producer,
        RelayPositions(event_store_db(settings)),
        settings.topic,
        topic_exists=lambda: settings.topic in kafka_clients.existing_topics(settings),
        create_topic=lambda: _create_topics(settings),
        read_record=lambda partition, offset: kafka_clients.read_record(
            settings, settings.topic, partition, offset
        ),
        batch_size=settings.relay_batch,
        on_batch=metrics.relay_batch if metrics is not None else None,
        partitions=kafka_clients.keyed_partitions(producer),
    )


def _create_topics(settings: Settings) -> None:
    from engine import kafka_clients

    kafka_clients.ensure_topics(settings, [settings.topic, settings.dlq_topic])


def build_projection_consumer(
    settings: Settings, engine: Engine, metrics=None, tracing=None, **consumer_overrides
):
    from consumers.projection_consumer import ProjectionConsumer
    from engine import kafka_clients

    # The consumer creates only the dead-letter topic: creating the main topic here would
    # hide from the relay that the broker lost it.
    kafka_clients.ensure_topics(settings, [settings.dlq_topic])
    return ProjectionConsumer(
        kafka_clients.consumer(settings, **consumer_overrides),
        engine.projector,
        kafka_clients.producer(settings),
        settings.topic,
        settings.dlq_topic,
        metrics=metrics,
        tracing=tracing,
    )


def build_leader_lock(settings: Settings, role: str = "relay"):
    """The lock that lets one process of many act in `role` (engine/leader.py `ROLES`):
    one relay publishes, one dispatcher delivers webhooks, one gateway sends to carriers,
    one automation loop decides."""
    from engine.leader import ROLES, AdvisoryLock, FileLock, lock_key

    assert role in ROLES, role
    if settings.event_store is None:
        return FileLock(settings.home / f"{role}-{settings.topic}.lock")
    return AdvisoryLock(settings.event_store, lock_key(settings.topic, role))


def build_leadership(settings: Settings, role: str):
    """Steps of `role` run only while this process holds its lock (engine/leader.py)."""
    from engine.leader import Leadership

    return Leadership(build_leader_lock(settings, role), role)


def build_observer(settings: Settings):
    """Reads every reader's position, on connections of its own (engine/observe.py).

    Its own connections: the lag readings and health checks run on other threads than
    the relay's and the consumer's, whose transactions must not interleave with them.
    """
    from engine.application import InterceptApplication
    from engine.observe import Observer
    from engine.store.positions import RelayPositions

    app = InterceptApplication(
        event_store_env(settings), clock=system_clock, max_retries=settings.max_retries
    )
    positions = None if settings.embedded else RelayPositions(event_store_db(settings))
    return Observer(app, _open_projections_db(settings), positions, settings.topic)


def build_metrics_server(settings: Settings, metrics, port: int, max_lag: int, relay: bool):
    """`--metrics-port`: the server, and the worker that keeps the lag gauges current."""
    import threading

    from engine.metrics import MetricsServer, Readiness, refresh_lags

    observer = build_observer(settings)
    readiness = Readiness(observer, settings.embedded, max_lag)
    server = MetricsServer(port, metrics.exposition, readiness.check)

    def lags(stop: threading.Event) -> None:
        refresh_lags(metrics, observer, readiness.lock, stop, relay)

    return server, lags


def webhook_store(settings: Settings):
    """The webhook endpoints and delivery log, beside the events (engine/webhooks/store.py)."""
    from engine.webhooks.store import WebhookStore

    return WebhookStore(event_store_db(settings))


def build_dispatcher(settings: Settings, engine: Engine, clock: Clock = system_clock):
    """The webhook dispatcher over this engine's event store (engine/webhooks/dispatcher.py)."""
    from engine.webhooks.dispatcher import Dispatcher

    return Dispatcher(engine.app, webhook_store(settings), settings, clock)


def deadline_watch(settings: Settings):
    """When each intercept's deadlines fall due, beside the events (engine/store/deadlines.py)."""
    from engine.store.deadlines import DeadlineWatch

    return DeadlineWatch(event_store_db(settings))


def build_automation(
    settings: Settings,
    engine: Engine,
    clock: Clock = system_clock,
    *,
    webhooks: bool = True,
    rules: bool = True,
):
    """The automation loop: the automatic rule, the after-sales table, the deadlines and
    the webhook dispatcher, as asked (engine/automation.py). The rule and the deadlines
    run only in the process holding the `automation` lock, deliveries only in the one
    holding the `webhooks` lock (engine/leader.py), however many processes run."""
    from engine.automation import Deadlines, Loop

    loop = Loop()
    if rules:
        deadlines = Deadlines(engine, deadline_watch(settings), clock)
        deciding = loop.led(build_leadership(settings, "automation"))
        loop.steps += [
            deciding.guard(engine.auto_rule().run_once),
            engine.catch_up_after_sales,
            deciding.guard(_every(30.0, deadlines.run_once)),
        ]
        if settings.embedded:
            loop.steps.append(engine.catch_up)
    if webhooks:
        delivering = loop.led(build_leadership(settings, "webhooks"))
        loop.steps.append(delivering.guard(build_dispatcher(settings, engine, clock).run_once))
    return loop


def _every(seconds: float, step):
    """`step` at most once every `seconds` (the deadlines need no faster look)."""
    import time

    last = [float("-inf")]

    def maybe() -> int:
        now = time.monotonic()
        if now - last[0] < seconds:
            return 0
        last[0] = now
        step()
        return 0  # its work never makes the loop spin

    return maybe
