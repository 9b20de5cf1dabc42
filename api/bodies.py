"""What callers send: the request bodies, checked field by field before any command exists.

They use the domain's own field types, so the OpenAPI document shows the same
limits the domain enforces; rules across fields are the commands' to check.
Numbers are strict: FastAPI validates the decoded JSON in pydantic's lax mode,
which would take `"199.00"`, `true` or `1e3` for an amount and quietly make it
199, 1 or 1000 fen.
"""

from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from domain.personal import SUBJECT_ID_PATTERN
from domain.text import INPUT_TEXT_PATTERN
from domain.types import CarrierCode, Code, Currency, MinorAmount, Moment, Phone, Text
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    CarrierReport,
    FailureReason,
    FeeKind,
    ParcelStage,
    Payer,
    RejectionCode,
)

MAX_BATCH = 100

Amount = Annotated[MinorAmount, Strict()]
"""A JSON integer: a string, a float or a boolean is refused, never converted."""

InputText = Annotated[Text, StringConstraints(pattern=INPUT_TEXT_PATTERN)]
"""Text as callers may send it: the domain's Text, and neither C1 controls (U+0080-U+009F;
U+009B begins a terminal escape) nor bidirectional embeddings, overrides and isolates
(U+202A-U+202E, U+2066-U+2069), which make a note read otherwise than it is. Refused at
the edge rather than in the domain's Text, which recorded events are read with; the rule
is `domain.text`'s, which the CLI applies too."""

StrictMoment = Annotated[Moment, Strict()]
"""An ISO 8601 string with its timezone: a number is not taken for Unix seconds."""


def _time_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 time with its timezone, as a string")
    return value


TimeText = Annotated[Moment, BeforeValidator(_time_text)]
"""An ISO 8601 string with its timezone, in a JSON body: a number is not taken for Unix
seconds (a body is validated from its parsed JSON, where `Strict` would refuse strings)."""


class Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolicyBody(Body):
    min_amount_minor: Amount = Field(
        default=0, description="At most `max_amount_minor` (refused otherwise)."
    )
    max_amount_minor: Amount
    carriers: list[CarrierCode] = Field(
        min_length=1, description="Carriers enabled for interception, by their catalog codes."
    )
    auto_intercept: list[AfterSaleStatus] = Field(
        default_factory=list,
        description="After-sale statuses that make the engine request the intercept itself "
        "(refund_requested, return_requested, refunded); empty turns the rule off.",
    )
    accept_within_minutes: Annotated[int, Strict(), Field(ge=1, le=129_600)] | None = Field(
        default=None, description="Deadline for the carrier's acceptance, in minutes."
    )
    outcome_within_minutes: Annotated[int, Strict(), Field(ge=1, le=129_600)] | None = Field(
        default=None, description="Deadline for the carrier's outcome, in minutes."
    )


InputLine = Annotated[InputText, StringConstraints(min_length=1, max_length=200)]
"""One part of a person's details as callers may send it (blank and newlines are refused by
the domain's `Recipient`)."""

InputAddress = Annotated[InputText, StringConstraints(min_length=1)]
"""The detail line of an address, under the text rule (newlines allowed)."""


class RecipientBody(Body):
    """Whom and where a redirect goes. Personal data."""

    name: InputLine
    phone: Phone = Field(description="Digits, an optional leading +, single hyphens.")
    province: InputLine
    city: InputLine
    district: InputLine
    address: InputAddress = Field(description="The detail line: street, building, room.")


class InterceptRequestBody(Body):
    order_id: Code
    tracking_no: Code
    carrier: CarrierCode = Field(description="A carrier code of the engine's carrier catalog.")
    amount_minor: Amount = Field(description="The order amount in minor units (fen).")
    currency: Currency = "CNY"
    action: Action = Action.RETURN_TO_SENDER
    recipient: RecipientBody | None = Field(
        default=None,
        description="Whom and where to redirect to: required when `action` is `redirect`, "
        "refused otherwise.",
    )
    request_reason: Code
    note: InputText | None = None
    after_sale_status: AfterSaleStatus = AfterSaleStatus.NONE
    quoted_fee_minor: Amount | None = Field(
        default=None,
        description="The fee the carrier quoted before the request, in minor "
        "units, if it quoted one.",
    )
    parcel_stage: ParcelStage = Field(
        default=ParcelStage.UNKNOWN, description="Where the parcel is now, as far as known."
    )
    picked_up_at: TimeText | None = Field(
        default=None,
        description="When the carrier picked the parcel up, with its timezone; not after the "
        "request. The risk estimate's time since pickup; null when not known.",
    )


class CancelBody(Body):
    reason: CancelReason
    note: InputText | None = Field(default=None, description="Required when `reason` is `other`.")


class BatchCancelBody(CancelBody):
    intercept_ids: list[UUID] = Field(min_length=1, max_length=MAX_BATCH)


class FeeBody(Body):
    kind: FeeKind
    amount_minor: Amount = Field(gt=0)
    currency: Currency = "CNY"
    payer: Payer = Payer.MERCHANT


class CarrierCallback(Body):
    """One carrier report. Signed: see the `X-Intercept-Signature` header."""

    intercept_id: UUID
    report: CarrierReport
    occurred_at: StrictMoment | None = Field(
        default=None,
        description="The carrier's own event time; the engine's clock when absent. Not before "
        "2000, and at most 5 minutes ahead of the engine's clock (a carrier's clock may run "
        "a little fast); earlier than the request is accepted.",
    )
    carrier_ref: Code | None = None
    reason: FailureReason | None = Field(
        default=None, description="Required when `report` is `failed`, refused otherwise."
    )
    code: RejectionCode | None = Field(
        default=None, description="Required when `report` is `rejected`, refused otherwise."
    )
    message: InputText | None = Field(
        default=None, description="The carrier's words on a rejection (`rejected` only)."
    )


class AfterSaleBody(Body):
    after_sale_status: AfterSaleStatus = Field(description="The order's after-sale status now.")


class ErasureBody(BaseModel):
    """Whom to erase: an order's buyer and recipients, or one data subject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: Code | None = None
    merchant_id: Code | None = Field(default=None, description="Only this merchant's order.")
    subject: str | None = Field(default=None, pattern=SUBJECT_ID_PATTERN)

    @model_validator(mode="after")
    def _one_target(self) -> "ErasureBody":
        if (self.order_id is None) == (self.subject is None):
            raise ValueError("name exactly one of order_id and subject")
        return self


class AfterSaleReportBody(Body):
    """A platform's after-sale record and the shipment it concerns."""

    merchant_id: Code
    after_sale_id: Code = Field(
        description="The platform's after-sale id: reports are "
        "idempotent by (merchant_id, after_sale_id)."
    )
    order_id: Code
    tracking_no: Code
    carrier: CarrierCode
    amount_minor: Amount = Field(description="The order amount in minor units (fen).")
    currency: Currency = "CNY"
    status: AfterSaleStatus
    parcel_stage: ParcelStage = Field(
        default=ParcelStage.IN_TRANSIT,
        description="Where the parcel is now; the automatic rule requests only in transit.",
    )
    picked_up_at: TimeText | None = Field(
        default=None,
        description="When the carrier picked the parcel up, with its timezone; not after the "
        "report. The automatic request carries it; null when not known.",
    )


class WebhookBody(Body):
    merchant_id: Code
    url: Annotated[
        str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[\x21-\x7e]+$")
    ] = Field(description="http or https; private, loopback and link-local addresses are refused.")
    events: list[Code] = Field(
        default_factory=list, max_length=50, description="Event types; empty for every one."
    )
