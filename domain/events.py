"""The events of an intercept request. Their type names are a published contract."""

from typing import Self

from pydantic import model_validator

from domain.event import Event
from domain.types import Code, Currency, IdempotencyKey, MinorAmount, Moment, Sha256, Text
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    Carrier,
    Conflict,
    EvidenceKind,
    FailureReason,
    FeeKind,
    Payer,
)


class InterceptEvent(Event):
    """Something that happened to one intercept request."""

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None


class Requested(InterceptEvent):
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

    @model_validator(mode="after")
    def _redirect_has_address(self) -> Self:
        if (self.action is Action.REDIRECT) != bool(self.new_address):
            raise ValueError("a redirect needs a new address, and only a redirect takes one")
        return self


class CarrierEvent(InterceptEvent):
    """A carrier's report; `occurred_at` is the carrier's own event time.

    `conflict` is set when the report contradicts what the merchant or the
    carrier said before (a success after a cancel): recorded, never dropped.
    """

    carrier_ref: Code | None = None
    conflict: Conflict | None = None


class CarrierAccepted(CarrierEvent):
    pass


class CarrierConfirmed(CarrierEvent):
    """The carrier has stopped the parcel: it is intercepted."""


class CarrierFailed(CarrierEvent):
    reason: FailureReason


class CarrierReleased(CarrierEvent):
    """The carrier honoured a cancel and lets the parcel go on to the buyer."""


class Cancelled(InterceptEvent):
    reason: CancelReason
    note: Text | None = None

    @model_validator(mode="after")
    def _other_needs_note(self) -> Self:
        if self.reason is CancelReason.OTHER and not (self.note or "").strip():
            raise ValueError("a cancel for reason 'other' needs a note saying why")
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


INTERCEPT_EVENTS: tuple[type[InterceptEvent], ...] = (
    Requested,
    CarrierAccepted,
    CarrierConfirmed,
    CarrierFailed,
    CarrierReleased,
    Cancelled,
    FeeCharged,
    EvidenceAttached,
    AfterSaleStatusChanged,
)
