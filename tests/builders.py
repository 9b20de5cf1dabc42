"""Commands as a test writes them: valid by default, one field changed at a time."""

from uuid import UUID

from domain.commands import (
    CancelIntercept,
    ChargeFee,
    ReportCarrierOutcome,
    RequestIntercept,
    SetPolicy,
)
from domain.types import Recipient
from tests.conftest import T0

RECIPIENT = Recipient(
    name="Li Lei",
    phone="13800138000",
    province="Zhejiang",
    city="Hangzhou",
    district="Xihu",
    address="No. 1 Road, Room 101",
)


def policy(merchant: str = "m1", **changes) -> SetPolicy:
    fields = dict(
        merchant_id=merchant,
        min_amount_minor=100,
        max_amount_minor=500_000,
        carriers=frozenset({"ZTO", "SF"}),
        actor="ops",
        occurred_at=T0,
    )
    return SetPolicy(**{**fields, **changes})


def request(key: str = "k1", **changes) -> RequestIntercept:
    fields = dict(
        merchant_id="m1",
        order_id="o1",
        tracking_no="ZT1000",
        carrier="ZTO",
        amount_minor=19_900,
        request_reason="buyer_refund",
        actor="m1-staff",
        occurred_at=T0,
        key=key,
    )
    return RequestIntercept(**{**fields, **changes})


def cancel(iid: UUID, **changes) -> CancelIntercept:
    fields = dict(intercept_id=iid, reason="misoperation", actor="m1-staff", occurred_at=T0)
    return CancelIntercept(**{**fields, **changes})


def carrier(iid: UUID, report: str, **changes) -> ReportCarrierOutcome:
    fields = dict(intercept_id=iid, carrier="ZTO", report=report, actor="zto", occurred_at=T0)
    if report == "failed":
        fields["reason"] = "too_late_out_for_delivery"
    if report == "rejected":
        fields["code"] = "conditions_not_met"
    return ReportCarrierOutcome(**{**fields, **changes})


def fee(iid: UUID, **changes) -> ChargeFee:
    fields = dict(
        intercept_id=iid, kind="return_shipping", amount_minor=1200, actor="billing", occurred_at=T0
    )
    return ChargeFee(**{**fields, **changes})
