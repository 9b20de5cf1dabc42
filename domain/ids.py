"""Deterministic ids from natural keys, so a retry lands on the same aggregate."""

from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = uuid5(UUID(int=0), "intercept-engine")

# Pure functions of their keys; a command derives each id more than once, and a
# merchant's policy id is derived for every request it makes.
_cached = lru_cache(maxsize=4096)


@_cached
def intercept_id(merchant_id: str, idempotency_key: str) -> UUID:
    return uuid5(NAMESPACE, f"intercept/{merchant_id}/{idempotency_key}")


@_cached
def policy_id(merchant_id: str) -> UUID:
    return uuid5(NAMESPACE, f"policy/{merchant_id}")


@_cached
def parcel_id(carrier: str, tracking_no: str) -> UUID:
    return uuid5(NAMESPACE, f"parcel/{carrier}/{tracking_no}")


def event_id(originator_id: UUID, version: int) -> UUID:
    return uuid5(NAMESPACE, f"event/{originator_id}/{version}")


@_cached
def after_sale_id(merchant_id: str, after_sale: str) -> UUID:
    return uuid5(NAMESPACE, f"after-sale/{merchant_id}/{after_sale}")
