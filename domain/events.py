"""The events of an intercept request. Their type names are a published contract."""

from typing import Any, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from domain.event import Event, event_classes
from domain.past_events import FeeChargedV1, RequestedV1, RequestedV2
from domain.rule_schemas import (
    OTHER_CANCEL_HAS_NOTE,
    REDIRECT_HAS_RECIPIENT,
    require_note_for_other,
    require_redirect_recipient,
)
from domain.types import (
    CarrierCode,
    Code,
    Currency,
    IdempotencyKey,
    MinorAmount,
    Moment,
    Recipient,
    Sha256,
    Text,
)
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    CarrierReport,
    Conflict,
    EvidenceKind,
    FailureReason,
    FeeKind,
    ParcelStage,
    Payer,
    RejectionCode,
)

UNKNOWN_PART = "unknown"
"""A recipient's part that a `Requested` before version 3 did not record."""
UNKNOWN_PHONE = "00000"
"""The phone of a recipient recorded before version 3, which did not ask for one."""


class InterceptEvent(Event, abstract=True):
    """Something that happened to one intercept request."""

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None


class Requested(InterceptEvent):
    """Version 2 added the carrier's quoted fee and the parcel's stage; version 3 names the
    carrier by its code in the carrier catalog and the redirect's recipient field by field
    (see docs/events.md)."""

    model_config = ConfigDict(json_schema_extra=REDIRECT_HAS_RECIPIENT)
    class_version = 3
    past_payloads = {1: RequestedV1, 2: RequestedV2}

    order_id: Code
    tracking_no: Code
    carrier: CarrierCode = Field(
        description="The carrier's code in the engine's carrier catalog, e.g. ZTO. Since "
        "version 3 an open set: carriers are configuration."
    )
    amount_minor: MinorAmount
    currency: Currency
    action: Action
    recipient: Recipient | None = Field(
        default=None,
        description="Whom and where a redirect goes: required when `action` is `redirect`, "
        "null otherwise. Personal data. Since version 3 (replaces `new_address`).",
    )
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
    def _redirect_has_recipient(self) -> Self:
        require_redirect_recipient(self.action, self.recipient)
        return self

    @classmethod
    def upcast_v1_v2(cls, state: dict[str, Any]) -> None:
        # Version 1 knew neither: no quote was recorded, and the stage was not asked.
        state["quoted_fee_minor"] = None
        state["parcel_stage"] = ParcelStage.UNKNOWN.value

    @classmethod
    def upcast_v2_v3(cls, state: dict[str, Any]) -> None:
        # Version 2 kept the redirect's destination as one free text: it is the detail line;
        # the parts version 2 never asked for are recorded as unknown.
        address = state.pop("new_address", None)
        state["recipient"] = (
            None
            if not address
            else {
                "name": UNKNOWN_PART,
                "phone": UNKNOWN_PHONE,
                "province": UNKNOWN_PART,
                "city": UNKNOWN_PART,
                "district": UNKNOWN_PART,
                "address": address,
            }
        )


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


class CarrierRejected(CarrierEvent):
    """The carrier refused the request when it was sent to it."""

    report = CarrierReport.REJECTED

    code: RejectionCode
    message: Text | None = None


class ParcelReturning(CarrierEvent):
    """The intercepted parcel is on its way back."""

    report = CarrierReport.RETURNING


class ParcelReturned(CarrierEvent):
    """The intercepted parcel has been received back (the carrier's "finished")."""

    report = CarrierReport.RETURNED


class RedirectDelivered(CarrierEvent):
    """The redirected parcel was delivered at the new address."""

    report = CarrierReport.DELIVERED_TO_NEW_ADDRESS


class CarrierUnreachable(InterceptEvent):
    """The engine could not reach the carrier after `attempts` tries: the merchant should call it."""

    attempts: int = Field(ge=1, le=10**6)
    last_error: Text


class Cancelled(InterceptEvent):
    model_config = ConfigDict(json_schema_extra=OTHER_CANCEL_HAS_NOTE)

    reason: CancelReason
    note: Text | None = None

    @model_validator(mode="after")
    def _other_needs_note(self) -> Self:
        require_note_for_other(self.reason, self.note)
        return self


class FeeCharged(InterceptEvent):
    """Version 2 added the buyer as a payer (see docs/events.md)."""

    class_version = 2
    past_payloads = {1: FeeChargedV1}

    kind: FeeKind
    amount_minor: MinorAmount
    currency: Currency
    payer: Payer

    @classmethod
    def upcast_v1_v2(cls, state: dict[str, Any]) -> None:
        # Every version 1 payer is a version 2 payer: nothing to change.
        return None


class EvidenceAttached(InterceptEvent):
    kind: EvidenceKind
    sha256: Sha256
    uri: Text
    note: Text | None = None


class AfterSaleStatusChanged(InterceptEvent):
    after_sale_status: AfterSaleStatus


# Declared above, registered by their declaration: this only reads the registry.
INTERCEPT_EVENTS: tuple[type[InterceptEvent], ...] = tuple(event_classes(InterceptEvent))

CARRIER_EVENTS: dict[CarrierReport, type[CarrierEvent]] = {
    cls.report: cls for cls in event_classes(CarrierEvent)
}
"""The event that records each carrier report."""
