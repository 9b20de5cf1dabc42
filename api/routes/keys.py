"""/v1/keys: an admin key creates, lists and revokes API keys."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.access import allow
from api.problem import problems
from api.refusals import NotFound
from api.services import Services, refused_carrier, services
from api.views import KeyView, NewKey
from engine.carrier_catalog import CarrierRefused
from engine.grant import KeyGrant
from engine.keystore import ApiKey
from engine.roles import Role

router = APIRouter(prefix="/v1/keys", tags=["keys"])

_admin = allow(Role.ADMIN, doing="manage keys")
KeyId = Annotated[str, Path(pattern=r"^key_[0-9a-f]{12}$", description="A key's id.")]


@router.post("", status_code=201, response_model=NewKey, responses=problems(401, 403, 422))
def create_key(
    grant: KeyGrant, _: ApiKey = Depends(_admin), svc: Services = Depends(services)
) -> NewKey:
    """Create a key; the key (and a carrier's signing secret) are shown in this answer only."""
    if grant.carrier is not None:
        try:
            svc.carriers.entry(grant.carrier)
        except CarrierRefused as refused:
            raise refused_carrier(refused) from None
    return NewKey.issued(svc.keys.create(grant))


@router.get("", response_model=list[KeyView], responses=problems(401, 403))
def list_keys(_: ApiKey = Depends(_admin), svc: Services = Depends(services)) -> list[KeyView]:
    return [KeyView.of(k) for k in svc.keys.all()]


@router.post("/{key_id}/revoke", response_model=KeyView, responses=problems(401, 403, 404, 422))
def revoke_key(
    key_id: KeyId, _: ApiKey = Depends(_admin), svc: Services = Depends(services)
) -> KeyView:
    """Revoke a key: from the next request on, it opens nothing."""
    revoked = svc.keys.revoke(key_id)
    if revoked is None:
        raise NotFound(f"no key with id {key_id}")
    return KeyView.of(revoked)
