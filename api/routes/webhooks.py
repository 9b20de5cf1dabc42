"""/v1/webhooks: a merchant's webhook endpoints and their delivery log."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.access import allow, require_merchant, sees_merchant
from api.bodies import WebhookBody
from api.problem import problems
from api.refusals import InvalidInput, NotFound
from api.services import Services, services
from api.views import NewWebhookEndpoint, WebhookDeliveries, WebhookEndpoints, WebhookEndpointView
from domain.types import Code
from engine.keystore import ApiKey
from engine.roles import Role
from engine.webhooks import dispatcher as hooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_manager = allow(Role.MERCHANT, Role.ADMIN, doing="manage webhooks")
EndpointId = Annotated[Code, Path(description="The endpoint's id.")]


def _scope(key: ApiKey, merchant_id: str | None) -> str | None:
    """The merchant a listing is for: a merchant key's own; any (or all) for an admin."""
    if key.role is Role.MERCHANT:
        if merchant_id is not None and merchant_id != key.merchant_id:
            raise NotFound(f"no webhooks for merchant {merchant_id}")
        return key.merchant_id
    return merchant_id


@router.post(
    "", response_model=NewWebhookEndpoint, status_code=201, responses=problems(401, 403, 404, 422)
)
def add_webhook(
    body: WebhookBody, key: ApiKey = Depends(_manager), svc: Services = Depends(services)
) -> NewWebhookEndpoint:
    """Register an endpoint. The answer carries its signing secret, shown only this once."""
    require_merchant(key, body.merchant_id, "merchant")
    try:
        added = hooks.add_endpoint(
            svc.webhooks,
            svc.gateway.max_position(),
            body.merchant_id,
            body.url,
            body.events,
            svc.clock(),
            svc.webhooks_allow_private,
        )
    except hooks.BadWebhook as error:
        raise InvalidInput(str(error)) from None
    return NewWebhookEndpoint.model_validate(added)


@router.get("", response_model=WebhookEndpoints, responses=problems(401, 403, 404, 422))
def list_webhooks(
    merchant_id: Annotated[Code | None, Query()] = None,
    key: ApiKey = Depends(_manager),
    svc: Services = Depends(services),
) -> WebhookEndpoints:
    """The endpoints, enabled or disabled (and why); never their secrets."""
    found = hooks.list_endpoints(svc.webhooks, _scope(key, merchant_id))
    return WebhookEndpoints.model_validate({"endpoints": found})


@router.delete(
    "/{endpoint_id}", response_model=WebhookEndpointView, responses=problems(401, 403, 404, 422)
)
def remove_webhook(
    endpoint_id: EndpointId, key: ApiKey = Depends(_manager), svc: Services = Depends(services)
) -> WebhookEndpointView:
    """Remove an endpoint: nothing more is sent to it."""
    try:
        removed = hooks.remove_endpoint(
            svc.webhooks, endpoint_id, svc.clock(), lambda m: sees_merchant(key, m)
        )
    except hooks.UnknownWebhook as error:
        raise NotFound(str(error)) from None
    return WebhookEndpointView.model_validate(removed)


@router.get("/deliveries", response_model=WebhookDeliveries, responses=problems(401, 403, 404, 422))
def list_deliveries(
    merchant_id: Annotated[Code | None, Query()] = None,
    endpoint_id: Annotated[Code | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    key: ApiKey = Depends(_manager),
    svc: Services = Depends(services),
) -> WebhookDeliveries:
    """The delivery log, newest first: status, attempts, last error."""
    found = hooks.list_deliveries(svc.webhooks, _scope(key, merchant_id), endpoint_id, limit)
    return WebhookDeliveries.model_validate({"deliveries": found})


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=WebhookDeliveries,
    responses=problems(401, 403, 404, 422),
)
def redeliver(
    delivery_id: Annotated[Code, Path(description="The delivery's webhook-id.")],
    key: ApiKey = Depends(_manager),
    svc: Services = Depends(services),
) -> WebhookDeliveries:
    """Send a delivery again under the same webhook-id; its endpoint is enabled again."""
    try:
        found = hooks.redeliver(
            svc.webhooks, delivery_id, svc.clock(), lambda m: sees_merchant(key, m)
        )
    except hooks.UnknownWebhook as error:
        raise NotFound(str(error)) from None
    return WebhookDeliveries.model_validate({"deliveries": [found]})
