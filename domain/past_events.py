"""Earlier versions of event payloads, frozen as they were published.

An event class describes only its current version. A message or stored event
of an earlier version is first checked against the model here, then upcast by
the event class's `upcast_vN_vN1` steps. Never edit a model in this file: its
version is a published contract (schemas/events/) that readers rely on.
"""

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.rule_schemas import (
    OTHER_CANCEL_HAS_NOTE,
    REDIRECT_HAS_ADDRESS,
    REDIRECT_HAS_RECIPIENT,
    require_note_for_other,
    require_redirect_address,
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
    Recipient,
    RecordedRecipient,
    Sha256,
    Text,
)
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    Carrier,
    EvidenceKind,
    FeeKind,
)
from domain.vocabulary import ParcelStage as ParcelStageV3


class RequestedV1(BaseModel):
    """`Requested` version 1: before the carrier's quoted fee and the parcel's stage."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=REDIRECT_HAS_ADDRESS)

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None
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
        require_redirect_address(self.action, self.new_address)
        return self


class ParcelStage(StrEnum):
    """Where the parcel was when the intercept was requested, as the merchant knew it."""

    # The stages `Requested` v2 was published with (domain.vocabulary's list grew since).
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    UNKNOWN = "unknown"


# `Requested` version 2: the closed list of carriers and the redirect address as free text.
class RequestedV2(BaseModel):
    """Version 2 added the carrier's quoted fee and the parcel's stage (see docs/events.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=REDIRECT_HAS_ADDRESS)

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None
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


class Payer(StrEnum):
    # The payers `FeeCharged` v1 was published with (no docstring: the schema had none).
    MERCHANT = "merchant"
    CARRIER = "carrier"
    PLATFORM = "platform"


# `FeeCharged` version 1: before the buyer could be the one who pays (no docstring: the
# published schema had no description of its own).
class FeeChargedV1(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None
    kind: FeeKind
    amount_minor: MinorAmount
    currency: Currency
    payer: Payer


# `Cancelled` version 1: its note recorded as plain text.
class CancelledV1(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=OTHER_CANCEL_HAS_NOTE)

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None
    reason: CancelReason
    note: Text | None = None

    @model_validator(mode="after")
    def _other_needs_note(self) -> Self:
        require_note_for_other(self.reason, self.note)
        return self


# `EvidenceAttached` version 1: its note recorded as plain text.
class EvidenceAttachedV1(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None
    kind: EvidenceKind
    sha256: Sha256
    uri: Text
    note: Text | None = None


# `Requested` version 3: the recipient and the note recorded as plain text.
class RequestedV3(BaseModel):
    """Version 2 added the carrier's quoted fee and the parcel's stage; version 3 names the
    carrier by its code in the carrier catalog and the redirect's recipient field by field
    (see docs/events.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=REDIRECT_HAS_RECIPIENT)

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None
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
    parcel_stage: ParcelStageV3 = Field(
        default=ParcelStageV3.UNKNOWN,
        description="Where the parcel was when the intercept was "
        "requested; `unknown` for every version 1 event. Since version 2.",
    )

    @model_validator(mode="after")
    def _redirect_has_recipient(self) -> Self:
        require_redirect_recipient(self.action, self.recipient)
        return self


# `Requested` version 4: the recipient and the note sealed; before the pickup time.
class RequestedV4(BaseModel):
    """Version 2 added the carrier's quoted fee and the parcel's stage; version 3 names the
    carrier by its code in the carrier catalog and the redirect's recipient field by field
    (see docs/events.md); version 4 records the recipient and the note sealed
    (docs/privacy.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=REDIRECT_HAS_RECIPIENT)

    merchant_id: Code
    actor: Code
    occurred_at: Moment
    idempotency_key: IdempotencyKey | None = None
    order_id: Code
    tracking_no: Code
    carrier: CarrierCode = Field(
        description="The carrier's code in the engine's carrier catalog, e.g. ZTO. Since "
        "version 3 an open set: carriers are configuration."
    )
    amount_minor: MinorAmount
    currency: Currency
    action: Action
    recipient: RecordedRecipient | None = Field(
        default=None,
        description="Whom and where a redirect goes: required when `action` is `redirect`, "
        "null otherwise. Personal data, each part sealed since version 4. Since version 3 "
        "(replaces `new_address`).",
    )
    request_reason: Code
    note: BuyerText | None = None
    after_sale_status: AfterSaleStatus = AfterSaleStatus.NONE
    quoted_fee_minor: MinorAmount | None = Field(
        default=None,
        description="The fee the carrier quoted before the request, in minor "
        "units; null when it quoted none. Since version 2.",
    )
    parcel_stage: ParcelStageV3 = Field(
        default=ParcelStageV3.UNKNOWN,
        description="Where the parcel was when the intercept was "
        "requested; `unknown` for every version 1 event. Since version 2.",
    )

    @model_validator(mode="after")
    def _redirect_has_recipient(self) -> Self:
        require_redirect_recipient(self.action, self.recipient)
        return self


class AfterSaleReportedV1(BaseModel):
    """`AfterSaleReported` version 1: before the shipment's pickup time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    merchant_id: Code
    after_sale_id: Code
    actor: Code
    occurred_at: Moment
    order_id: Code
    tracking_no: Code
    carrier: CarrierCode
    amount_minor: MinorAmount
    currency: Currency
    status: AfterSaleStatus
    parcel_stage: ParcelStageV3
