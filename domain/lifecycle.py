"""The lifecycle of an intercept, declared once: states, moves, and what a report means.

The aggregate decides and evolves with these functions, and the projection's row
function applies the same `status_after`, so the two cannot disagree about where
a history leaves an intercept. Everything here is a pure function of words from
the vocabulary: no event, no state object, no clock.
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from domain.vocabulary import CarrierReport, Conflict, FeeKind, Flag, RejectionCode, Status


class Move(StrEnum):
    """A fact that can change an intercept's status: a carrier's report or a cancel."""

    ACCEPTED = CarrierReport.ACCEPTED.value
    CONFIRMED = CarrierReport.CONFIRMED.value
    FAILED = CarrierReport.FAILED.value
    RELEASED = CarrierReport.RELEASED.value
    REJECTED = CarrierReport.REJECTED.value
    RETURNING = CarrierReport.RETURNING.value
    RETURNED = CarrierReport.RETURNED.value
    DELIVERED_TO_NEW_ADDRESS = CarrierReport.DELIVERED_TO_NEW_ADDRESS.value
    CANCEL = "cancel"


OPEN: Final = frozenset({Status.REQUESTED, Status.ACCEPTED})
"""The carrier has not decided yet: the parcel may still be stopped, or the request cancelled."""

CANCELLABLE: Final = OPEN

_INTERCEPTED = Status.INTERCEPTED
_TRANSITIONS: Final[Mapping[Move, Mapping[Status, Status]]] = MappingProxyType(
    {
        Move.ACCEPTED: {Status.REQUESTED: Status.ACCEPTED},
        Move.CONFIRMED: {Status.REQUESTED: _INTERCEPTED, Status.ACCEPTED: _INTERCEPTED},
        Move.FAILED: {Status.REQUESTED: Status.FAILED, Status.ACCEPTED: Status.FAILED},
        # A release lets the parcel go on: it ends a cancel, it never changes the status.
        Move.RELEASED: {},
        Move.REJECTED: {Status.REQUESTED: Status.REJECTED, Status.ACCEPTED: Status.REJECTED},
        # The return journey follows a success. Carriers reorder their callbacks, and a step
        # of the journey proves the parcel was stopped: on an open intercept it implies the
        # success it follows (`implies_success`). A cancelled intercept the carrier stopped
        # anyway makes the same journey in its columns, its status staying cancelled.
        Move.RETURNING: dict.fromkeys(OPEN | {_INTERCEPTED}, Status.RETURNING),
        Move.RETURNED: dict.fromkeys(OPEN | {_INTERCEPTED, Status.RETURNING}, Status.RETURNED),
        Move.DELIVERED_TO_NEW_ADDRESS: dict.fromkeys(
            OPEN | {_INTERCEPTED}, Status.DELIVERED_TO_NEW_ADDRESS
        ),
        Move.CANCEL: {Status.REQUESTED: Status.CANCELLED, Status.ACCEPTED: Status.CANCELLED},
    }
)

TERMINAL: Final = frozenset(Status) - OPEN - {s for table in _TRANSITIONS.values() for s in table}
"""No move leads out of these: a cancel, in particular, is irreversible."""

_OUTCOMES: Final = frozenset(
    {CarrierReport.CONFIRMED, CarrierReport.FAILED, CarrierReport.RELEASED, CarrierReport.REJECTED}
)
"""The carrier's decision on the request: after one, another decision contradicts it."""

_JOURNEY: Final[Mapping[CarrierReport, int]] = MappingProxyType(
    {
        CarrierReport.CONFIRMED: 1,
        CarrierReport.RETURNING: 2,
        CarrierReport.RETURNED: 3,
        CarrierReport.DELIVERED_TO_NEW_ADDRESS: 3,
    }
)
"""A stopped parcel's way, in order: a report earlier on it than the last one is stale."""

SUCCESS_REPORTS: Final = frozenset(_JOURNEY)
"""The reports that say the carrier stopped the parcel."""

DECISIONS: Final = _OUTCOMES | SUCCESS_REPORTS
"""The reports that say what the carrier did with the request (all but the acceptance)."""


def move_of(report: CarrierReport) -> Move:
    return Move(report.value)


def status_after(status: Status, move: Move) -> Status:
    """Where `move` takes `status`; a move the table does not list leaves it where it is."""
    return _TRANSITIONS[move].get(status, status)


def is_open(status: Status) -> bool:
    return status in OPEN


def is_cancellable(status: Status) -> bool:
    return status in CANCELLABLE


def is_success(report: CarrierReport | None, code: RejectionCode | None = None) -> bool:
    """Whether a carrier's report says the parcel was stopped: a confirmation, a step of the
    return journey, or a refusal because another channel stopped it already."""
    if report is CarrierReport.REJECTED:
        return code is RejectionCode.ALREADY_INTERCEPTED_OTHER_CHANNEL
    return report in SUCCESS_REPORTS


def ignored_report(
    stage: CarrierReport | None, report: CarrierReport
) -> Literal["duplicate", "stale"] | None:
    """Why a carrier report changes nothing, or None when it is a new fact to record.

    `duplicate`: it repeats the carrier's last report. `stale`: it would move the intercept
    backwards: an acceptance after the carrier already said something, or a step of the
    return journey (a confirmation included) earlier than the last one reported.
    """
    if stage is report:
        return "duplicate"
    if report is CarrierReport.ACCEPTED and stage is not None:
        return "stale"
    if stage is not None and report in _JOURNEY and _JOURNEY[report] < _JOURNEY.get(stage, 0):
        return "stale"
    return None


def implies_success(decided: bool, report: CarrierReport) -> bool:
    """Whether `report` is a step of the return journey the carrier sent before its success.

    `decided`: whether a report of `DECISIONS` was recorded before this one. Carriers
    reorder callbacks, and `returning` before `confirmed` still proves the parcel was
    stopped: with no decision of the carrier's before it, the step stands for the success
    too. The intercepted time is then the step's own, the latest moment the parcel can
    have been stopped and the only one the engine knows; the confirmation arriving after
    it is stale (`ignored_report`) and records nothing, so that time stays. After a
    failure, a refusal or a release a journey step is a contradiction (`conflict_of`) and
    implies nothing.
    """
    return not decided and report in _JOURNEY and report is not CarrierReport.CONFIRMED


def conflict_of(
    status: Status, stage: CarrierReport | None, report: CarrierReport
) -> Conflict | None:
    """The contradiction a new carrier report raises, given what was said before it.

    A step of the return journey needs a success before it, reported or implied: after a
    failure, a refusal or a release it contradicts what the carrier said. One that
    implies the success (`implies_success`) raises what the success would have.
    """
    if report is CarrierReport.ACCEPTED:
        return None
    if implies_success(stage in DECISIONS, report):
        report = CarrierReport.CONFIRMED
    elif report in _JOURNEY and report is not CarrierReport.CONFIRMED:
        followed = stage is not None and 0 < _JOURNEY.get(stage, 0) < _JOURNEY[report]
        return None if followed else Conflict.CONTRADICTORY_CARRIER_REPORTS
    if stage in _OUTCOMES or stage in _JOURNEY:
        return Conflict.CONTRADICTORY_CARRIER_REPORTS
    if report is CarrierReport.CONFIRMED and status is Status.CANCELLED:
        return Conflict.INTERCEPTED_AFTER_CANCEL
    if report is CarrierReport.RELEASED and status is not Status.CANCELLED:
        return Conflict.RELEASED_WITHOUT_CANCEL
    return None


# ---- flags: what the merchant must look at, that is no contradiction ------------------


def flags_text(flags: Iterable[Flag]) -> str:
    """The row's `flags` column: sorted, comma-separated, "" when none."""
    return ",".join(sorted({f.value for f in flags}))


def flags_after_report(flags: frozenset[Flag], *, succeeded: bool) -> frozenset[Flag]:
    """A carrier's answer says it can be reached; a success justifies an intercept fee.

    `succeeded` is whether any report so far, this one included, said the parcel was stopped.
    """
    kept = flags - {Flag.CARRIER_UNREACHABLE}
    return kept - {Flag.FEE_WITHOUT_SUCCESS} if succeeded else kept


def flags_after_fee(flags: frozenset[Flag], kind: FeeKind, *, succeeded: bool) -> frozenset[Flag]:
    """Carriers charge an intercept fee only on success: one before any is flagged."""
    if kind is FeeKind.INTERCEPT and not succeeded:
        return flags | {Flag.FEE_WITHOUT_SUCCESS}
    return flags


def flags_after_unreachable(flags: frozenset[Flag]) -> frozenset[Flag]:
    return flags | {Flag.CARRIER_UNREACHABLE}
