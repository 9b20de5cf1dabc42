"""The lifecycle of an intercept, declared once: states, moves, and what a report means.

The aggregate decides and evolves with these functions, and the projection's row
function applies the same `status_after`, so the two cannot disagree about where
a history leaves an intercept. Everything here is a pure function of words from
the vocabulary: no event, no state object, no clock.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from domain.vocabulary import CarrierReport, Conflict, Status


class Move(StrEnum):
    """A fact that can change an intercept's status: a carrier's report or a cancel."""

    ACCEPTED = CarrierReport.ACCEPTED.value
    CONFIRMED = CarrierReport.CONFIRMED.value
    FAILED = CarrierReport.FAILED.value
    RELEASED = CarrierReport.RELEASED.value
    CANCEL = "cancel"


OPEN: Final = frozenset({Status.REQUESTED, Status.ACCEPTED})
"""The carrier has not decided yet: the parcel may still be stopped, or the request cancelled."""

CANCELLABLE: Final = OPEN
TERMINAL: Final = frozenset(Status) - OPEN
"""No move leads out of these: a cancel, in particular, is irreversible."""

_TRANSITIONS: Final[Mapping[Move, Mapping[Status, Status]]] = MappingProxyType(
    {
        Move.ACCEPTED: {Status.REQUESTED: Status.ACCEPTED},
        Move.CONFIRMED: {Status.REQUESTED: Status.INTERCEPTED, Status.ACCEPTED: Status.INTERCEPTED},
        Move.FAILED: {Status.REQUESTED: Status.FAILED, Status.ACCEPTED: Status.FAILED},
        # A release lets the parcel go on: it ends a cancel, it never changes the status.
        Move.RELEASED: {},
        Move.CANCEL: {Status.REQUESTED: Status.CANCELLED, Status.ACCEPTED: Status.CANCELLED},
    }
)

_CARRIER_OUTCOMES: Final = frozenset(
    {CarrierReport.CONFIRMED, CarrierReport.FAILED, CarrierReport.RELEASED}
)


def move_of(report: CarrierReport) -> Move:
    return Move(report.value)


def status_after(status: Status, move: Move) -> Status:
    """Where `move` takes `status`; a move the table does not list leaves it where it is."""
    return _TRANSITIONS[move].get(status, status)


def is_open(status: Status) -> bool:
    return status in OPEN


def is_cancellable(status: Status) -> bool:
    return status in CANCELLABLE


def ignored_report(
    stage: CarrierReport | None, report: CarrierReport
) -> Literal["duplicate", "stale"] | None:
    """Why a carrier report changes nothing, or None when it is a new fact to record.

    `duplicate`: it repeats the carrier's last report. `stale`: an acceptance after the
    carrier already said something, which would move the intercept backwards.
    """
    if stage is report:
        return "duplicate"
    if report is CarrierReport.ACCEPTED and stage is not None:
        return "stale"
    return None


def conflict_of(
    status: Status, stage: CarrierReport | None, report: CarrierReport
) -> Conflict | None:
    """The contradiction a new carrier report raises, given what was said before it."""
    if report is CarrierReport.ACCEPTED:
        return None
    if stage in _CARRIER_OUTCOMES:
        return Conflict.CONTRADICTORY_CARRIER_REPORTS
    if report is CarrierReport.CONFIRMED and status is Status.CANCELLED:
        return Conflict.INTERCEPTED_AFTER_CANCEL
    if report is CarrierReport.RELEASED and status is not Status.CANCELLED:
        return Conflict.RELEASED_WITHOUT_CANCEL
    return None
