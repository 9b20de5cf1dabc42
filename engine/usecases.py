"""What the CLI and the HTTP API both do, written once: they only translate in and out.

Each adapter turns its input (flags, a request) into these calls and their
results into its output (text, JSON, a response model); no rule lives in an
adapter, so the two front doors cannot drift apart.
"""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol, TypeVar
from uuid import UUID

from pydantic import ValidationError

from domain.commands import AttachEvidence, CancelIntercept, Command
from domain.decision import Decision
from domain.errors import DomainError, UnknownIntercept
from domain.event import Event
from domain.events import InterceptEvent
from domain.vocabulary import CancelReason, DispatchState, EvidenceKind
from engine.evidence_store import EvidenceStore, Staged
from engine.instants import (
    DEFAULT_DAYS,
    BadInstant,
    day_or_instant,
    instant,
    is_date,
    one_window,
    start_of,
    window,
)
from engine.postgres_env import DatabaseUnavailable
from engine.reading import (
    STATS_GROUPS,
    BadCursor,
    Detail,
    ListRequest,
    Page,
    StatsRequest,
    cancellable,
    count_intercepts,
    detail,
    list_intercepts,
    show_intercept,
    statistics,
    stats_days,
    status_counts,
    with_dispatch,
)
from engine.relay import TopicLost
from engine.settings import Settings
from projections import point_in_time, queries, stats_store
from projections.personal import Keys
from projections.point_in_time import Cutoff
from projections.statistics import (
    MIN_CASES,
    SINCE_PICKUP_NAMES,
    UNKNOWN_PICKUP,
    estimate,
)
from projections.statistics import since_pickup as pickup_bucket
from projections.timefmt import stamp
from storage.database import Database, DatabaseBusy

__all__ = [
    "STATS_GROUPS",
    "BadCursor",
    "Detail",
    "ListRequest",
    "Page",
    "StatsRequest",
    "cancellable",
    "count_intercepts",
    "detail",
    "list_intercepts",
    "show_intercept",
    "statistics",
    "stats_days",
    "status_counts",
    "with_dispatch",
    "DEFAULT_DAYS",
    "BadInstant",
    "instant",
    "is_date",
    "day_or_instant",
    "start_of",
    "one_window",
    "window",
    "Cutoff",
    "DatabaseBusy",
    "DatabaseUnavailable",
    "TopicLost",
]  # what the front doors catch or pass on

T = TypeVar("T")


class Engine(Protocol):
    """What a use case needs of the engine: the CLI's own engine or the API's locked gateway."""

    def execute(self, command: Command) -> Decision: ...

    def read(self, query: Callable[[Database], T]) -> T: ...

    @property
    def seals(self) -> Keys:
        """Opens sealed personal fields for the readers allowed to see them."""
        ...

    def dispatch_states(self, rows: Sequence[dict[str, Any]]) -> dict[str, DispatchState]:
        """Each row's dispatch to its carrier, by intercept id (`DispatchState`)."""
        ...


def result(decision: Decision) -> dict[str, Any]:
    """An intercept after a command: what it is now and what the command did."""
    state = decision.state
    return {
        "intercept_id": str(state.id),
        "status": state.status.value,
        "outcome": decision.outcome.value,
        "conflicts": [c.value for c in state.conflicts],
        "version": state.version,
    }


@dataclass(frozen=True)
class CancelResult:
    intercept_id: str
    outcome: str  # recorded, already_cancelled, duplicate, refused or not_found
    message: str
    rule: str | None = None


@dataclass(frozen=True)
class BatchCancel:
    results: list[CancelResult]

    @property
    def summary(self) -> dict[str, int]:
        done = sum(r.outcome in _CANCELLED for r in self.results)
        return {
            "requested": len(self.results),
            "cancelled_or_already": done,
            "not_cancelled": len(self.results) - done,
        }

    def as_dict(self) -> dict[str, Any]:
        return {"results": [asdict(r) for r in self.results], "summary": self.summary}


_CANCELLED = {
    "recorded": "cancelled",
    "already_cancelled": "already cancelled",
    "duplicate": "already cancelled with this key",
}


class NotVisible(UnknownIntercept):
    """The caller may not act on this intercept; it is answered like an unknown id."""

    rule = "visible_to_key"


def cancel_commands(
    intercept_ids: Sequence[UUID],
    reason: CancelReason,
    note: str | None,
    key: str | None,
    actor: str,
    now: datetime,
) -> list[CancelIntercept]:
    """One cancel per intercept; every one is built, and so checked, before the first runs."""
    return [
        CancelIntercept(
            intercept_id=iid, reason=reason, note=note, key=key, actor=actor, occurred_at=now
        )
        for iid in intercept_ids
    ]


def cancel_many(
    engine: Engine,
    intercept_ids: Sequence[UUID],
    reason: CancelReason,
    note: str | None,
    key: str | None,
    actor: str,
    now: datetime,
) -> BatchCancel:
    """Cancel each intercept (irreversible); every one gets its own result, refusals included."""
    commands = cancel_commands(intercept_ids, reason, note, key, actor, now)
    answers: list[Decision | DomainError] = []
    for command in commands:
        try:
            answers.append(engine.execute(command))
        except DomainError as refusal:
            answers.append(refusal)
    return cancel_results(commands, answers)


def cancel_results(
    commands: Sequence[CancelIntercept], answers: Sequence[Decision | DomainError]
) -> BatchCancel:
    """Each cancel's answer as its result: `NotVisible` is reported as not found."""
    return BatchCancel([_cancel_result(c, a) for c, a in zip(commands, answers, strict=True)])


def _cancel_result(command: CancelIntercept, answer: Decision | DomainError) -> CancelResult:
    iid = str(command.intercept_id)
    if isinstance(answer, NotVisible):
        return CancelResult(iid, "not_found", answer.message, answer.rule)
    if isinstance(answer, DomainError):
        return CancelResult(iid, "refused", answer.message, answer.rule)
    outcome = answer.outcome.value
    return CancelResult(iid, outcome, _CANCELLED[outcome])


class EmptyEvidence(ValueError):
    """An evidence file with no content: nothing to keep or record."""


def attach_evidence(
    engine: Engine,
    store: EvidenceStore,
    stream: BinaryIO,
    intercept_id: UUID,
    kind: EvidenceKind,
    note: str | None,
    key: str | None,
    actor: str,
    now: datetime,
) -> tuple[Decision, Staged]:
    """Keep the file, then record its sha256: an `EvidenceAttached` never lacks its file.

    Raises `evidence_store.TooLarge`, `EmptyEvidence`, pydantic's `ValidationError` (the
    command), `evidence_store.NotKept` (the file could not be stored) or the engine's
    refusal; on every one of them nothing is recorded and no file of this upload is left.
    """
    staged = store.stage(stream)
    try:
        if staged.size == 0:
            raise EmptyEvidence("the evidence file is empty")
        command = AttachEvidence(
            intercept_id=intercept_id,
            kind=kind,
            sha256=staged.sha256,
            uri=store.uri(staged.sha256),
            note=note,
            key=key,
            actor=actor,
            occurred_at=now,
        )
    except BaseException:
        store.discard(staged)
        raise
    with store.kept(staged):
        return engine.execute(command), staged


def summary(engine: Engine, merchant_id: str | None = None) -> dict[str, Any]:
    """Counts by status and conflict, and the fees, over every intercept (or one merchant's)."""
    return engine.read(lambda db: queries.summary(db, merchant_id))


def carrier_journey(engine: Engine) -> dict[str, Any]:
    """What the carriers did with the intercepts: rejections by code, returns, flags."""
    return engine.read(queries.journey)


MIN_RISK_CASES = MIN_CASES


def risk_table(engine: Engine, merchant_id: str, carrier: str | None = None) -> list[dict]:
    """The merchant's own history by (carrier, action, parcel stage, time since pickup): how
    many intercepts, how many the carrier decided, the success rate and the fee of a decided
    one, with "not enough history" below `MIN_RISK_CASES` decided cases."""
    return engine.read(lambda db: queries.risk(db, merchant_id, carrier))


def since_pickup_of(picked_up_at: datetime | None, requested_at: datetime) -> str:
    """The time-since-pickup bucket (`projections.statistics.SINCE_PICKUP`) of a request."""
    if picked_up_at is None:
        return UNKNOWN_PICKUP
    return pickup_bucket(stamp(requested_at), stamp(picked_up_at))


def risk_estimate(
    engine: Engine,
    merchant_id: str,
    carrier: str,
    action: str,
    parcel_stage: str,
    since_pickup: str = UNKNOWN_PICKUP,
) -> dict[str, Any]:
    """Before acting: how likely an intercept is to succeed and what it is likely to cost,
    from the merchant's own decided intercepts of this carrier, action, parcel stage and
    time since pickup, or of every time since pickup when those are too few
    (`projections.statistics.estimate`; `based_on` says which)."""
    if since_pickup not in SINCE_PICKUP_NAMES:
        raise ValueError(
            f"since_pickup must be one of {', '.join(SINCE_PICKUP_NAMES)}, not {since_pickup!r}"
        )
    bucket = {
        "carrier": carrier,
        "action": action,
        "parcel_stage": parcel_stage,
        "since_pickup": since_pickup,
    }
    # Decided cases only: the request itself (and a retry of it) changes nothing.
    rows = engine.read(lambda db: stats_store.risk_sums(db, merchant_id, carrier=carrier))
    return {**bucket, **estimate(rows, bucket)}


def request_risk(engine: Engine, command: Any) -> dict[str, Any]:
    """The risk estimate a request (a `RequestIntercept`) is answered with (`risk_estimate`):
    read at the time of the answer, so a retry answers the same unless the carrier decided
    more of the merchant's intercepts meanwhile."""
    return risk_estimate(
        engine,
        command.merchant_id,
        str(command.carrier),
        command.action.value,
        command.parcel_stage.value,
        since_pickup_of(command.picked_up_at, command.occurred_at),
    )


def request_intercept(engine: Engine, command: Any) -> tuple[Decision, dict[str, Any]]:
    """Record a request, answered with its risk estimate (`request_risk`)."""
    estimate = request_risk(engine, command)
    return engine.execute(command), estimate


class Unreadable(Exception):
    """A stored event cannot be read back; `intercept audit verify` says which and why."""


def intercept_as_of(
    engine: "EventHistory", intercept_id: UUID, at: Cutoff
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The row and timeline at the cutoff, folded from the event store's own history."""
    try:
        events = [e for e in engine.history(intercept_id) if isinstance(e, InterceptEvent)]
    except (ValidationError, ValueError, KeyError) as error:
        raise Unreadable(type(error).__name__) from None
    return point_in_time.intercept_as_of(events, at)


class EventHistory(Protocol):
    def history(self, intercept_id: UUID) -> Sequence[Event]: ...


def dead_letters(settings: Settings) -> list[dict[str, Any]]:
    """Every dead-lettered message: where it sits on the DLQ, where it came from and why."""
    from consumers import dlq_tools
    from engine import kafka_clients

    letters = dlq_tools.read_all(
        kafka_clients.consumer(settings, group_id=None), settings.dlq_topic
    )
    return [dlq_tools.describe(letter) for letter in letters]


def redrive(
    settings: Settings,
    chosen: Callable[[int | None, int | None], bool],
    replacement: bytes | None,
) -> list[dict[str, int | None]]:
    """Send the chosen dead letters (by DLQ partition and offset) back to the events topic."""
    from consumers import dlq_tools
    from engine import kafka_clients

    letters = dlq_tools.read_all(
        kafka_clients.consumer(settings, group_id=None), settings.dlq_topic
    )
    picked = [letter for letter in letters if chosen(letter.dlq_partition, letter.dlq_offset)]
    return dlq_tools.redrive(picked, kafka_clients.producer(settings), settings.topic, replacement)


_LAG_CAP = 10_000


def relay_lag(engine: Any, relay: Any) -> str:
    """Intercept events recorded but not yet published by this relay (counted up to a cap).

    Only intercept events are published (policies and parcel registries are not), so
    the lag counts those, not positions.
    """
    waiting = len(engine.read_intercept_log(relay.positions.get(relay.topic), _LAG_CAP + 1))
    return f"{_LAG_CAP}+" if waiting > _LAG_CAP else str(waiting)


def consumer_lag(consumer: Any) -> str | None:
    """Records on this consumer's partitions not yet applied; None before it knows."""
    kafka = consumer.consumer
    total = 0
    for tp in kafka.assignment():
        high = kafka.highwater(tp)
        if high is None:
            return None
        total += max(0, high - kafka.position(tp))
    return str(total)


# ---- after-sale records ---------------------------------------------------------


class AfterSales(Protocol):
    def execute(self, command: Command) -> Decision: ...

    def after_sale(self, merchant_id: str, after_sale_id: str) -> Any: ...


def report_after_sale(engine: AfterSales, command: Any) -> dict[str, Any]:
    """Record a platform's after-sale report; the answer says what the automatic rule did
    (embedded, it has run by then; otherwise `auto_rule` may still be `pending`)."""
    decision = engine.execute(command)
    found = engine.after_sale(command.merchant_id, command.after_sale_id)
    state = found if found is not None else decision.state
    return {"outcome": decision.outcome.value, "after_sale": state.as_dict()}


def after_sale(engine: AfterSales, merchant_id: str, after_sale_id: str) -> dict[str, Any] | None:
    found = engine.after_sale(merchant_id, after_sale_id)
    return None if found is None else found.as_dict()


def list_after_sales(
    engine: Engine, merchant_id: str | None, auto_rule: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The package center's after-sale records, newest first, with what the rule did."""
    from projections import after_sales

    return engine.read(lambda db: after_sales.list_after_sales(db, merchant_id, limit, auto_rule))
