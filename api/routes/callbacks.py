"""POST /v1/carriers/{carrier}/callbacks: a carrier reports an intercept's outcome.

The carrier's key must be for this carrier, and the raw body must be signed with
that key's secret (see api/signature.py). The signature is checked before the
body is even parsed: an unsigned body gets 401 and nothing is recorded.
A signature is acted on once: sent again, it is answered as a duplicate and
nothing runs, so a captured callback cannot be replayed into new events.
Repeated and out-of-order reports are harmless; the domain records each fact once.
"""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.access import acting_on, acts_on_state, allow
from api.bodies import CarrierCallback
from api.problem import problems
from api.refusals import BadSignature, Forbidden, NotFound
from api.services import Services, services
from api.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WINDOW,
    SignatureRefused,
    verify,
)
from api.views import InterceptResult
from domain.commands import ReportCarrierOutcome
from domain.decision import Outcome
from domain.types import CarrierCode, IdempotencyKey
from engine.keystore import ApiKey
from engine.roles import Role

CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of the engine's clock a carrier's `occurred_at` may be."""

# A signature verifies for WINDOW either side of its timestamp; remembering it
# for twice that covers every moment it could be replayed in.
_REMEMBERED = 2 * WINDOW.total_seconds()

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
    carrier: Annotated[CarrierCode, Path(description="The reporting carrier's catalog code.")],
    timestamp: Annotated[
        str | None,
        Header(alias=TIMESTAMP_HEADER, description="Unix seconds when the callback was signed."),
    ] = None,
    signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description="`sha256=` + hex HMAC-SHA256 of `TIMESTAMP + '.' + raw body` with the "
            "carrier key's signing secret; with an `Idempotency-Key`, of `KEY + '.' + TIMESTAMP "
            "+ '.' + raw body`. Each signature is acted on once; sent again, it is answered "
            "`duplicate` and nothing runs.",
        ),
    ] = None,
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header(
            alias="Idempotency-Key",
            description="Optional, and then signed with the body (see the signature); may not "
            "contain '.'. A retry with the same key and report records nothing new.",
        ),
    ] = None,
    raw: bytes = Depends(raw_body),
    key: ApiKey = Depends(allow(Role.CARRIER, doing="report carrier outcomes")),
    svc: Services = Depends(services),
) -> InterceptResult:
    """Record a carrier's report; a report crossing a cancel is kept and flagged."""
    if key.carrier != carrier:
        raise Forbidden(f"this key reports for carrier {key.carrier} only, not {carrier}")
    now = svc.clock()
    try:
        verify(key.signing_secret or "", timestamp, signature, raw, now, WINDOW, idempotency_key)
    except SignatureRefused as refusal:
        raise BadSignature(str(refusal)) from None
    callback = _parse(raw)
    if callback.occurred_at is not None and callback.occurred_at > now + CLOCK_SKEW:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "occurred_at"),
                    "msg": f"must not be more than {int(CLOCK_SKEW.total_seconds() // 60)} "
                    "minutes ahead of the engine's clock",
                    "type": "value_error",
                }
            ]
        )
    command = ReportCarrierOutcome(
        intercept_id=callback.intercept_id,
        carrier=carrier,
        report=callback.report,
        carrier_ref=callback.carrier_ref,
        reason=callback.reason,
        code=callback.code,
        message=callback.message,
        key=idempotency_key,
        actor=key.actor,
        occurred_at=callback.occurred_at or now,
    )
    seen = (signature or "").strip()
    if not svc.keys.first_sight(seen, now.timestamp(), _REMEMBERED):
        state = svc.gateway.intercept(callback.intercept_id)
        if state is None or not acts_on_state(key, state):
            raise NotFound(f"no intercept with id {callback.intercept_id}")
        return InterceptResult(
            intercept_id=state.id,
            status=state.status,
            outcome=Outcome.DUPLICATE,
            conflicts=list(state.conflicts),
            version=state.version,
        )
    try:
        return InterceptResult.of(
            svc.gateway.execute(command, acting_on(key, callback.intercept_id))
        )
    except BaseException:
        svc.keys.forget_sight(seen)
        raise


def _parse(raw: bytes) -> CarrierCallback:
    try:
        return CarrierCallback.model_validate_json(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from None
