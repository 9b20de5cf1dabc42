"""The merchant's commands on intercepts: request, cancel (one or many), add a fee."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from api.access import Acting, acting, acting_on
from api.bodies import BatchCancelBody, CancelBody, FeeBody, InterceptRequestBody
from api.params import IdempotencyKeyHeader, InterceptId, RequiredIdempotencyKeyHeader
from api.problem import problems
from api.services import refused_carrier
from api.views import BatchResult, InterceptResult, RequestResult
from domain.commands import CancelIntercept, ChargeFee, RequestIntercept
from domain.decision import Outcome
from domain.types import IdempotencyKey
from engine import usecases
from engine.carrier_catalog import CarrierRefused
from engine.roles import Role

router = APIRouter(prefix="/v1/intercepts", tags=["intercepts"])

_merchant = acting(Role.MERCHANT, doing="change intercepts")

RequiredIdempotencyKey = Annotated[
    IdempotencyKey,
    Header(
        alias="Idempotency-Key",
        description="Required. The intercept's id derives from the merchant and this key, so a "
        "retried request lands on the same intercept and is recorded once.",
    ),
]


@router.post(
    "",
    status_code=201,
    response_model=RequestResult,
    responses={
        200: {"model": RequestResult, "description": "A retry: nothing new recorded."},
        **problems(401, 403, 409, 422),
    },
)
async def request_intercept(
    body: InterceptRequestBody,
    response: Response,
    idempotency_key: RequiredIdempotencyKey,
    who: Acting = Depends(_merchant),
) -> RequestResult:
    """Ask the carrier to intercept a parcel for the key's merchant, with the risk estimate
    its own history gives (success probability and likely fee, or not enough history)."""
    key, svc = who.key, who.svc
    assert key.merchant_id is not None  # a merchant key names its merchant (engine/grant.py)
    command = RequestIntercept(
        **body.model_dump(),
        merchant_id=key.merchant_id,
        key=idempotency_key,
        actor=key.actor,
        occurred_at=svc.clock(),
    )
    try:
        svc.carriers.admit(command.carrier, command.action)
    except CarrierRefused as refused:
        raise refused_carrier(refused) from None
    # Read by the writer right after the batch: the loop never waits for the writer's lock.
    decision, risk = await svc.gateway.execute_then(
        command, lambda engine: usecases.request_risk(engine, command)
    )
    if decision.outcome is not Outcome.RECORDED:
        response.status_code = 200
    response.headers["Location"] = f"/v1/intercepts/{decision.state.id}"
    return RequestResult.model_validate({**usecases.result(decision), "risk": risk})


@router.post(
    "/cancel",
    response_model=BatchResult,
    responses=problems(401, 403, 422),
)
async def cancel_many(
    body: BatchCancelBody,
    idempotency_key: IdempotencyKeyHeader = None,
    who: Acting = Depends(_merchant),
) -> BatchResult:
    """Cancel many intercepts (irreversible); each gets its own result, refusals included."""
    key, svc = who.key, who.svc
    commands = usecases.cancel_commands(
        body.intercept_ids, body.reason, body.note, idempotency_key, key.actor, svc.clock()
    )
    checks = [acting_on(key, c.intercept_id) for c in commands]
    answers = await svc.gateway.submit(commands, checks)
    return BatchResult.model_validate(usecases.cancel_results(commands, answers).as_dict())


@router.post(
    "/{intercept_id}/cancel",
    response_model=InterceptResult,
    responses=problems(401, 403, 404, 409, 422),
)
async def cancel(
    intercept_id: InterceptId,
    body: CancelBody,
    idempotency_key: IdempotencyKeyHeader = None,
    who: Acting = Depends(_merchant),
) -> InterceptResult:
    """Cancel an intercept. Irreversible; a repeat answers `already_cancelled`."""
    key, svc = who.key, who.svc
    command = CancelIntercept(
        intercept_id=intercept_id,
        reason=body.reason,
        note=body.note,
        key=idempotency_key,
        actor=key.actor,
        occurred_at=svc.clock(),
    )
    return InterceptResult.of(await svc.gateway.execute_one(command, acting_on(key, intercept_id)))


@router.post(
    "/{intercept_id}/fees",
    response_model=InterceptResult,
    responses=problems(401, 403, 404, 409, 422),
)
async def add_fee(
    intercept_id: InterceptId,
    body: FeeBody,
    idempotency_key: RequiredIdempotencyKeyHeader,
    who: Acting = Depends(_merchant),
) -> InterceptResult:
    """Record a fee the intercept caused, in the order's currency."""
    key, svc = who.key, who.svc
    command = ChargeFee(
        intercept_id=intercept_id,
        **body.model_dump(),
        key=idempotency_key,
        actor=key.actor,
        occurred_at=svc.clock(),
    )
    return InterceptResult.of(await svc.gateway.execute_one(command, acting_on(key, intercept_id)))
