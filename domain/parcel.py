"""A parcel's intercepts: the registry that keeps one open intercept per parcel.

Recording a request writes this aggregate in the same transaction, so two
racing requests for one parcel cannot both succeed: one loses on its version.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain import lifecycle
from domain.errors import ParcelAlreadyIntercepted, ParcelHasOpenIntercept
from domain.event import Event
from domain.types import CarrierCode, Code, Moment
from domain.vocabulary import Status


class InterceptOpened(Event):
    carrier: CarrierCode
    tracking_no: Code
    intercept_id: UUID


@dataclass(frozen=True)
class Parcel:
    id: UUID
    version: int
    carrier: CarrierCode
    tracking_no: str
    intercept_ids: tuple[UUID, ...]


class EarlierIntercept(Protocol):
    """What the parcel's rules read of an earlier intercept of the same parcel."""

    @property
    def id(self) -> UUID: ...

    @property
    def status(self) -> Status: ...

    @property
    def was_intercepted(self) -> bool: ...


def admit_request(parcel: str, earlier: Iterable[EarlierIntercept]) -> None:
    """One open intercept per parcel, and none after a success.

    A success is the carrier's stopping the parcel, whatever followed (the return journey),
    and a refusal because another channel had stopped it already (`lifecycle.is_success`).
    """
    for intercept in earlier:
        if intercept.was_intercepted:
            raise ParcelAlreadyIntercepted(
                f"parcel {parcel} was already intercepted "
                f"(intercept {intercept.id}); it cannot be intercepted again"
            )
        if lifecycle.is_open(intercept.status):
            raise ParcelHasOpenIntercept(
                f"parcel {parcel} already has an open "
                f"intercept {intercept.id} ({intercept.status}); cancel it or wait for the carrier"
            )


def open_intercept(
    parcel: Parcel | None,
    *,
    parcel_id: UUID,
    carrier: CarrierCode,
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
