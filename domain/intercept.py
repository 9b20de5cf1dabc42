"""The InterceptRequest aggregate: its state, its rules, and how events change it.

Deciding validates and computes, then makes at most one event; evolving only
moves the state along what an event says. Replay never reads a clock.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any, TypeVar
from uuid import UUID

from domain import eligibility, lifecycle
from domain.commands import (
    AttachEvidence,
    CancelIntercept,
    ChangeAfterSaleStatus,
    ChargeFee,
    Command,
    EraseSubject,
    FlagIntercept,
    InterceptCommand,
    MarkStalled,
    RecordCarrierUnreachable,
    ReportCarrierOutcome,
    RequestIntercept,
)
from domain.decision import Decision, Outcome
from domain.errors import (
    CarrierMismatch,
    CurrencyMismatch,
    IdempotencyKeyReused,
    NotCancellable,
)
from domain.events import (
    CARRIER_EVENTS,
    AfterSaleStatusChanged,
    Cancelled,
    CarrierEvent,
    CarrierRejected,
    CarrierUnreachable,
    Erased,
    EvidenceAttached,
    FeeCharged,
    InterceptEvent,
    InterceptFlagged,
    InterceptStalled,
    Requested,
)
from domain.parcel import admit_request
from domain.policy import InterceptPolicy
from domain.types import Moment
from domain.vocabulary import (
    AfterSaleStatus,
    CarrierReport,
    Conflict,
    Deadline,
    Flag,
    RejectionCode,
    Status,
)

C = TypeVar("C", bound=InterceptCommand)


@dataclass(frozen=True)
class InterceptRequest:
    id: UUID
    version: int
    request: Requested
    status: Status
    carrier_stage: CarrierReport | None
    conflicts: tuple[Conflict, ...]
    after_sale_status: AfterSaleStatus
    fees_minor: int
    evidence: tuple[str, ...]
    keys: Mapping[str, InterceptEvent]
    erased: frozenset[str] = frozenset()
    """The data subjects whose personal data in this intercept was erased."""
    rejection_code: RejectionCode | None = None
    flags: frozenset[Flag] = frozenset()
    succeeded: bool = False
    """Whether any carrier report so far said the parcel was stopped (`lifecycle.is_success`)."""
    stalled: tuple[Deadline, ...] = ()

    @property
    def merchant_id(self) -> str:
        return self.request.merchant_id

    @property
    def carrier(self) -> str:
        return self.request.carrier

    @property
    def was_intercepted(self) -> bool:
        """The carrier's last word is that the parcel was stopped (the parcel's rules)."""
        return lifecycle.is_success(self.carrier_stage, self.rejection_code)


# ---- deciding -------------------------------------------------------------


def request(
    command: RequestIntercept,
    *,
    intercept_id: UUID,
    existing: InterceptRequest | None,
    policy: InterceptPolicy | None,
    parcel_history: Sequence[InterceptRequest],
    now: Moment,
) -> Decision[InterceptRequest]:
    """Open an intercept; `policy` may be None only when `existing` is (a retry needs none)."""
    if existing is not None:
        return _repeat(existing, command, existing.request, Requested)
    if policy is None:
        raise TypeError("a new request is decided against the merchant's policy")
    policy.admits(command)
    parcel = f"{command.carrier} {command.tracking_no}"
    eligibility.admit_stage(command.parcel_stage, parcel=parcel)
    admit_request(parcel, parcel_history)
    event = Requested(
        originator_id=intercept_id,
        originator_version=1,
        recorded_at=now,
        idempotency_key=command.key,
        actor=command.actor,
        occurred_at=command.occurred_at,
        **command.recorded(),
    )
    return Decision((event,), Outcome.RECORDED, _requested(event))


def cancel(
    state: InterceptRequest, command: CancelIntercept, now: Moment
) -> Decision[InterceptRequest]:
    if command.key is not None and command.key in state.keys:
        return _repeat(state, command, state.keys[command.key], Cancelled)
    if state.status is Status.CANCELLED:
        return Decision((), Outcome.ALREADY_CANCELLED, state)
    if not lifecycle.is_cancellable(state.status):
        raise NotCancellable(
            f"intercept {state.id} is {state.status} and can no longer be cancelled; "
            "only a requested or accepted intercept can be"
        )
    return _record(state, Cancelled, command, now)


def report(
    state: InterceptRequest, command: ReportCarrierOutcome, now: Moment
) -> Decision[InterceptRequest]:
    if command.carrier != state.carrier:
        raise CarrierMismatch(
            f"intercept {state.id} is with carrier {state.carrier}, "
            f"not {command.carrier}; a carrier reports only on its own parcels"
        )
    event_class = CARRIER_EVENTS[command.report]
    if command.key is not None and command.key in state.keys:
        first = state.keys[command.key]
        return _repeat(
            state, command, first, event_class, carrier=state.carrier, report=command.report
        )
    ignored = lifecycle.ignored_report(state.carrier_stage, command.report)
    if ignored is not None:
        return Decision((), Outcome(ignored), state)
    conflict = lifecycle.conflict_of(state.status, state.carrier_stage, command.report)
    return _record(state, event_class, command, now, conflict=conflict)


def record_unreachable(
    state: InterceptRequest, command: RecordCarrierUnreachable, now: Moment
) -> Decision[InterceptRequest]:
    if command.key is not None and command.key in state.keys:
        return _repeat(state, command, state.keys[command.key], CarrierUnreachable)
    return _record(state, CarrierUnreachable, command, now)


def charge_fee(
    state: InterceptRequest, command: ChargeFee, now: Moment
) -> Decision[InterceptRequest]:
    if command.key is not None and command.key in state.keys:
        return _repeat(state, command, state.keys[command.key], FeeCharged)
    if command.currency != state.request.currency:
        raise CurrencyMismatch(
            f"intercept {state.id} is in {state.request.currency}; "
            f"a fee in {command.currency} cannot be added to it"
        )
    return _record(state, FeeCharged, command, now)


def attach_evidence(
    state: InterceptRequest, command: AttachEvidence, now: Moment
) -> Decision[InterceptRequest]:
    if command.key is not None and command.key in state.keys:
        return _repeat(state, command, state.keys[command.key], EvidenceAttached)
    if command.sha256 in state.evidence:
        return Decision((), Outcome.DUPLICATE, state)
    return _record(state, EvidenceAttached, command, now)


def change_after_sale_status(
    state: InterceptRequest, command: ChangeAfterSaleStatus, now: Moment
) -> Decision[InterceptRequest]:
    if command.key is not None and command.key in state.keys:
        return _repeat(state, command, state.keys[command.key], AfterSaleStatusChanged)
    if command.after_sale_status is state.after_sale_status:
        return Decision((), Outcome.UNCHANGED, state)
    return _record(state, AfterSaleStatusChanged, command, now)


def flag(
    state: InterceptRequest, command: FlagIntercept, now: Moment
) -> Decision[InterceptRequest]:
    if command.key is not None and command.key in state.keys:
        return _repeat(state, command, state.keys[command.key], InterceptFlagged)
    if command.flag in state.flags:
        return Decision((), Outcome.UNCHANGED, state)
    return _record(state, InterceptFlagged, command, now)


def still_waiting(state: InterceptRequest, deadline: Deadline) -> bool:
    """Whether the carrier still owes what `deadline` waits for: an acceptance (or any
    report) for ACCEPTANCE, an outcome for OUTCOME."""
    if not lifecycle.is_open(state.status):
        return False
    return state.carrier_stage is None if deadline is Deadline.ACCEPTANCE else True


def mark_stalled(
    state: InterceptRequest, command: MarkStalled, now: Moment
) -> Decision[InterceptRequest]:
    """Once per deadline, and only while the carrier still owes it and the deadline, counted
    from the request, has passed at the command's time (the live process's clock)."""
    if command.key is not None and command.key in state.keys:
        return _repeat(state, command, state.keys[command.key], InterceptStalled)
    due = state.request.occurred_at + timedelta(minutes=command.limit_minutes)
    if (
        command.deadline in state.stalled
        or not still_waiting(state, command.deadline)
        or command.occurred_at < due
    ):
        return Decision((), Outcome.UNCHANGED, state)
    return _record(state, InterceptStalled, command, now)


Decide = Callable[[InterceptRequest, C, Moment], Decision[InterceptRequest]]


def erase(
    state: InterceptRequest, command: EraseSubject, now: Moment
) -> Decision[InterceptRequest]:
    if command.subject in state.erased:
        return Decision((), Outcome.UNCHANGED, state)
    return _record(state, Erased, command, now)


DECIDERS: Mapping[type[InterceptCommand], Decide[Any]] = MappingProxyType(
    {
        CancelIntercept: cancel,
        ReportCarrierOutcome: report,
        ChargeFee: charge_fee,
        AttachEvidence: attach_evidence,
        ChangeAfterSaleStatus: change_after_sale_status,
        EraseSubject: erase,
        FlagIntercept: flag,
        MarkStalled: mark_stalled,
        RecordCarrierUnreachable: record_unreachable,
    }
)
"""How each command on an existing intercept is decided, by the command's type."""


def decide(
    state: InterceptRequest, command: InterceptCommand, now: Moment
) -> Decision[InterceptRequest]:
    """Decide any command on an existing intercept: one lookup by type, no isinstance chain."""
    return DECIDERS[type(command)](state, command, now)


def _record(
    state: InterceptRequest,
    event_class: type[InterceptEvent],
    command: InterceptCommand,
    now: Moment,
    **decided: Any,
) -> Decision[InterceptRequest]:
    """Record what the command asks (its `recorded()` fields) and what deciding added."""
    event = event_class(
        originator_id=state.id,
        originator_version=state.version + 1,
        recorded_at=now,
        merchant_id=state.merchant_id,
        actor=command.actor,
        occurred_at=command.occurred_at,
        idempotency_key=command.key,
        **command.recorded(),
        **decided,
    )
    return Decision((event,), Outcome.RECORDED, evolve(state, event))


def _repeat(
    state: InterceptRequest,
    command: Command,
    first: InterceptEvent,
    event_class: type[InterceptEvent],
    **implied: Any,
) -> Decision[InterceptRequest]:
    """A command under an idempotency key recorded before as `first`: the same command, or
    a misuse of the key. A retried request repeats the intercept's own request."""
    if type(first) is not event_class or not command.recorded_by(first, **implied):
        raise IdempotencyKeyReused(
            f"idempotency key {command.key!r} was already used for a different command "
            f"on intercept {state.id}; use a new key for a new command"
        )
    return Decision((), Outcome.DUPLICATE, state)


# ---- evolving -------------------------------------------------------------
# Applying an event only assigns what it says; where a status goes is lifecycle's table.


def _requested(e: Requested) -> InterceptRequest:
    return InterceptRequest(
        id=e.originator_id,
        version=e.originator_version,
        request=e,
        status=Status.REQUESTED,
        carrier_stage=None,
        conflicts=(),
        after_sale_status=e.after_sale_status,
        fees_minor=0,
        evidence=(),
        keys=MappingProxyType({e.idempotency_key: e} if e.idempotency_key else {}),
        flags=eligibility.flags_at_stage(e.parcel_stage),
    )


def _carrier(s: InterceptRequest, e: CarrierEvent) -> dict[str, Any]:
    code = e.code if isinstance(e, CarrierRejected) else None
    succeeded = s.succeeded or lifecycle.is_success(e.report, code)
    changes: dict[str, Any] = {
        "carrier_stage": e.report,
        "status": lifecycle.status_after(s.status, lifecycle.move_of(e.report)),
        "rejection_code": code if code is not None else s.rejection_code,
        "succeeded": succeeded,
        "flags": lifecycle.flags_after_report(s.flags, succeeded=succeeded),
    }
    if e.conflict is not None:
        changes["conflicts"] = (*s.conflicts, e.conflict)
    return changes


def _cancelled(s: InterceptRequest, e: Cancelled) -> dict[str, Any]:
    return {"status": lifecycle.status_after(s.status, lifecycle.Move.CANCEL)}


def _fee(s: InterceptRequest, e: FeeCharged) -> dict[str, Any]:
    return {
        "fees_minor": s.fees_minor + e.amount_minor,
        "flags": lifecycle.flags_after_fee(s.flags, e.kind, succeeded=s.succeeded),
    }


def _unreachable(s: InterceptRequest, e: CarrierUnreachable) -> dict[str, Any]:
    return {"flags": lifecycle.flags_after_unreachable(s.flags)}


def _evidence(s: InterceptRequest, e: EvidenceAttached) -> dict[str, Any]:
    return {"evidence": (*s.evidence, e.sha256)}


def _after_sale(s: InterceptRequest, e: AfterSaleStatusChanged) -> dict[str, Any]:
    return {"after_sale_status": e.after_sale_status}


def _erased(s: InterceptRequest, e: Erased) -> dict[str, Any]:
    return {"erased": s.erased | {e.subject}}


def _flagged(s: InterceptRequest, e: InterceptFlagged) -> dict[str, Any]:
    return {"flags": s.flags | {e.flag}}


def _stalled(s: InterceptRequest, e: InterceptStalled) -> dict[str, Any]:
    return {
        "stalled": (*s.stalled, e.deadline),
        "flags": s.flags | {Flag.STALLED},
    }


_APPLY: Mapping[type[InterceptEvent], Callable[[InterceptRequest, Any], dict[str, Any]]] = (
    MappingProxyType(
        {
            **dict.fromkeys(CARRIER_EVENTS.values(), _carrier),
            Cancelled: _cancelled,
            FeeCharged: _fee,
            EvidenceAttached: _evidence,
            AfterSaleStatusChanged: _after_sale,
            Erased: _erased,
            InterceptFlagged: _flagged,
            InterceptStalled: _stalled,
            CarrierUnreachable: _unreachable,
        }
    )
)
"""What each event after the request changes in the state, by the event's type."""


def evolve(state: InterceptRequest | None, event: InterceptEvent) -> InterceptRequest:
    if isinstance(event, Requested):
        return _requested(event)
    if state is None:
        raise ValueError(f"{event.event_type()} before Requested: not an intercept's history")
    changes = _APPLY[type(event)](state, event)
    if event.idempotency_key:
        changes["keys"] = MappingProxyType({**state.keys, event.idempotency_key: event})
    return replace(state, version=event.originator_version, **changes)


def project_intercept(
    state: InterceptRequest | None, events: Iterable[InterceptEvent]
) -> InterceptRequest | None:
    for event in events:
        state = evolve(state, event)
    return state
