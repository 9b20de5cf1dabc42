"""POST /v1/after-sales and GET /v1/merchants/{merchant_id}/after-sales[/{after_sale_id}]:
the platform's after-sale records and what the automatic intercept rule did with them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.access import allow, require_merchant
from api.bodies import AfterSaleReportBody
from api.params import MerchantId, QueryInt
from api.problem import problems
from api.refusals import NotFound
from api.services import Services, refused_carrier, services
from api.views import AfterSalePage, AfterSaleResult, AfterSaleView
from domain.commands import ReportAfterSale
from domain.types import Code
from engine import usecases
from engine.carrier_catalog import CarrierRefused
from engine.keystore import ApiKey
from engine.roles import Role

router = APIRouter(tags=["after-sales"])

_reporter = allow(Role.MERCHANT, Role.ADMIN, doing="report after-sale records")
_reader = allow(Role.MERCHANT, Role.AUDITOR, Role.ADMIN, doing="read after-sale records")


@router.post(
    "/v1/after-sales", response_model=AfterSaleResult, responses=problems(401, 403, 404, 409, 422)
)
def report_after_sale(
    body: AfterSaleReportBody,
    key: ApiKey = Depends(_reporter),
    svc: Services = Depends(services),
) -> AfterSaleResult:
    """Record an after-sale report (idempotent by merchant and after-sale id). When the
    merchant's policy lists its status, the engine requests the intercept itself, or says
    which rule stopped it (`auto_rule`, `stopped_by`)."""
    require_merchant(key, body.merchant_id, "merchant")
    command = ReportAfterSale(**body.model_dump(), actor=key.actor, occurred_at=svc.clock())
    try:
        svc.carriers.admit_all([command.carrier], "carrier")
    except CarrierRefused as refused:
        raise refused_carrier(refused) from None
    return AfterSaleResult.model_validate(usecases.report_after_sale(svc.gateway, command))


@router.get(
    "/v1/merchants/{merchant_id}/after-sales/{after_sale_id}",
    response_model=AfterSaleView,
    responses=problems(401, 403, 404, 422),
)
def get_after_sale(
    merchant_id: MerchantId,
    after_sale_id: Annotated[Code, Path(description="The platform's after-sale id.")],
    key: ApiKey = Depends(_reader),
    svc: Services = Depends(services),
) -> AfterSaleView:
    """One after-sale record, as the write side holds it: current even when tables lag."""
    require_merchant(key, merchant_id, "after-sale")
    found = usecases.after_sale(svc.gateway, merchant_id, after_sale_id)
    if found is None:
        raise NotFound(f"no after-sale {after_sale_id} for merchant {merchant_id}")
    return AfterSaleView.model_validate(found)


@router.get(
    "/v1/merchants/{merchant_id}/after-sales",
    response_model=AfterSalePage,
    responses=problems(401, 403, 404, 422),
)
def list_after_sales(
    merchant_id: MerchantId,
    auto_rule: Annotated[str | None, Query(pattern="^(requested|declined|pending)$")] = None,
    limit: Annotated[QueryInt, Query(ge=1, le=1000)] = 50,
    key: ApiKey = Depends(_reader),
    svc: Services = Depends(services),
) -> AfterSalePage:
    """The package center's after-sale records, newest first."""
    require_merchant(key, merchant_id, "after-sale")
    rows = usecases.list_after_sales(svc.gateway, merchant_id, auto_rule, limit)
    return AfterSalePage.model_validate({"after_sales": rows})
