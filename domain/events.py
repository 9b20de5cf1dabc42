"""The events of an intercept request. Their type names are a published contract."""

from typing import Annotated, Any, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from domain.event import Event, event_classes
from domain.past_events import CancelledV1, EvidenceAttachedV1, RequestedV1
from domain.personal import DIGEST, IDENTIFIER, SUBJECT_ID_PATTERN, NotPersonal
from domain.rule_schemas import (
    OTHER_CANCEL_HAS_SEALED_NOTE,
    REDIRECT_HAS_ADDRESS,
    require_note_for_other,
    require_redirect_address,
)
from domain.types import (
    BuyerText,
    Code,
    Currency,
    IdempotencyKey,
    MinorAmount,
    Moment,
    Sha256,
    Text,
)
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    Carrier,
    CarrierReport,
    Conflict,
    EvidenceKind,
    FailureReason,
    FeeKind,
    ParcelStage,
    Payer,
)


class InterceptEvent(Event, abstract=True):
    """Something that happened to one intercept request.

    Every text field says whether it is personal data (domain/personal.py); a test
    refuses a text field that says neither.
    """

    merchant_id: Annotated[Code, IDENTIFIER]
    actor: Annotated[Code, IDENTIFIER]
    occurred_at: Moment
    idempotency_key: Annotated[IdempotencyKey | None, IDENTIFIER] = None


class Requested(InterceptEvent):
    """Version 2 added the carrier's quoted fee and the parcel's stage (see docs/events.md)."""

    model_config = ConfigDict(json_schema_extra=REDIRECT_HAS_ADDRESS)
    class_version = 2
    past_payloads = {1: RequestedV1}

    order_id: Annotated[Code, IDENTIFIER]
    tracking_no: Annotated[Code, IDENTIFIER]
    carrier: Carrier
    amount_minor: MinorAmount
    currency: Annotated[Currency, IDENTIFIER]
    action: Action
    new_address: Text | None = None
    request_reason: Annotated[Code, IDENTIFIER]
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

    carrier_ref: Annotated[Code | None, IDENTIFIER] = None
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
    """Version 2 records the note sealed (docs/privacy.md)."""

    model_config = ConfigDict(json_schema_extra=OTHER_CANCEL_HAS_SEALED_NOTE)
    class_version = 2
    past_payloads = {1: CancelledV1}

    reason: CancelReason
    note: BuyerText | None = None

    @model_validator(mode="after")
    def _other_needs_note(self) -> Self:
        require_note_for_other(self.reason, self.note)
        return self

    @classmethod
    def upcast_v1_v2(cls, state: dict[str, Any]) -> None:
        """A version 1 note stays the plain text it was recorded as."""


class FeeCharged(InterceptEvent):
    kind: FeeKind
    amount_minor: MinorAmount
    currency: Annotated[Currency, IDENTIFIER]
    payer: Payer


class EvidenceAttached(InterceptEvent):
    """Version 2 records the note sealed; the file itself is the buyer's too (docs/privacy.md)."""

    class_version = 2
    past_payloads = {1: EvidenceAttachedV1}

    kind: EvidenceKind
    sha256: Annotated[Sha256, DIGEST]
    uri: Annotated[Text, DIGEST]
    note: BuyerText | None = None

    @classmethod
    def upcast_v1_v2(cls, state: dict[str, Any]) -> None:
        """A version 1 note stays the plain text it was recorded as."""


class AfterSaleStatusChanged(InterceptEvent):
    after_sale_status: AfterSaleStatus


class Erased(InterceptEvent):
    """A data subject's personal data in this intercept was erased: its key destroyed.

    Holds no personal data: the subject id is derived, one way, from the order or the
    intercept (domain/personal.py). Its sealed values stay in history, unreadable.
    """

    subject: Annotated[
        str,
        NotPersonal("a one-way derived id of the data subject"),
        Field(pattern=SUBJECT_ID_PATTERN),
    ]


# Declared above, registered by their declaration: this only reads the registry.
INTERCEPT_EVENTS: tuple[type[InterceptEvent], ...] = tuple(event_classes(InterceptEvent))

CARRIER_EVENTS: dict[CarrierReport, type[CarrierEvent]] = {
    cls.report: cls for cls in event_classes(CarrierEvent)
}
"""The event that records each carrier report."""
