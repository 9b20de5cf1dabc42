"""POST /v1/carriers/{carrier}/callback: a carrier's own callback, in its own protocol.

Carriers call back the way their protocol says (a digest header, a signed form, the
engine's own HMAC headers: docs/carriers.md), not with an API key: the signature is
the authentication, checked with the carrier's configured secret before anything is
read from the body. A bad or missing signature is 401 and nothing runs. The intercept
is found by what the carrier sends (waybill, task number or the engine's id); repeats
and reordered callbacks are harmless, since the domain records each fact once.
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from api.access import allow
from api.problem import problems
from api.refusals import BadSignature, NotFound, ParcelNotFound
from api.services import Services, services
from carriers.protocol import BadCallback
from domain.vocabulary import Action
from engine.carrier_catalog import CarrierRefused
from engine.carrier_gateway import UnknownCarrier, UnknownParcel
from engine.keystore import ApiKey
from engine.roles import Role

router = APIRouter(tags=["carriers"])

CALLBACK_BODY = {
    "requestBody": {
        "required": True,
        "description": "The carrier protocol's own callback body (JSON or a signed form).",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        },
    }
}


async def _raw(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/v1/carriers/{carrier}/callback",
    responses={
        200: {"description": "Taken; the body is what the protocol expects back."},
        **problems(401, 404, 409, 422),
    },
    response_class=Response,
    openapi_extra=CALLBACK_BODY,
)
def carrier_protocol_callback(
    request: Request,
    carrier: Annotated[str, Path(description="The calling carrier's code, e.g. ZTO.")],
    raw: bytes = Depends(_raw),
    svc: Services = Depends(services),
) -> Response:
    """Take a carrier's callback in the protocol its settings name; signed, no API key."""
    desk = svc.carrier_desk
    if desk is None:
        raise NotFound(f"carrier {carrier} has no connection configured")
    try:
        reply = desk.receive(carrier, dict(request.headers), raw, svc.clock(), svc.gateway.execute)
    except UnknownCarrier as unknown:
        raise NotFound(str(unknown)) from None
    except BadCallback as refusal:
        raise BadSignature(str(refusal)) from None
    except UnknownParcel as unknown:
        raise ParcelNotFound(str(unknown)) from None
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type)


@router.get(
    "/v1/eligibility",
    responses={
        200: {"description": "What the carrier says, and what the engine would do."},
        **problems(401, 403, 422),
    },
)
def eligibility(
    carrier: Annotated[str, Query(description="The carrier's code, e.g. ZTO.")],
    tracking: Annotated[str, Query(description="The parcel's tracking number.")],
    action: Annotated[Action, Query(description="What the carrier would be asked.")] = (
        Action.RETURN_TO_SENDER
    ),
    key: ApiKey = Depends(allow(Role.MERCHANT, doing="ask whether a parcel can be intercepted")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    """Ask the carrier whether the parcel can be intercepted now: its stage, whether the
    engine would take the request (and which rule refuses it), and the quoted fee.
    `connected` is false, and `allowed` null, for a carrier with no connection."""
    code = carrier.upper()
    try:
        svc.carriers.entry(code, "carrier")
    except CarrierRefused as refused:
        raise RequestValidationError(
            [{"loc": ("query", "carrier"), "msg": refused.message, "type": "value_error"}]
        ) from None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,63}", tracking):
        raise RequestValidationError(
            [{"loc": ("query", "tracking"), "msg": "not a tracking number", "type": "value_error"}]
        )
    if svc.carrier_desk is None:
        from engine.carrier_gateway import Eligibility

        return Eligibility(code, tracking, action.value, connected=False).as_dict()
    return svc.carrier_desk.eligibility(code, tracking, action.value).as_dict()
