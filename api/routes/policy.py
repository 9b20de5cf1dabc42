"""PUT/GET /v1/merchants/{merchant_id}/policy: which amounts and carriers may be intercepted."""

from fastapi import APIRouter, Depends

from api.access import allow, require_merchant
from api.bodies import PolicyBody
from api.params import IdempotencyKeyHeader, MerchantId
from api.problem import problems
from api.refusals import NotFound
from api.services import Services, refused_carrier, services
from api.views import PolicyResult, PolicyView
from domain.commands import SetPolicy
from engine.carrier_catalog import CarrierRefused
from engine.keystore import ApiKey
from engine.roles import Role

router = APIRouter(prefix="/v1/merchants/{merchant_id}/policy", tags=["policy"])

_setter = allow(Role.MERCHANT, Role.ADMIN, doing="set a policy")
_reader = allow(Role.MERCHANT, Role.AUDITOR, Role.ADMIN, doing="read a policy")


@router.put("", response_model=PolicyResult, responses=problems(401, 403, 404, 422))
async def set_policy(
    merchant_id: MerchantId,
    body: PolicyBody,
    idempotency_key: IdempotencyKeyHeader = None,
    key: ApiKey = Depends(_setter),
    svc: Services = Depends(services),
) -> PolicyResult:
    """Set the merchant's intercept policy; setting what is already set records nothing."""
    require_merchant(key, merchant_id, "policy")
    command = SetPolicy(
        merchant_id=merchant_id,
        min_amount_minor=body.min_amount_minor,
        max_amount_minor=body.max_amount_minor,
        carriers=frozenset(body.carriers),
        auto_intercept=frozenset(body.auto_intercept),
        accept_within_minutes=body.accept_within_minutes,
        outcome_within_minutes=body.outcome_within_minutes,
        key=idempotency_key,
        actor=key.actor,
        occurred_at=svc.clock(),
    )
    try:
        svc.carriers.admit_all(command.carriers)
    except CarrierRefused as refused:
        raise refused_carrier(refused) from None
    decision = await svc.gateway.execute_one(command)
    return PolicyResult(outcome=decision.outcome, policy=PolicyView.of(decision.state))


@router.get("", response_model=PolicyView, responses=problems(401, 403, 404, 422))
def get_policy(
    merchant_id: MerchantId,
    key: ApiKey = Depends(_reader),
    svc: Services = Depends(services),
) -> PolicyView:
    """The merchant's policy; 404 when it has none (and then no parcel may be intercepted)."""
    require_merchant(key, merchant_id, "policy")
    policy = svc.gateway.policy(merchant_id)
    if policy is None:
        raise NotFound(f"no policy for merchant {merchant_id}")
    return PolicyView.of(policy)
