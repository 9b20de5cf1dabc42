"""Earlier versions of event payloads, frozen as they were published.

An event class describes only its current version. A message or stored event
of an earlier version is first checked against the model here, then upcast by
the event class's `upcast_vN_vN1` steps. Never edit a model in this file: its
version is a published contract (schemas/events/) that readers rely on.
"""

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.rule_schemas import REDIRECT_HAS_ADDRESS, require_redirect_address
from domain.types import Code, Currency, IdempotencyKey, MinorAmount, Moment, Text
from domain.vocabulary import Action, AfterSaleStatus, Carrier, FeeKind


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
