"""The InterceptRequest aggregate: its state, its rules, and how events change it.

Deciding validates and computes, then makes at most one event; evolving only
moves the state along what an event says. Replay never reads a clock.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from uuid import UUID

from domain.commands import (
    AttachEvidence,
    CancelIntercept,
    ChangeAfterSaleStatus,
    ChargeFee,
    Command,
    ReportCarrierOutcome,
    RequestIntercept,
)
from domain.decision import Decision, Outcome
from domain.errors import (
    CarrierMismatch,
    CurrencyMismatch,
    IdempotencyKeyReused,
    NotCancellable,
    ParcelAlreadyIntercepted,
    ParcelHasOpenIntercept,
)
from domain.events import (
    AfterSaleStatusChanged,
    Cancelled,
    CarrierAccepted,
    CarrierConfirmed,
    CarrierEvent,
    CarrierFailed,
    CarrierReleased,
    EvidenceAttached,
    FeeCharged,
    InterceptEvent,
    Requested,
)
from domain.policy import InterceptPolicy
from domain.types import Moment
from domain.vocabulary import AfterSaleStatus, Carrier, CarrierReport, Conflict, Status

_REPORT_EVENTS: dict[CarrierReport, type[CarrierEvent]] = {
    CarrierReport.ACCEPTED: CarrierAccepted,
    CarrierReport.CONFIRMED: CarrierConfirmed,
    CarrierReport.FAILED: CarrierFailed,
    CarrierReport.RELEASED: CarrierReleased,
}
_CARRIER_OUTCOMES = frozenset(
    {CarrierReport.CONFIRMED, CarrierReport.FAILED, CarrierReport.RELEASED}
)


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

    @property
    def merchant_id(self) -> str:
        return self.request.merchant_id

    @property
    def carrier(self) -> Carrier:
        return self.request.carrier

    @property
    def was_intercepted(self) -> bool:
        return self.carrier_stage is CarrierReport.CONFIRMED


# ---- deciding -------------------------------------------------------------


def request(
    command: RequestIntercept,
    *,
    intercept_id: UUID,
    existing: InterceptRequest | None,
    policy: InterceptPolicy,
    parcel_history: Sequence[InterceptRequest],
    now: Moment,
) -> Decision[InterceptRequest]:
    if existing is not None:
        return _repeat(existing, command, Requested, key=command.key or "")
    policy.admits(command)
    for earlier in parcel_history:
        if earlier.was_intercepted:
            raise ParcelAlreadyIntercepted(
                f"parcel {command.carrier} {command.tracking_no} was already intercepted "
                f"(intercept {earlier.id}); it cannot be intercepted again"
            )
        if earlier.status.is_open:
            raise ParcelHasOpenIntercept(
                f"parcel {command.carrier} {command.tracking_no} already has an open "
                f"intercept {earlier.id} ({earlier.status}); cancel it or wait for the carrier"
            )
    event = Requested(
        originator_id=intercept_id,
        originator_version=1,
        recorded_at=now,
        idempotency_key=command.key,
        actor=command.actor,
        occurred_at=command.occurred_at,
        **command.substance(),
    )
    return Decision((event,), Outcome.RECORDED, evolve(None, event))


def cancel(state: InterceptRequest, command: CancelIntercept, now: Moment) -> Decision:
    if command.key in state.keys:
        return _repeat(state, command, Cancelled, key=command.key)
    if state.status is Status.CANCELLED:
        return Decision((), Outcome.ALREADY_CANCELLED, state)
    if not state.status.is_cancellable:
        raise NotCancellable(
            f"intercept {state.id} is {state.status} and can no longer be cancelled; "
            "only a requested or accepted intercept can be"
        )
    return _record(state, Cancelled, command, now, reason=command.reason, note=command.note)


def report(state: InterceptRequest, command: ReportCarrierOutcome, now: Moment) -> Decision:
    if command.carrier is not state.carrier:
        raise CarrierMismatch(
            f"intercept {state.id} is with carrier {state.carrier}, "
            f"not {command.carrier}; a carrier reports only on its own parcels"
        )
    event_class = _REPORT_EVENTS[command.report]
    if command.key in state.keys:
        return _repeat(state, command, event_class, key=command.key)
    stage = state.carrier_stage
    if stage is command.report:
        return Decision((), Outcome.DUPLICATE, state)
    if command.report is CarrierReport.ACCEPTED and stage is not None:
        return Decision((), Outcome.STALE, state)
    fields = {"carrier_ref": command.carrier_ref, "conflict": _conflict(state, command.report)}
    if command.reason is not None:
        fields["reason"] = command.reason
    return _record(state, event_class, command, now, **fields)


def _conflict(state: InterceptRequest, report: CarrierReport) -> Conflict | None:
    if report is CarrierReport.ACCEPTED:
        return None
    if state.carrier_stage in _CARRIER_OUTCOMES:
        return Conflict.CONTRADICTORY_CARRIER_REPORTS
    if report is CarrierReport.CONFIRMED and state.status is Status.CANCELLED:
        return Conflict.INTERCEPTED_AFTER_CANCEL
    if report is CarrierReport.RELEASED and state.status is not Status.CANCELLED:
        return Conflict.RELEASED_WITHOUT_CANCEL
    return None


def charge_fee(state: InterceptRequest, command: ChargeFee, now: Moment) -> Decision:
    if command.key in state.keys:
        return _repeat(state, command, FeeCharged, key=command.key)
    if command.currency != state.request.currency:
        raise CurrencyMismatch(
            f"intercept {state.id} is in {state.request.currency}; "
            f"a fee in {command.currency} cannot be added to it"
        )
    return _record(state, FeeCharged, command, now, **command.substance())


def attach_evidence(state: InterceptRequest, command: AttachEvidence, now: Moment) -> Decision:
    if command.key in state.keys:
        return _repeat(state, command, EvidenceAttached, key=command.key)
    if command.sha256 in state.evidence:
        return Decision((), Outcome.DUPLICATE, state)
    return _record(state, EvidenceAttached, command, now, **command.substance())


def change_after_sale_status(
    state: InterceptRequest, command: ChangeAfterSaleStatus, now: Moment
) -> Decision:
    if command.key in state.keys:
        return _repeat(state, command, AfterSaleStatusChanged, key=command.key)
    if command.after_sale_status is state.after_sale_status:
        return Decision((), Outcome.UNCHANGED, state)
    return _record(
        state, AfterSaleStatusChanged, command, now, after_sale_status=command.after_sale_status
    )


def _record(state, event_class, command: Command, now: Moment, **fields) -> Decision:
    event = event_class(
        originator_id=state.id,
        originator_version=state.version + 1,
        recorded_at=now,
        merchant_id=state.merchant_id,
        actor=command.actor,
        occurred_at=command.occurred_at,
        idempotency_key=command.key,
        **fields,
    )
    return Decision((event,), Outcome.RECORDED, evolve(state, event))


def _repeat(state: InterceptRequest, command: Command, event_class, *, key: str) -> Decision:
    """A command whose idempotency key was seen before: same command or a misuse."""
    first = state.keys.get(key)
    if first is None and isinstance(command, RequestIntercept):
        first = state.request
    payload = first.payload() if first is not None else {}
    same = type(first) is event_class and all(
        payload[name] == value for name, value in command.substance().items() if name in payload
    )
    if not same:
        raise IdempotencyKeyReused(
            f"idempotency key {key!r} was already used for a different command "
            f"on intercept {state.id}; use a new key for a new command"
        )
    return Decision((), Outcome.DUPLICATE, state)


# ---- evolving -------------------------------------------------------------


def _requested(_: None, e: Requested) -> InterceptRequest:
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
    )


def _carrier(report: CarrierReport, moves_open_to: Status | None):
    def apply(s: InterceptRequest, e: CarrierEvent) -> dict:
        changes: dict = {"carrier_stage": report}
        if moves_open_to is not None and s.status.is_open:
            changes["status"] = moves_open_to
        if e.conflict is not None:
            changes["conflicts"] = (*s.conflicts, e.conflict)
        return changes

    return apply


_APPLY: dict[type, Callable[[InterceptRequest, InterceptEvent], dict]] = {
    CarrierAccepted: lambda s, e: {
        "carrier_stage": CarrierReport.ACCEPTED,
        "status": Status.ACCEPTED if s.status is Status.REQUESTED else s.status,
    },
    CarrierConfirmed: _carrier(CarrierReport.CONFIRMED, Status.INTERCEPTED),
    CarrierFailed: _carrier(CarrierReport.FAILED, Status.FAILED),
    CarrierReleased: _carrier(CarrierReport.RELEASED, None),
    Cancelled: lambda s, e: {"status": Status.CANCELLED},
    FeeCharged: lambda s, e: {"fees_minor": s.fees_minor + e.amount_minor},
    EvidenceAttached: lambda s, e: {"evidence": (*s.evidence, e.sha256)},
    AfterSaleStatusChanged: lambda s, e: {"after_sale_status": e.after_sale_status},
}


def evolve(state: InterceptRequest | None, event: InterceptEvent) -> InterceptRequest:
    if isinstance(event, Requested):
        return _requested(state, event)
    assert state is not None, f"{event.event_type()} before Requested"
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
