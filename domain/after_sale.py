"""After-sale records and the automatic intercept rule's decisions on them.

A platform reports an after-sale record (a buyer asks for a refund or a return) with
the shipment it concerns. The record is an aggregate keyed by (merchant, after-sale
id): the same report again records nothing, a new status records a new report. The
automatic rule (engine/automation.py) decides each report exactly once, and its
decision is recorded on this aggregate in the same transaction as the intercept it
requests: `decided_version` is what makes a replayed or redelivered report a no-op.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from pydantic import Field

from domain.commands import ReportAfterSale, RequestIntercept
from domain.decision import Decision, Outcome
from domain.errors import AfterSaleFactsFixed
from domain.event import Event
from domain.past_events import AfterSaleReportedV1
from domain.policy import InterceptPolicy
from domain.types import CarrierCode, Code, Currency, MinorAmount, Moment, Text
from domain.vocabulary import AfterSaleStatus, Flag, ParcelStage

AUTO_ACTOR = "auto-rule"
"""The actor of every command the automatic rule issues."""

WITHDRAWN = frozenset({AfterSaleStatus.CLOSED, AfterSaleStatus.NONE})
"""After-sale statuses that mean the buyer no longer asks for anything back."""


class AfterSaleEvent(Event, abstract=True):
    merchant_id: Code
    after_sale_id: Code
    actor: Code
    occurred_at: Moment


class AfterSaleReported(AfterSaleEvent):
    """Version 2 adds when the carrier picked the parcel up, if the platform knows."""

    class_version = 2
    past_payloads = {1: AfterSaleReportedV1}

    order_id: Code
    tracking_no: Code
    carrier: CarrierCode
    amount_minor: MinorAmount
    currency: Currency
    status: AfterSaleStatus
    parcel_stage: ParcelStage
    picked_up_at: Moment | None = Field(
        default=None,
        description="When the carrier picked the parcel up, as the platform said; never after "
        "the report (the command refuses it). Null when not known, and for every event "
        "before version 2.",
    )

    @classmethod
    def upcast_v1_v2(cls, state: dict[str, Any]) -> None:
        # Version 1 did not ask when the parcel was picked up.
        state["picked_up_at"] = None


class AutoInterceptRequested(AfterSaleEvent):
    """The automatic rule requested the intercept for the report at `report_version`."""

    report_version: int = Field(ge=1, le=2**62)
    intercept_id: UUID


class AutoInterceptDeclined(AfterSaleEvent):
    """The automatic rule did not request an intercept; `rule` names what stopped it."""

    report_version: int = Field(ge=1, le=2**62)
    rule: Code
    message: Text


class AutoInterceptFollowed(AfterSaleEvent):
    """A later report passed on to the automatic intercept: its after-sale status, and the
    flag raised when the buyer withdrew while the intercept was open (never a cancel)."""

    report_version: int = Field(ge=1, le=2**62)
    intercept_id: UUID
    flagged: Flag | None = None


@dataclass(frozen=True)
class AfterSale:
    id: UUID
    version: int
    report: AfterSaleReported
    report_version: int
    reports: int
    decided_version: int = 0
    intercept_id: UUID | None = None
    outcome: str | None = None  # requested or declined (a follow-up keeps it)
    rule: str | None = None
    message: str | None = None

    @property
    def undecided(self) -> bool:
        return self.decided_version < self.report_version

    def as_dict(self) -> dict[str, Any]:
        r = self.report
        return {
            "after_sale_id": r.after_sale_id,
            "merchant_id": r.merchant_id,
            "order_id": r.order_id,
            "tracking_no": r.tracking_no,
            "carrier": str(r.carrier),
            "amount_minor": r.amount_minor,
            "currency": r.currency,
            "status": r.status.value,
            "parcel_stage": r.parcel_stage.value,
            "picked_up_at": r.picked_up_at.isoformat() if r.picked_up_at else None,
            "reports": self.reports,
            "auto_rule": self.outcome if not self.undecided else "pending",
            "stopped_by": self.rule,
            "message": self.message,
            "intercept_id": str(self.intercept_id) if self.intercept_id else None,
            "version": self.version,
        }


# ---- deciding -------------------------------------------------------------


def report(
    state: AfterSale | None, command: ReportAfterSale, *, after_sale_id: UUID, now: Moment
) -> Decision[AfterSale | None]:
    if state is not None:
        fixed = ("order_id", "tracking_no", "carrier", "amount_minor", "currency")
        changed = [f for f in fixed if getattr(state.report, f) != getattr(command, f)]
        if changed:
            raise AfterSaleFactsFixed(
                f"after-sale {command.after_sale_id} of merchant {command.merchant_id} was "
                f"reported with other {', '.join(changed)}; an after-sale concerns one "
                "order and one parcel"
            )
        if (state.report.status, state.report.parcel_stage) == (
            command.status,
            command.parcel_stage,
        ):
            return Decision((), Outcome.UNCHANGED, state)
    event = AfterSaleReported(
        originator_id=after_sale_id,
        originator_version=(state.version if state else 0) + 1,
        recorded_at=now,
        merchant_id=command.merchant_id,
        after_sale_id=command.after_sale_id,
        actor=command.actor,
        occurred_at=command.occurred_at,
        order_id=command.order_id,
        tracking_no=command.tracking_no,
        carrier=command.carrier,
        amount_minor=command.amount_minor,
        currency=command.currency,
        status=command.status,
        parcel_stage=command.parcel_stage,
        picked_up_at=command.picked_up_at,
    )
    return Decision((event,), Outcome.RECORDED, evolve(state, event))


class Stopped(Exception):
    """What keeps the automatic rule from requesting: a rule name and its words."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


def auto_request(
    state: AfterSale, policy: InterceptPolicy | None, occurred_at: Moment
) -> RequestIntercept:
    """The request the automatic rule makes for the latest report, or `Stopped` saying why
    not. The policy's interval and carriers and the parcel's rules are checked where every
    request is (domain/intercept.py), and their refusals become `Stopped` too."""
    r = state.report
    if policy is None or not policy.auto_intercept:
        raise Stopped(
            "auto_intercept_off",
            f"merchant {r.merchant_id} has no automatic intercept rule",
        )
    if r.status not in policy.auto_intercept:
        listed = ", ".join(policy.auto_intercept)
        raise Stopped(
            "auto_intercept_status",
            f"after-sale status {r.status} is not one the rule acts on ({listed})",
        )
    if r.parcel_stage is not ParcelStage.IN_TRANSIT:
        raise Stopped(
            "auto_intercept_in_transit",
            f"the parcel is {r.parcel_stage}, not in transit: the rule requests only then",
        )
    return RequestIntercept(
        merchant_id=r.merchant_id,
        order_id=r.order_id,
        tracking_no=r.tracking_no,
        carrier=r.carrier,
        amount_minor=r.amount_minor,
        currency=r.currency,
        request_reason=f"after_sale_{r.status.value}",
        after_sale_status=r.status,
        parcel_stage=r.parcel_stage,
        picked_up_at=r.picked_up_at,
        key=auto_key(r.after_sale_id),
        actor=AUTO_ACTOR,
        occurred_at=occurred_at,
    )


def auto_key(after_sale_id: str) -> str:
    """The idempotency key of the automatic request: one request per after-sale, ever."""
    return f"after-sale:{after_sale_id}"


def _decided(state: AfterSale, cls: type[AfterSaleEvent], now: Moment, **fields: Any) -> Event:
    return cls.model_validate(
        {
            "originator_id": state.id,
            "originator_version": state.version + 1,
            "recorded_at": now,
            "merchant_id": state.report.merchant_id,
            "after_sale_id": state.report.after_sale_id,
            "actor": AUTO_ACTOR,
            "report_version": state.report_version,
            **fields,
        }
    )


def requested(state: AfterSale, intercept_id: UUID, occurred_at: Moment, now: Moment) -> Event:
    return _decided(
        state, AutoInterceptRequested, now, occurred_at=occurred_at, intercept_id=intercept_id
    )


def declined(state: AfterSale, stopped: Stopped, occurred_at: Moment, now: Moment) -> Event:
    return _decided(
        state,
        AutoInterceptDeclined,
        now,
        occurred_at=occurred_at,
        rule=stopped.rule,
        message=stopped.message[:1000],
    )


def followed(state: AfterSale, flagged: Flag | None, occurred_at: Moment, now: Moment) -> Event:
    assert state.intercept_id is not None
    return _decided(
        state,
        AutoInterceptFollowed,
        now,
        occurred_at=occurred_at,
        intercept_id=state.intercept_id,
        flagged=flagged,
    )


# ---- evolving -------------------------------------------------------------


def evolve(state: AfterSale | None, event: Event) -> AfterSale:
    if isinstance(event, AfterSaleReported):
        if state is None:
            return AfterSale(
                id=event.originator_id,
                version=event.originator_version,
                report=event,
                report_version=event.originator_version,
                reports=1,
            )
        return replace(
            state,
            version=event.originator_version,
            report=event,
            report_version=event.originator_version,
            reports=state.reports + 1,
        )
    if state is None:
        raise ValueError(f"{event.event_type()} before AfterSaleReported")
    changes: dict[str, Any] = {"version": event.originator_version}
    if isinstance(event, AutoInterceptRequested):
        changes.update(intercept_id=event.intercept_id, outcome="requested", rule=None)
        changes.update(message=None)
    elif isinstance(event, AutoInterceptDeclined):
        changes.update(outcome="declined", rule=event.rule, message=event.message)
    if isinstance(event, AutoInterceptRequested | AutoInterceptDeclined | AutoInterceptFollowed):
        changes["decided_version"] = event.report_version
    return replace(state, **changes)


def project_after_sale(state: AfterSale | None, events: Iterable[Event]) -> AfterSale | None:
    for event in events:
        state = evolve(state, event)
    return state
