"""The events of an intercept request. Their type names are a published contract."""

from typing import Any, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from domain.event import Event, event_classes
from domain.past_events import RequestedV1
from domain.rule_schemas import (
    OTHER_CANCEL_HAS_NOTE,
    REDIRECT_HAS_ADDRESS,
    require_note_for_other,
    require_redirect_address,
)
from domain.types import Code, Currency, IdempotencyKey, MinorAmount, Moment, Sha256, Text
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    Carrier,
    CarrierReport,
    Conflict,
    Deadline,
    EvidenceKind,
    FailureReason,
    FeeKind,
    Flag,
    ParcelStage,
    Payer,
)


class InterceptEvent(Event, abstract=True):
    """Something that happened to one intercept request."""

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None


class Requested(InterceptEvent):
    """Version 2 added the carrier's quoted fee and the parcel's stage (see docs/events.md)."""

    model_config = ConfigDict(json_schema_extra=REDIRECT_HAS_ADDRESS)
    class_version = 2
    past_payloads = {1: RequestedV1}

    order_id: Code
    tracking_no: Code
    carrier: Carrier
    amount_minor: MinorAmount
    currency: Currency
    action: Action
    new_address: Text | None = None
    request_reason: Code
    note: Text | None = None
    after_sale_status: AfterSaleStatus = AfterSaleStatus.NONE
    quoted_fee_minor: MinorAmount | None = Field(
        default=None,
        description="The fee the carrier quoted before the request, in minor "
        "units; null when it quoted none. Since version 2.",
    )
    parcel_stage: ParcelStage = Field(
        default=ParcelStage.UNKNOWN,
        description="Where the parcel was when the intercept was "
        "requested; `unknown` for every version 1 event. Since version 2.",
    )

    @model_validator(mode="after")
    def _redirect_has_address(self) -> Self:
        require_redirect_address(self.action, self.new_address)
        return self

    @classmethod
    def upcast_v1_v2(cls, state: dict[str, Any]) -> None:
        # Version 1 knew neither: no quote was recorded, and the stage was not asked.
        state["quoted_fee_minor"] = None
        state["parcel_stage"] = ParcelStage.UNKNOWN.value


class CarrierEvent(InterceptEvent, abstract=True):
    """A carrier's report; `occurred_at` is the carrier's own event time.

    `conflict` is set when the report contradicts what the merchant or the
    carrier said before (a success after a cancel): recorded, never dropped.
    Each subclass names the `report` it records; domain/lifecycle.py says what it does.
    """

    report: ClassVar[CarrierReport]

    carrier_ref: Code | None = None
    conflict: Conflict | None = None


class CarrierAccepted(CarrierEvent):
    report = CarrierReport.ACCEPTED


class CarrierConfirmed(CarrierEvent):
    """The carrier has stopped the parcel: it is intercepted."""

    report = CarrierReport.CONFIRMED


class CarrierFailed(CarrierEvent):
    report = CarrierReport.FAILED

    reason: FailureReason


class CarrierReleased(CarrierEvent):
    """The carrier honoured a cancel and lets the parcel go on to the buyer."""

    report = CarrierReport.RELEASED


class Cancelled(InterceptEvent):
    model_config = ConfigDict(json_schema_extra=OTHER_CANCEL_HAS_NOTE)

    reason: CancelReason
    note: Text | None = None

    @model_validator(mode="after")
    def _other_needs_note(self) -> Self:
        require_note_for_other(self.reason, self.note)
        return self


class FeeCharged(InterceptEvent):
    kind: FeeKind
    amount_minor: MinorAmount
    currency: Currency
    payer: Payer


class EvidenceAttached(InterceptEvent):
    kind: EvidenceKind
    sha256: Sha256
    uri: Text
    note: Text | None = None


class AfterSaleStatusChanged(InterceptEvent):
    after_sale_status: AfterSaleStatus


class InterceptFlagged(InterceptEvent):
    """A flag raised for the merchant (`after_sale_withdrawn`: the buyer withdrew the
    after-sale while the automatic intercept was open; the engine never cancels on its own)."""

    flag: Flag
    note: Text | None = None


class InterceptStalled(InterceptEvent):
    """A policy deadline passed with the intercept still waiting on the carrier; raises the
    `stalled` flag. Recorded by the deadline process, which reads the clock; replay never does."""

    deadline: Deadline
    limit_minutes: int = Field(
        ge=1, le=60 * 24 * 90, description="The policy's deadline, in minutes."
    )


# Declared above, registered by their declaration: this only reads the registry.
INTERCEPT_EVENTS: tuple[type[InterceptEvent], ...] = tuple(event_classes(InterceptEvent))

CARRIER_EVENTS: dict[CarrierReport, type[CarrierEvent]] = {
    cls.report: cls for cls in event_classes(CarrierEvent)
}
"""The event that records each carrier report."""
