"""POST /v1/erasures: an admin erases a data subject's personal data (docs/privacy.md)."""

from fastapi import APIRouter, Depends

from api.access import allow
from api.bodies import ErasureBody
from api.problem import problems
from api.services import Services, services
from api.views import ErasureView
from engine.keystore import ApiKey
from engine.roles import Role

router = APIRouter(prefix="/v1/erasures", tags=["privacy"])


@router.post("", response_model=ErasureView, responses=problems(401, 403, 422))
def erase(
    body: ErasureBody,
    key: ApiKey = Depends(allow(Role.ADMIN, doing="erase personal data")),
    svc: Services = Depends(services),
) -> ErasureView:
    """Destroy the subjects' keys, delete the buyer's evidence files, rewrite the
    projections to `[erased]` and record an `Erased` fact per intercept.

    Idempotent by nature: asking again erases nothing more and records nothing.
    """
    report = svc.gateway.erase(
        svc.evidence,
        actor=key.actor,
        clock=svc.clock,
        order_id=body.order_id,
        subject=body.subject,
        merchant_id=body.merchant_id,
    )
    return ErasureView.model_validate(report.as_dict())
