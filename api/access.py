"""Who may do what: API keys, roles, and what each key can see.

A key that may not see something gets the same 404 as for something that does
not exist, so no key learns of another merchant's intercepts or policy.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.gateway import Owner
from api.guard import STATE_KEY
from api.refusals import Forbidden, NotAuthenticated, NotFound
from api.services import Services, services
from domain.intercept import InterceptRequest, project_intercept
from engine.composition import Check, Read
from engine.keystore import ApiKey
from engine.roles import Role
from engine.usecases import NotVisible

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `intercept keys create`, sent as `Authorization: Bearer KEY`.",
)


async def caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    svc: Services = Depends(services),
) -> ApiKey:
    return _authenticated(request, credentials, svc)


def _authenticated(
    request: Request, credentials: HTTPAuthorizationCredentials | None, svc: Services
) -> ApiKey:
    known = request.scope.get("state", {}).get(STATE_KEY)
    if known is not None:  # api/guard.py checked it before the body was read
        return known
    if credentials is None:
        raise NotAuthenticated("send an API key as 'Authorization: Bearer KEY'")
    key = svc.keys.authenticate(credentials.credentials)
    if key is None:
        raise NotAuthenticated("the API key is not known or has been revoked")
    return key


def _admit(key: ApiKey, roles: tuple[Role, ...], doing: str) -> ApiKey:
    if key.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"{key.role.value} keys cannot {doing}; only {allowed} keys can")
    return key


def allow(*roles: Role, doing: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency admitting only keys of these roles."""

    async def admitted(key: ApiKey = Depends(caller)) -> ApiKey:
        return _admit(key, roles, doing)

    return admitted


@dataclass(frozen=True)
class Acting:
    """The admitted key and the services, from one dependency."""

    key: ApiKey
    svc: Services


def acting(*roles: Role, doing: str) -> Callable[..., Awaitable[Acting]]:
    """What `allow` decides, with the services, as one dependency: a command route
    resolves it and the bearer scheme (what the OpenAPI document names), nothing more."""

    async def admitted(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
    ) -> Acting:
        svc: Services = request.app.state.services
        return Acting(_admit(_authenticated(request, credentials, svc), roles, doing), svc)

    return admitted


def sees_merchant(key: ApiKey, merchant_id: str) -> bool:
    if key.role is Role.MERCHANT:
        return key.merchant_id == merchant_id
    return key.role in (Role.AUDITOR, Role.ADMIN)


def require_merchant(key: ApiKey, merchant_id: str, what: str) -> None:
    if not sees_merchant(key, merchant_id):
        raise NotFound(f"no {what} for merchant {merchant_id}")


def visible_intercept(svc: Services, key: ApiKey, intercept_id) -> Owner:
    """Whose the intercept is, if this key may act on it; otherwise the 404 an unknown id gets.

    Decided from the intercept's first event only (see Gateway.owner), never
    from its whole history.
    """
    owner = svc.gateway.owner(intercept_id)
    if owner is None or not _acts_on(key, owner):
        raise NotFound(f"no intercept with id {intercept_id}")
    return owner


def acting_on(key: ApiKey, intercept_id: UUID) -> Check:
    """The same decision, made in the command's batch from the intercept it reads anyway.

    Refused as an unknown id is (`NotVisible` is an `UnknownIntercept`: a 404 with the
    same words), so a foreign intercept is answered as a missing one.
    """

    def check(read: Read) -> None:
        state = read(intercept_id, project_intercept)
        if state is None or not acts_on_state(key, state):
            raise NotVisible(f"no intercept with id {intercept_id}")

    return check


def acts_on_state(key: ApiKey, state: InterceptRequest) -> bool:
    return _acts_on(key, Owner(merchant_id=state.merchant_id, carrier=str(state.carrier)))


def _acts_on(key: ApiKey, owner: Owner) -> bool:
    if key.role is Role.CARRIER:
        return key.carrier == owner.carrier
    return sees_merchant(key, owner.merchant_id)
