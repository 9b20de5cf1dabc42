"""Deterministic ids from natural keys, so a retry lands on the same aggregate."""

from uuid import UUID, uuid5

NAMESPACE = uuid5(UUID(int=0), "intercept-engine")


def intercept_id(merchant_id: str, idempotency_key: str) -> UUID:
    return uuid5(NAMESPACE, f"intercept/{merchant_id}/{idempotency_key}")


def policy_id(merchant_id: str) -> UUID:
    return uuid5(NAMESPACE, f"policy/{merchant_id}")


def parcel_id(carrier: str, tracking_no: str) -> UUID:
    return uuid5(NAMESPACE, f"parcel/{carrier}/{tracking_no}")


def event_id(originator_id: UUID, version: int) -> UUID:
    return uuid5(NAMESPACE, f"event/{originator_id}/{version}")
