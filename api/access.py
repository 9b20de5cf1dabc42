"""Who may do what: API keys, roles, and what each key can see.

A key that may not see something gets the same 404 as for something that does
not exist, so no key learns of another merchant's intercepts or policy.
"""

from collections.abc import Callable

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.refusals import Forbidden, NotAuthenticated, NotFound
from api.services import Services, services
from domain.intercept import InterceptRequest
from engine.keystore import ApiKey
from engine.roles import Role

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `intercept keys create`, sent as `Authorization: Bearer KEY`.",
)


def caller(
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    svc: Services = Depends(services),
) -> ApiKey:
    if credentials is None:
        raise NotAuthenticated("send an API key as 'Authorization: Bearer KEY'")
    key = svc.keys.authenticate(credentials.credentials)
    if key is None:
        raise NotAuthenticated("the API key is not known or has been revoked")
    return key


def allow(*roles: Role, doing: str) -> Callable[..., ApiKey]:
    """A dependency admitting only keys of these roles."""

    def admitted(key: ApiKey = Depends(caller)) -> ApiKey:
        if key.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise Forbidden(f"{key.role.value} keys cannot {doing}; only {allowed} keys can")
        return key

    return admitted


def sees_merchant(key: ApiKey, merchant_id: str) -> bool:
    if key.role is Role.MERCHANT:
        return key.merchant_id == merchant_id
    return key.role in (Role.AUDITOR, Role.ADMIN)


def require_merchant(key: ApiKey, merchant_id: str, what: str) -> None:
    if not sees_merchant(key, merchant_id):
        raise NotFound(f"no {what} for merchant {merchant_id}")


def visible_intercept(svc: Services, key: ApiKey, intercept_id) -> InterceptRequest:
    """The intercept, if this key may act on it; otherwise the 404 an unknown id gets."""
    state = svc.gateway.intercept(intercept_id)
    if state is None or not _acts_on(key, state):
        raise NotFound(f"no intercept with id {intercept_id}")
    return state


def _acts_on(key: ApiKey, state: InterceptRequest) -> bool:
    if key.role is Role.CARRIER:
        return key.carrier == state.carrier.value
    return sees_merchant(key, state.merchant_id)
