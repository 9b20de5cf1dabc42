"""Deterministic ids from natural keys, so a retry lands on the same aggregate."""

from functools import lru_cache
from hashlib import sha1
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


_NAMESPACE_BYTES = NAMESPACE.bytes


def event_id_text(originator_id: UUID, version: int) -> str:
    """`str(event_id(originator_id, version))`, without making the UUID: every event's
    envelope and chain link carries it."""
    digest = bytearray(
        sha1(_NAMESPACE_BYTES + f"event/{originator_id}/{version}".encode()).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5, as uuid5 sets it
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@_cached
def after_sale_id(merchant_id: str, after_sale: str) -> UUID:
    return uuid5(NAMESPACE, f"after-sale/{merchant_id}/{after_sale}")


def carrier_request_id(intercept_id: UUID, action: str) -> UUID:
    """The id a carrier sees for one action (`request`, `cancel`) on one intercept: the same
    on every resend, so the carrier answers a resend as the request it already has."""
    return uuid5(NAMESPACE, f"carrier-request/{intercept_id}/{action}")
