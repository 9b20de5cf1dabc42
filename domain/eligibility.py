"""Whether a parcel can be intercepted at the stage it is at, and what to watch if it can.

Carriers intercept only parcels in their network: before pickup the merchant cancels the
shipment instead, and once the buyer signed for it there is nothing left to stop. A parcel
out for delivery may still be stopped, but often is not: the request is taken and flagged.
"""

from domain.errors import AlreadySigned, NotPickedUp
from domain.vocabulary import Flag, ParcelStage


def admit_stage(stage: ParcelStage, *, parcel: str) -> frozenset[Flag]:
    """The flags a request at `stage` raises; raises the rule it breaks, if any."""
    if stage is ParcelStage.NOT_PICKED_UP:
        raise NotPickedUp(
            f"parcel {parcel} has not been picked up yet: cancel the shipment instead "
            "of intercepting it"
        )
    if stage is ParcelStage.SIGNED:
        raise AlreadySigned(
            f"parcel {parcel} was already signed for: it is too late to intercept it; "
            "ask the buyer for a return instead"
        )
    return flags_at_stage(stage)


def flags_at_stage(stage: ParcelStage) -> frozenset[Flag]:
    """What a request made at `stage` must be watched for (recorded requests replay this)."""
    if stage is ParcelStage.OUT_FOR_DELIVERY:
        return frozenset({Flag.LIKELY_TO_FAIL})
    return frozenset()
