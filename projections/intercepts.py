"""How one event changes an intercept's row in the package center.

A pure function of the row and the event, so it can be checked without a
database. It enforces irreversibility on its own: once a row is cancelled,
nothing that arrives moves its status again.
"""

from typing import Any, Callable

from domain.events import (
    AfterSaleStatusChanged,
    Cancelled,
    CarrierAccepted,
    CarrierConfirmed,
    CarrierFailed,
    CarrierReleased,
    EvidenceAttached,
    FeeCharged,
    InterceptEvent,
    Requested,
)
from domain.vocabulary import Conflict, Status
from projections.timefmt import stamp

Row = dict[str, Any]

COLUMNS = (
    "intercept_id", "merchant_id", "order_id", "tracking_no", "carrier", "amount_minor",
    "currency", "action", "request_reason", "after_sale_status", "status", "conflict",
    "cancel_reason", "failure_reason", "fees_minor", "evidence_count", "requested_at",
    "accepted_at", "confirmed_at", "failed_at", "cancelled_at", "released_at",
    "updated_at", "version",
)
_OPEN = {Status.REQUESTED.value, Status.ACCEPTED.value}


def _requested(_: Row, e: Requested) -> Row:
    return {
        "intercept_id": str(e.originator_id), "merchant_id": e.merchant_id,
        "order_id": e.order_id, "tracking_no": e.tracking_no, "carrier": e.carrier.value,
        "amount_minor": e.amount_minor, "currency": e.currency, "action": e.action.value,
        "request_reason": e.request_reason, "after_sale_status": e.after_sale_status.value,
        "status": Status.REQUESTED.value, "conflict": None, "cancel_reason": None,
        "failure_reason": None, "fees_minor": 0, "evidence_count": 0,
        "requested_at": stamp(e.occurred_at), "accepted_at": None, "confirmed_at": None,
        "failed_at": None, "cancelled_at": None, "released_at": None,
    }


def _move(row: Row, to: Status, only_from: set[str]) -> str:
    return to.value if row["status"] in only_from else row["status"]


def _accepted(row: Row, e: CarrierAccepted) -> Row:
    return {"accepted_at": stamp(e.occurred_at),
            "status": _move(row, Status.ACCEPTED, {Status.REQUESTED.value})}


def _confirmed(row: Row, e: CarrierConfirmed) -> Row:
    changes = {"confirmed_at": stamp(e.occurred_at), "status": _move(row, Status.INTERCEPTED, _OPEN)}
    if row["status"] == Status.CANCELLED.value:
        changes["conflict"] = _with_conflict(row["conflict"], Conflict.INTERCEPTED_AFTER_CANCEL)
    return changes


def _failed(row: Row, e: CarrierFailed) -> Row:
    return {"failed_at": stamp(e.occurred_at), "failure_reason": e.reason.value,
            "status": _move(row, Status.FAILED, _OPEN)}


def _released(row: Row, e: CarrierReleased) -> Row:
    return {"released_at": stamp(e.occurred_at)}


def _cancelled(row: Row, e: Cancelled) -> Row:
    if row["status"] not in _OPEN:
        return {}
    return {"status": Status.CANCELLED.value, "cancel_reason": e.reason.value,
            "cancelled_at": stamp(e.occurred_at)}


_APPLY: dict[type, Callable[[Row, Any], Row]] = {
    Requested: _requested,
    CarrierAccepted: _accepted,
    CarrierConfirmed: _confirmed,
    CarrierFailed: _failed,
    CarrierReleased: _released,
    Cancelled: _cancelled,
    FeeCharged: lambda row, e: {"fees_minor": row["fees_minor"] + e.amount_minor},
    EvidenceAttached: lambda row, e: {"evidence_count": row["evidence_count"] + 1},
    AfterSaleStatusChanged: lambda row, e: {"after_sale_status": e.after_sale_status.value},
}


def _with_conflict(current: str | None, conflict: Conflict) -> str:
    known = current.split(",") if current else []
    return ",".join(known if conflict.value in known else [*known, conflict.value])


def row_after(row: Row | None, event: InterceptEvent) -> Row:
    """The row once `event` is applied; `event` must be the row's next version."""
    base = row or {}
    changes = _APPLY[type(event)](base, event)
    new = {**base, **changes}
    conflict = getattr(event, "conflict", None)
    if conflict is not None:
        new["conflict"] = _with_conflict(new.get("conflict"), conflict)
    if base.get("status") == Status.CANCELLED.value:
        new["status"] = Status.CANCELLED.value  # irreversible, whatever arrived
    new["updated_at"] = stamp(event.recorded_at)
    new["version"] = event.originator_version
    return new
