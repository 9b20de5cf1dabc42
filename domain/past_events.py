"""Earlier versions of event payloads, frozen as they were published.

An event class describes only its current version. A message or stored event
of an earlier version is first checked against the model here, then upcast by
the event class's `upcast_vN_vN1` steps. Never edit a model in this file: its
version is a published contract (schemas/events/) that readers rely on.
"""

from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from domain.rule_schemas import (
    OTHER_CANCEL_HAS_NOTE,
    REDIRECT_HAS_ADDRESS,
    require_note_for_other,
    require_redirect_address,
)
from domain.types import Code, Currency, IdempotencyKey, MinorAmount, Moment, Sha256, Text
from domain.vocabulary import Action, AfterSaleStatus, CancelReason, Carrier, EvidenceKind


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
