"""A parcel's intercepts: the registry that keeps one open intercept per parcel.

Recording a request writes this aggregate in the same transaction, so two
racing requests for one parcel cannot both succeed: one loses on its version.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from domain.event import Event
from domain.types import Code, Moment
from domain.vocabulary import Carrier


class InterceptOpened(Event):
    carrier: Carrier
    tracking_no: Code
    intercept_id: UUID


@dataclass(frozen=True)
class Parcel:
    id: UUID
    version: int
    carrier: Carrier
    tracking_no: str
    intercept_ids: tuple[UUID, ...]


def open_intercept(
    parcel: Parcel | None,
    *,
    parcel_id: UUID,
    carrier: Carrier,
    tracking_no: str,
    intercept_id: UUID,
    now: Moment,
) -> InterceptOpened:
    return InterceptOpened(
        originator_id=parcel_id,
        originator_version=(parcel.version if parcel else 0) + 1,
        recorded_at=now,
        carrier=carrier,
        tracking_no=tracking_no,
        intercept_id=intercept_id,
    )


def evolve(parcel: Parcel | None, event: InterceptOpened) -> Parcel:
    earlier = parcel.intercept_ids if parcel else ()
    return Parcel(
        id=event.originator_id,
        version=event.originator_version,
        carrier=event.carrier,
        tracking_no=event.tracking_no,
        intercept_ids=(*earlier, event.intercept_id),
    )


def project_parcel(parcel: Parcel | None, events: Iterable[InterceptOpened]) -> Parcel | None:
    for event in events:
        parcel = evolve(parcel, event)
    return parcel
