"""POST /v1/carriers/{carrier}/callbacks: a carrier reports an intercept's outcome.

The carrier's key must be for this carrier, and the raw body must be signed with
that key's secret (see api/signature.py). The signature is checked before the
body is even parsed: an unsigned body gets 401 and nothing is recorded.
Repeated and out-of-order reports are harmless; the domain records each fact once.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.access import allow, visible_intercept
from api.bodies import CarrierCallback
from api.params import IdempotencyKeyHeader
from api.problem import problems
from api.refusals import BadSignature, Forbidden
from api.services import Services, services
from api.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureRefused, verify
from api.views import InterceptResult
from domain.commands import ReportCarrierOutcome
from domain.vocabulary import Carrier
from engine.keystore import ApiKey
from engine.roles import Role

router = APIRouter(tags=["carriers"])

_CALLBACK_SCHEMA = {"$ref": "#/components/schemas/CarrierCallback"}
CALLBACK_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _CALLBACK_SCHEMA}}}
}


async def raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/v1/carriers/{carrier}/callbacks",
    response_model=InterceptResult,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra=CALLBACK_BODY,
)
def carrier_callback(
    carrier: Annotated[Carrier, Path(description="The reporting carrier.")],
    timestamp: Annotated[
        str | None,
        Header(alias=TIMESTAMP_HEADER, description="Unix seconds when the callback was signed."),
    ] = None,
    signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description="`sha256=` + hex HMAC-SHA256 of `TIMESTAMP + '.' + raw body` with the "
            "carrier key's signing secret.",
        ),
    ] = None,
    idempotency_key: IdempotencyKeyHeader = None,
    raw: bytes = Depends(raw_body),
    key: ApiKey = Depends(allow(Role.CARRIER, doing="report carrier outcomes")),
    svc: Services = Depends(services),
) -> InterceptResult:
    """Record a carrier's report; a report crossing a cancel is kept and flagged."""
    if key.carrier != carrier.value:
        raise Forbidden(f"this key reports for carrier {key.carrier} only, not {carrier.value}")
    try:
        verify(key.signing_secret or "", timestamp, signature, raw, svc.clock())
    except SignatureRefused as refusal:
        raise BadSignature(str(refusal)) from None
    callback = _parse(raw)
    visible_intercept(svc, key, callback.intercept_id)
    command = ReportCarrierOutcome(
        intercept_id=callback.intercept_id,
        carrier=carrier,
        report=callback.report,
        carrier_ref=callback.carrier_ref,
        reason=callback.reason,
        key=idempotency_key,
        actor=key.actor,
        occurred_at=callback.occurred_at or svc.clock(),
    )
    return InterceptResult.of(svc.gateway.execute(command))


def _parse(raw: bytes) -> CarrierCallback:
    try:
        return CarrierCallback.model_validate_json(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from None
