"""What merchants, carriers and operators ask of the engine. Imperative names.

Commands validate their own input; a command that exists is well formed. The
clock and the actor come in as data, so deciding never reads the clock.
"""

from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.rule_schemas import require_note_for_other, require_redirect_address
from domain.types import Code, Currency, IdempotencyKey, MinorAmount, Moment, Sha256, Text
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    Carrier,
    CarrierReport,
    EvidenceKind,
    FailureReason,
    FeeKind,
    ParcelStage,
    Payer,
)

# Fields that say who sent a command and when, not what it asks for: a retry
# with the same idempotency key may differ in them and is still the same command.
_ENVELOPE_FIELDS = frozenset({"key", "actor", "occurred_at", "intercept_id"})


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: Code
    occurred_at: Moment
    key: IdempotencyKey | None = None

    def substance(self) -> dict[str, Any]:
        """What the command asks for, comparable with the event it was recorded as."""
        return self.model_dump(mode="json", exclude=_ENVELOPE_FIELDS)


class SetPolicy(Command):
    merchant_id: Code
    min_amount_minor: MinorAmount
    max_amount_minor: MinorAmount
    carriers: frozenset[Carrier] = Field(min_length=1)

    @model_validator(mode="after")
    def _interval_ordered(self) -> Self:
        if self.min_amount_minor > self.max_amount_minor:
            raise ValueError("the minimum amount must not exceed the maximum amount")
        return self


class RequestIntercept(Command):
    merchant_id: Code
    order_id: Code
    tracking_no: Code
    carrier: Carrier
    amount_minor: MinorAmount
    currency: Currency = "CNY"
    action: Action = Action.RETURN_TO_SENDER
    new_address: Text | None = None
    request_reason: Code
    note: Text | None = None
    after_sale_status: AfterSaleStatus = AfterSaleStatus.NONE
    quoted_fee_minor: MinorAmount | None = None
    parcel_stage: ParcelStage = ParcelStage.UNKNOWN

    @model_validator(mode="after")
    def _redirect_has_address(self) -> Self:
        require_redirect_address(self.action, self.new_address)
        return self


class InterceptCommand(Command):
    intercept_id: UUID


class CancelIntercept(InterceptCommand):
    reason: CancelReason
    note: Text | None = None

    @model_validator(mode="after")
    def _other_needs_note(self) -> Self:
        require_note_for_other(self.reason, self.note)
        return self


class ReportCarrierOutcome(InterceptCommand):
    carrier: Carrier
    report: CarrierReport
    carrier_ref: Code | None = None
    reason: FailureReason | None = None

    @model_validator(mode="after")
    def _failure_has_reason(self) -> Self:
        if (self.report is CarrierReport.FAILED) != (self.reason is not None):
            raise ValueError("a failure report needs a reason, and only a failure takes one")
        return self


class ChargeFee(InterceptCommand):
    kind: FeeKind
    amount_minor: MinorAmount = Field(gt=0)
    currency: Currency = "CNY"
    payer: Payer = Payer.MERCHANT


class AttachEvidence(InterceptCommand):
    kind: EvidenceKind
    sha256: Sha256
    uri: Text = Field(min_length=1)
    note: Text | None = None


class ChangeAfterSaleStatus(InterceptCommand):
    after_sale_status: AfterSaleStatus
