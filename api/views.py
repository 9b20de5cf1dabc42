"""What the API answers with: the response models, and how engine results become them."""

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.decision import Decision, Outcome
from domain.policy import InterceptPolicy
from domain.types import CarrierCode
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    Conflict,
    DispatchState,
    RejectionCode,
    Status,
)
from engine import usecases
from engine.keystore import ApiKey, IssuedKey
from engine.roles import Role

TIME = "UTC text `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as in the projection tables."


class InterceptResult(BaseModel):
    """An intercept after a command: what it is now and what the command did."""

    intercept_id: UUID
    status: Status
    outcome: Outcome = Field(
        description="recorded, duplicate, already_cancelled, stale or unchanged."
    )
    conflicts: list[Conflict]
    version: int

    @classmethod
    def of(cls, decision: Decision) -> "InterceptResult":
        return cls.model_validate(usecases.result(decision))


class RiskEstimate(BaseModel):
    """What the merchant's own history says about such an intercept (docs/analytics.md)."""

    carrier: str
    action: Action
    parcel_stage: str
    since_pickup: str = Field(
        description="The time from pickup to the request, in the buckets of docs/analytics.md: "
        "under_24h, 1_3_days, over_3_days, or unknown."
    )
    based_on: list[str] = Field(
        description="The bucket the estimate rests on: carrier, action, parcel_stage and "
        "since_pickup, or without since_pickup when that was too thin or unknown."
    )
    cases: int = Field(description="Past intercepts of the bucket `based_on` names decided.")
    enough_history: bool
    success_probability: float | None = Field(
        description="Succeeded / decided; null without enough history."
    )
    likely_fee_minor: int | None = Field(
        description="Average fees of a decided case, minor units; null without enough history."
    )
    note: str | None = None


class RequestResult(InterceptResult):
    """A request's answer: the intercept, and the risk estimate read before recording it."""

    risk: RiskEstimate


class PolicyView(BaseModel):
    merchant_id: str
    min_amount_minor: int
    max_amount_minor: int
    carriers: list[CarrierCode]
    updated_by: str
    version: int
    auto_intercept: list[AfterSaleStatus] = Field(
        default_factory=list, description="Statuses the automatic rule acts on; empty: off."
    )
    accept_within_minutes: int | None = None
    outcome_within_minutes: int | None = None

    @classmethod
    def of(cls, policy: InterceptPolicy) -> "PolicyView":
        return cls(
            merchant_id=policy.merchant_id,
            min_amount_minor=policy.min_amount_minor,
            max_amount_minor=policy.max_amount_minor,
            carriers=list(policy.carriers),
            updated_by=policy.updated_by,
            version=policy.version,
            auto_intercept=list(policy.auto_intercept),
            accept_within_minutes=policy.accept_within_minutes,
            outcome_within_minutes=policy.outcome_within_minutes,
        )


class PolicyResult(BaseModel):
    outcome: Outcome
    policy: PolicyView


FEES_OF_KIND = "Sum of the fees of this kind, minor units; null on a row not rebuilt since."
FEES_OF_PAYER = "Sum of the fees this party pays, minor units; null on a row not rebuilt since."


class InterceptRow(BaseModel):
    """One row of the package center; the columns are those of docs/projections.md."""

    intercept_id: UUID
    merchant_id: str
    order_id: str
    tracking_no: str
    carrier: CarrierCode
    amount_minor: int
    currency: str
    action: Action
    request_reason: str
    after_sale_status: AfterSaleStatus
    status: Status
    conflict: str | None = Field(description="Comma-separated conflicts; null when none.")
    cancel_reason: str | None
    failure_reason: str | None
    fees_minor: int
    evidence_count: int
    requested_at: str = Field(description=TIME)
    accepted_at: str | None
    confirmed_at: str | None
    failed_at: str | None
    cancelled_at: str | None
    released_at: str | None
    updated_at: str
    version: int
    rejected_at: str | None = None
    rejection_code: RejectionCode | None = None
    returning_at: str | None = None
    returned_at: str | None = None
    delivered_to_new_address_at: str | None = None
    quoted_fee_minor: int | None = None
    fees_intercept_minor: int | None = Field(default=None, description=FEES_OF_KIND)
    fees_return_shipping_minor: int | None = Field(default=None, description=FEES_OF_KIND)
    fees_storage_minor: int | None = Field(default=None, description=FEES_OF_KIND)
    fees_other_minor: int | None = Field(default=None, description=FEES_OF_KIND)
    fees_paid_by_merchant_minor: int | None = Field(default=None, description=FEES_OF_PAYER)
    fees_paid_by_carrier_minor: int | None = Field(default=None, description=FEES_OF_PAYER)
    fees_paid_by_platform_minor: int | None = Field(default=None, description=FEES_OF_PAYER)
    fees_paid_by_buyer_minor: int | None = Field(default=None, description=FEES_OF_PAYER)
    flags: str | None = Field(
        default=None,
        description="Comma-separated flags to look at (carrier_unreachable, likely_to_fail, "
        "fee_without_success, after_sale_withdrawn, stalled), sorted; empty when none.",
    )
    recipient_name: str | None = None
    recipient_phone: str | None = None
    recipient_province: str | None = None
    recipient_city: str | None = None
    recipient_district: str | None = None
    recipient_address: str | None = None
    parcel_stage: str | None = Field(
        default=None,
        description="Where the parcel was at the request, as the merchant said; null for rows "
        "projected before it was kept.",
    )
    picked_up_at: str | None = Field(
        default=None,
        description="When the carrier picked the parcel up, as the request said; null when "
        "not known.",
    )
    dispatch: DispatchState = Field(
        description="Where the engine's request to the carrier stands (not a projection "
        "column: the carrier gateway's own table). not_connected: the carrier has no "
        "connection configured, nothing is sent and its reports come by hand; pending: not "
        "sent yet; sent: tried, no answer yet; accepted; rejected; unreachable: the engine "
        "gave up for now, call the carrier's service; withdrawn: cancelled before it was "
        "ever sent."
    )


class InterceptPage(BaseModel):
    intercepts: list[InterceptRow]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class TimelineEntry(BaseModel):
    version: int
    event_type: str
    occurred_at: str = Field(description=TIME)
    recorded_at: str = Field(description=TIME)
    actor: str
    data: dict[str, Any]


class InterceptDetail(BaseModel):
    intercept: InterceptRow
    cancellable: bool
    timeline: list[TimelineEntry]


class BatchItem(BaseModel):
    intercept_id: UUID
    outcome: Literal["recorded", "already_cancelled", "duplicate", "refused", "not_found"]
    rule: str | None = None
    message: str


class BatchSummary(BaseModel):
    requested: int
    cancelled_or_already: int
    not_cancelled: int


class BatchResult(BaseModel):
    results: list[BatchItem]
    summary: BatchSummary


class KeyView(BaseModel):
    """A key as listed: never the key itself, never a signing secret."""

    key_id: str
    role: Role
    merchant_id: str | None
    carrier: CarrierCode | None
    created_at: str
    revoked_at: str | None

    @classmethod
    def of(cls, key: ApiKey) -> "KeyView":
        return cls(
            key_id=key.key_id,
            role=key.role,
            merchant_id=key.merchant_id,
            # Stored as the code of the carrier the key was granted for (engine/grant.py).
            carrier=key.carrier,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class NewKey(KeyView):
    """A new key, shown this once."""

    key: str = Field(description="Send as `Authorization: Bearer KEY`. Shown only now.")
    signing_secret: str | None = Field(
        description="Carrier keys only: the secret callbacks are signed with. Shown only now."
    )

    @classmethod
    def issued(cls, issued: IssuedKey) -> "NewKey":
        view = KeyView.of(issued.record).model_dump()
        return cls(**view, key=issued.key, signing_secret=issued.record.signing_secret)


class EvidenceResult(InterceptResult):
    sha256: str = Field(description="The sha256 of the uploaded file, as recorded.")
    size: int = Field(description="The file's size in bytes.")


class ErasureView(BaseModel):
    """What an erasure did (docs/privacy.md)."""

    subjects: list[str]
    intercepts: list[str]
    keys_destroyed: int
    evidence_files_deleted: int
    erased_recorded: int


class AfterSaleView(BaseModel):
    """An after-sale record and what the automatic intercept rule did with it."""

    after_sale_id: str
    merchant_id: str
    order_id: str
    tracking_no: str
    carrier: CarrierCode
    amount_minor: int
    currency: str
    status: AfterSaleStatus
    parcel_stage: str
    picked_up_at: str | None = Field(
        default=None,
        description="When the carrier picked the parcel up, as reported (ISO 8601); null when "
        "not known.",
    )
    reports: int = Field(description="Reports recorded (a repeated one is not counted).")
    auto_rule: Literal["requested", "declined", "pending"] = Field(
        description="requested: the rule requested `intercept_id`; declined: `stopped_by` "
        "names the rule that stopped it; pending: not decided yet."
    )
    stopped_by: str | None
    message: str | None
    intercept_id: UUID | None
    version: int


class AfterSaleResult(BaseModel):
    outcome: Outcome = Field(description="recorded, or unchanged for a report already recorded.")
    after_sale: AfterSaleView


class AfterSaleRow(AfterSaleView):
    reported_at: str = Field(description=TIME)
    updated_at: str = Field(description=TIME)


class AfterSalePage(BaseModel):
    after_sales: list[AfterSaleRow]


class WebhookEndpointView(BaseModel):
    endpoint_id: str
    merchant_id: str
    url: str
    events: list[str]
    status: Literal["enabled", "disabled", "removed"]
    disabled_reason: str | None = Field(
        description="Why the engine disabled it (failing for the whole retry horizon)."
    )
    created_at: str = Field(description=TIME)


class NewWebhookEndpoint(WebhookEndpointView):
    secret: str = Field(description="The signing secret (`whsec_` + base64). Shown only now.")


class WebhookEndpoints(BaseModel):
    endpoints: list[WebhookEndpointView]


class WebhookDelivery(BaseModel):
    delivery_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    endpoint_id: str
    merchant_id: str
    intercept_id: UUID
    event_id: UUID
    event_type: str
    position: int
    status: Literal["pending", "delivered"]
    attempts: int
    next_attempt_at: str
    first_attempt_at: str | None
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    created_at: str


class WebhookDeliveries(BaseModel):
    deliveries: list[WebhookDelivery]
