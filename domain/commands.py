"""What merchants, carriers and operators ask of the engine. Imperative names.

Commands validate their own input; a command that exists is well formed. The
clock and the actor come in as data, so deciding never reads the clock.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.personal import SUBJECT_ID_PATTERN
from domain.rule_schemas import (
    require_note_for_other,
    require_picked_up_before,
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
    Deadline,
    EvidenceKind,
    FailureReason,
    FeeKind,
    Flag,
    ParcelStage,
    Payer,
    RejectionCode,
)

ENVELOPE_FIELDS = frozenset({"key", "actor", "occurred_at", "intercept_id"})
"""Who sent a command, when, and to which intercept, not what it asks for: a retry with the
same idempotency key may differ in them and is still the same command."""


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    records: ClassVar[Mapping[str, str]] = MappingProxyType({})
    """Each command field its event records, and the event field that records it."""
    implied: ClassVar[frozenset[str]] = frozenset()
    """Command fields the event does not record because the intercept or the event's type
    already says them (a report's carrier and kind); deciding passes them to `recorded_by`."""

    actor: Code
    occurred_at: Moment
    key: IdempotencyKey | None = None

    def recorded(self) -> dict[str, Any]:
        """The event fields this command records; an unset optional is left to the event's
        default (None), so an event without such a field, like CarrierAccepted's reason, fits."""
        return {
            event_field: value
            for field, event_field in self.records.items()
            if (value := getattr(self, field)) is not None
        }

    def recorded_by(self, event: BaseModel, **implied: Any) -> bool:
        """Whether `event` records this very command, compared whole, not field by field.

        The command is rebuilt from the event (plus the envelope fields, which a retry may
        change, and the `implied` ones) and must equal this one: a field the event does not
        record comes back as its default, so a retry that sets it differently is refused.
        """
        fields = {field: getattr(event, name, None) for field, name in self.records.items()}
        envelope = {
            name: getattr(self, name) for name in ENVELOPE_FIELDS & type(self).model_fields.keys()
        }
        try:
            again = type(self).model_validate({**envelope, **implied, **fields})
        except ValidationError:
            return False
        return again == self


DeadlineMinutes = Annotated[int, Field(ge=1, le=60 * 24 * 90)]
"""A policy deadline in minutes: at least one, at most ninety days."""

NOT_AN_AUTO_STATUS = frozenset({AfterSaleStatus.NONE, AfterSaleStatus.CLOSED})
"""After-sale statuses an automatic rule may not list: nothing asks for the parcel back."""


class SetPolicy(Command):
    merchant_id: Code
    min_amount_minor: MinorAmount
    max_amount_minor: MinorAmount
    carriers: frozenset[CarrierCode] = Field(min_length=1)
    auto_intercept: frozenset[AfterSaleStatus] = Field(
        default=frozenset(),
        description="After-sale statuses that make the engine request the intercept itself; "
        "empty (the default) turns the automatic rule off.",
    )
    accept_within_minutes: DeadlineMinutes | None = None
    outcome_within_minutes: DeadlineMinutes | None = None

    @model_validator(mode="after")
    def _interval_ordered(self) -> Self:
        if self.min_amount_minor > self.max_amount_minor:
            raise ValueError("the minimum amount must not exceed the maximum amount")
        if self.auto_intercept & NOT_AN_AUTO_STATUS:
            raise ValueError(
                "auto_intercept takes refund_requested, return_requested or refunded: "
                "none and closed never start an intercept"
            )
        return self


class RequestIntercept(Command):
    records = MappingProxyType(
        {
            "merchant_id": "merchant_id",
            "order_id": "order_id",
            "tracking_no": "tracking_no",
            "carrier": "carrier",
            "amount_minor": "amount_minor",
            "currency": "currency",
            "action": "action",
            "recipient": "recipient",
            "request_reason": "request_reason",
            "note": "note",
            "after_sale_status": "after_sale_status",
            "quoted_fee_minor": "quoted_fee_minor",
            "parcel_stage": "parcel_stage",
            "picked_up_at": "picked_up_at",
        }
    )

    merchant_id: Code
    order_id: Code
    tracking_no: Code
    carrier: CarrierCode
    amount_minor: MinorAmount
    currency: Currency = "CNY"
    action: Action = Action.RETURN_TO_SENDER
    recipient: Recipient | None = None
    request_reason: Code
    note: Text | None = None
    after_sale_status: AfterSaleStatus = AfterSaleStatus.NONE
    quoted_fee_minor: MinorAmount | None = None
    parcel_stage: ParcelStage = ParcelStage.UNKNOWN
    picked_up_at: Moment | None = None

    @model_validator(mode="after")
    def _redirect_has_recipient(self) -> Self:
        require_redirect_recipient(self.action, self.recipient)
        require_picked_up_before(self.picked_up_at, self.occurred_at)
        return self


class InterceptCommand(Command):
    intercept_id: UUID


class CancelIntercept(InterceptCommand):
    records = MappingProxyType({"reason": "reason", "note": "note"})

    reason: CancelReason
    note: Text | None = None

    @model_validator(mode="after")
    def _other_needs_note(self) -> Self:
        require_note_for_other(self.reason, self.note)
        return self


class ReportCarrierOutcome(InterceptCommand):
    records = MappingProxyType(
        {"carrier_ref": "carrier_ref", "reason": "reason", "code": "code", "message": "message"}
    )
    implied = frozenset({"carrier", "report"})

    carrier: CarrierCode
    report: CarrierReport
    carrier_ref: Code | None = None
    reason: FailureReason | None = None
    code: RejectionCode | None = None
    message: Text | None = None

    @model_validator(mode="after")
    def _failure_has_reason(self) -> Self:
        if (self.report is CarrierReport.FAILED) != (self.reason is not None):
            raise ValueError("a failure report needs a reason, and only a failure takes one")
        if (self.report is CarrierReport.REJECTED) != (self.code is not None):
            raise ValueError("a rejection needs a code, and only a rejection takes one")
        if self.message is not None and self.report is not CarrierReport.REJECTED:
            raise ValueError("only a rejection takes a message")
        return self


class RecordCarrierUnreachable(InterceptCommand):
    """The carrier gateway gave up reaching the carrier for this intercept, for now."""

    records = MappingProxyType({"attempts": "attempts", "last_error": "last_error"})

    attempts: int = Field(ge=1, le=10**6)
    last_error: Text


class ChargeFee(InterceptCommand):
    records = MappingProxyType(
        {"kind": "kind", "amount_minor": "amount_minor", "currency": "currency", "payer": "payer"}
    )

    kind: FeeKind
    amount_minor: MinorAmount = Field(gt=0)
    currency: Currency = "CNY"
    payer: Payer = Payer.MERCHANT


class AttachEvidence(InterceptCommand):
    records = MappingProxyType({"kind": "kind", "sha256": "sha256", "uri": "uri", "note": "note"})

    kind: EvidenceKind
    sha256: Sha256
    uri: Text = Field(min_length=1)
    note: Text | None = None


class EraseSubject(InterceptCommand):
    """Record that a data subject's personal data in this intercept was erased (its key is
    destroyed first, by the engine: docs/privacy.md)."""

    records = MappingProxyType({"subject": "subject"})

    subject: str = Field(pattern=SUBJECT_ID_PATTERN)


class ChangeAfterSaleStatus(InterceptCommand):
    records = MappingProxyType({"after_sale_status": "after_sale_status"})

    after_sale_status: AfterSaleStatus


class FlagIntercept(InterceptCommand):
    """Raise a flag for the merchant to look at; a flag already raised records nothing."""

    records = MappingProxyType({"flag": "flag", "note": "note"})

    flag: Flag
    note: Text | None = None


class MarkStalled(InterceptCommand):
    """Record that a policy deadline passed with the intercept still waiting on the carrier."""

    records = MappingProxyType({"deadline": "deadline", "limit_minutes": "limit_minutes"})

    deadline: Deadline
    limit_minutes: DeadlineMinutes


class ReportAfterSale(Command):
    """The platform's after-sale record, with the shipment it concerns.

    Idempotent by (merchant, after-sale id): the same record again records nothing; a
    new status (or parcel stage) records a new report on the same after-sale.
    """

    merchant_id: Code
    after_sale_id: Code
    order_id: Code
    tracking_no: Code
    carrier: CarrierCode
    amount_minor: MinorAmount
    currency: Currency = "CNY"
    status: AfterSaleStatus
    parcel_stage: ParcelStage = ParcelStage.IN_TRANSIT
    picked_up_at: Moment | None = None
    """When the carrier picked the parcel up, if the platform knows; not after the report."""

    @model_validator(mode="after")
    def _picked_up_before(self) -> Self:
        require_picked_up_before(self.picked_up_at, self.occurred_at)
        return self


class ApplyAutoRule(Command):
    """The automatic rule's turn on an after-sale's reports not yet decided (process manager)."""

    merchant_id: Code
    after_sale_id: Code
