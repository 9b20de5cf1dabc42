"""POST /v1/intercepts/{id}/after-sale: the order's after-sale status changed."""

from fastapi import APIRouter, Depends

from api.access import acting_on, allow
from api.bodies import AfterSaleBody
from api.params import InterceptId, RequiredIdempotencyKeyHeader
from api.problem import problems
from api.services import Services, services
from api.views import InterceptResult
from domain.commands import ChangeAfterSaleStatus
from engine.keystore import ApiKey
from engine.roles import Role

router = APIRouter(prefix="/v1/intercepts", tags=["intercepts"])


@router.post(
    "/{intercept_id}/after-sale",
    response_model=InterceptResult,
    responses=problems(401, 403, 404, 409, 422),
)
async def change_after_sale(
    intercept_id: InterceptId,
    body: AfterSaleBody,
    # Required: a status can be set back, so a late retry without a key could undo
    # a change made after it.
    idempotency_key: RequiredIdempotencyKeyHeader,
    key: ApiKey = Depends(allow(Role.MERCHANT, doing="change intercepts")),
    svc: Services = Depends(services),
) -> InterceptResult:
    """Record the order's new after-sale status; the status it already has records nothing."""
    command = ChangeAfterSaleStatus(
        intercept_id=intercept_id,
        after_sale_status=body.after_sale_status,
        key=idempotency_key,
        actor=key.actor,
        occurred_at=svc.clock(),
    )
    return InterceptResult.of(await svc.gateway.execute_one(command, acting_on(key, intercept_id)))
