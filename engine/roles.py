"""Who an API key speaks for. Each role opens a different, fixed set of doors."""

from enum import StrEnum


class Role(StrEnum):
    MERCHANT = "merchant"  # acts on its own merchant's intercepts only
    CARRIER = "carrier"  # reports outcomes for its own carrier's parcels only
    AUDITOR = "auditor"  # reads everything, changes nothing
    ADMIN = "admin"  # manages keys and merchants' policies
