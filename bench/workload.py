"""What the benchmarks feed the engine: commands, and ready-made histories.

Histories are written straight through the application's `save` in large
batches (no deciding, no projecting): a million intercepts would otherwise
take longer to make than to measure. The events are the same kinds and sizes
the engine records: a request with its parcel registration, a carrier
acceptance, then a confirmation, a failure or a cancel.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.commands import CancelIntercept, RequestIntercept, SetPolicy
from domain.events import (
    Cancelled,
    CarrierAccepted,
    CarrierConfirmed,
    CarrierFailed,
    Requested,
)
from domain.ids import intercept_id, parcel_id, policy_id
from domain.parcel import InterceptOpened
from domain.policy import PolicySet
from domain.vocabulary import CancelReason, Carrier, FailureReason

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MERCHANTS = tuple(f"m-{n:03d}" for n in range(1, 21))
CARRIERS = (Carrier.ZTO, Carrier.SF, Carrier.YTO, Carrier.JT)


class StepClock:
    """The engine's clock in a benchmark: deterministic, one millisecond per reading."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def policies(at: datetime = T0) -> list[SetPolicy]:
    return [
        SetPolicy(
            merchant_id=m,
            min_amount_minor=0,
            max_amount_minor=10_000_000,
            carriers=frozenset(CARRIERS),
            actor="ops",
            occurred_at=at,
        )
        for m in MERCHANTS
    ]


def request(n: int, run: str = "r") -> RequestIntercept:
    merchant = MERCHANTS[n % len(MERCHANTS)]
    carrier = CARRIERS[n % len(CARRIERS)]
    return RequestIntercept(
        merchant_id=merchant,
        order_id=f"PDD{run}{n:09d}",
        tracking_no=f"{carrier}{run}{n:010d}",
        carrier=carrier,
        amount_minor=1990 + n % 50_000,
        request_reason="buyer_refund",
        actor=f"{merchant}-staff",
        occurred_at=T0,
        key=f"{run}-{n}",
    )


def cancel(iid: UUID, merchant: str) -> CancelIntercept:
    return CancelIntercept(
        intercept_id=iid,
        reason=CancelReason.BUYER_CHANGED_MIND,
        actor=f"{merchant}-staff",
        occurred_at=T0,
    )


def cancel_for(command: RequestIntercept) -> CancelIntercept:
    return cancel(intercept_id(command.merchant_id, command.key or ""), command.merchant_id)


@dataclass
class History:
    intercepts: int = 0
    events: int = 0  # everything in the notification log
    intercept_events: int = 0  # what the projections apply


def _policy_events(at: datetime) -> list:
    return [
        PolicySet(
            originator_id=policy_id(m),
            originator_version=1,
            recorded_at=at,
            merchant_id=m,
            min_amount_minor=0,
            max_amount_minor=10_000_000,
            carriers=tuple(sorted(CARRIERS)),
            actor="ops",
            occurred_at=at,
        )
        for m in MERCHANTS
    ]


def intercept_events(n: int, run: str, at: datetime) -> list:
    """One intercept's history: request, parcel registration, acceptance, an outcome."""
    command = request(n, run)
    iid = intercept_id(command.merchant_id, command.key or "")
    requested = Requested(
        originator_id=iid,
        originator_version=1,
        recorded_at=at,
        idempotency_key=command.key,
        actor=command.actor,
        occurred_at=at,
        **command.recorded(),
    )
    opened = InterceptOpened(
        originator_id=parcel_id(command.carrier, command.tracking_no),
        originator_version=1,
        recorded_at=at,
        carrier=command.carrier,
        tracking_no=command.tracking_no,
        intercept_id=iid,
    )
    common = dict(originator_id=iid, merchant_id=command.merchant_id)
    later = at + timedelta(minutes=30)
    accepted = CarrierAccepted(
        **common,
        originator_version=2,
        recorded_at=later,
        actor="carrier-api",
        occurred_at=later,
        carrier_ref=f"ref-{n}",
    )
    end = at + timedelta(hours=6)
    if n % 4 == 0:
        last = Cancelled(
            **common,
            originator_version=3,
            recorded_at=end,
            actor=command.actor,
            occurred_at=end,
            reason=CancelReason.MISOPERATION,
        )
    elif n % 4 == 3:
        last = CarrierFailed(
            **common,
            originator_version=3,
            recorded_at=end,
            actor="carrier-api",
            occurred_at=end,
            reason=FailureReason.TOO_LATE_OUT_FOR_DELIVERY,
        )
    else:
        last = CarrierConfirmed(
            **common,
            originator_version=3,
            recorded_at=end,
            actor="carrier-api",
            occurred_at=end,
            carrier_ref=f"ref-{n}",
        )
    return [requested, opened, accepted, last]


def write_history(
    app, intercepts: int, run: str = "h", chunk: int = 2500, on_chunk=None
) -> History:
    """Record `intercepts` intercept histories, `chunk` intercepts per transaction."""
    history = History()
    app.save(*_policy_events(T0))
    history.events += len(MERCHANTS)
    for first in range(0, intercepts, chunk):
        events = []
        for n in range(first, min(first + chunk, intercepts)):
            events.extend(intercept_events(n, run, T0 + timedelta(seconds=n)))
        app.save(*events)
        history.intercepts += min(chunk, intercepts - first)
        history.events += len(events)
        history.intercept_events += sum(not isinstance(e, InterceptOpened) for e in events)
        if on_chunk:
            on_chunk(history)
    return history
