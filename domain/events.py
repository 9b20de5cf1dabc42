"""The events of an intercept request. Their type names are a published contract."""

from typing import Annotated, Any, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from domain.event import Event, event_classes
from domain.past_events import (
    CancelledV1,
    EvidenceAttachedV1,
    FeeChargedV1,
    RequestedV1,
    RequestedV2,
    RequestedV3,
    RequestedV4,
)
from domain.personal import DIGEST, IDENTIFIER, SUBJECT_ID_PATTERN, NotPersonal
from domain.rule_schemas import (
    OTHER_CANCEL_HAS_SEALED_NOTE,
    REDIRECT_HAS_RECIPIENT,
    require_note_for_other,
    require_redirect_recipient,
)
from domain.types import (
    BuyerText,
    CarrierCode,
    Code,
    Currency,
    IdempotencyKey,
    MinorAmount,
    Moment,
    RecordedRecipient,
    Sha256,
    Text,
)
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    CarrierReport,
    Conflict,
    Deadline,
    EvidenceKind,
    FailureReason,
    FeeKind,
    Flag,
    ParcelStage,
    Payer,
    RejectionCode,
)

UNKNOWN_PART = "unknown"
"""A recipient's part that a `Requested` before version 3 did not record."""
UNKNOWN_PHONE = "00000"
"""The phone of a recipient recorded before version 3, which did not ask for one."""


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
    """Version 2 added the carrier's quoted fee and the parcel's stage; version 3 names the
    carrier by its code in the carrier catalog and the redirect's recipient field by field
    (see docs/events.md); version 4 records the recipient and the note sealed
    (docs/privacy.md); version 5 adds when the carrier picked the parcel up."""

    model_config = ConfigDict(json_schema_extra=REDIRECT_HAS_RECIPIENT)
    class_version = 5
    past_payloads = {1: RequestedV1, 2: RequestedV2, 3: RequestedV3, 4: RequestedV4}

    order_id: Annotated[Code, IDENTIFIER]
    tracking_no: Annotated[Code, IDENTIFIER]
    carrier: Annotated[CarrierCode, IDENTIFIER] = Field(
        description="The carrier's code in the engine's carrier catalog, e.g. ZTO. Since "
        "version 3 an open set: carriers are configuration."
    )
    amount_minor: MinorAmount
    currency: Annotated[Currency, IDENTIFIER]
    action: Action
    recipient: RecordedRecipient | None = Field(
        default=None,
        description="Whom and where a redirect goes: required when `action` is `redirect`, "
        "null otherwise. Personal data, each part sealed since version 4. Since version 3 "
        "(replaces `new_address`).",
    )
    request_reason: Annotated[Code, IDENTIFIER]
    note: BuyerText | None = None
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
    picked_up_at: Moment | None = Field(
        default=None,
        description="When the carrier picked the parcel up, as the merchant or the "
        "platform's after-sale report said; never after the request (the command refuses "
        "it; JSON Schema cannot compare two times). Null when not known, and for every "
        "event before version 5.",
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

    @classmethod
    def upcast_v3_v4(cls, state: dict[str, Any]) -> None:
        """A version 3 recipient and note stay the plain text they were recorded as."""

    @classmethod
    def upcast_v4_v5(cls, state: dict[str, Any]) -> None:
        # Version 4 did not ask when the parcel was picked up.
        state["picked_up_at"] = None


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


class CarrierRejected(CarrierEvent):
    """The carrier refused the request when it was sent to it."""

    report = CarrierReport.REJECTED

    code: RejectionCode
    message: Annotated[
        Text | None, NotPersonal("the carrier's words about the request, not about a person")
    ] = None


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
    last_error: Annotated[Text, NotPersonal("how the connection to the carrier failed")]


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
    """Version 2 added the buyer as a payer (see docs/events.md)."""

    class_version = 2
    past_payloads = {1: FeeChargedV1}

    kind: FeeKind
    amount_minor: MinorAmount
    currency: Annotated[Currency, IDENTIFIER]
    payer: Payer

    @classmethod
    def upcast_v1_v2(cls, state: dict[str, Any]) -> None:
        # Every version 1 payer is a version 2 payer: nothing to change.
        return None


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


class InterceptFlagged(InterceptEvent):
    """A flag raised for the merchant (`after_sale_withdrawn`: the buyer withdrew the
    after-sale while the automatic intercept was open; the engine never cancels on its own)."""

    flag: Flag
    note: Annotated[
        Text | None, NotPersonal("the engine's own words about the flag, naming no person")
    ] = None


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
