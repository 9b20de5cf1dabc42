"""How one event changes an intercept's row in the package center.

A pure function of the row and the event, so it can be checked without a
database. It enforces irreversibility on its own: once a row is cancelled,
nothing that arrives moves its status again.
"""

from collections.abc import Callable
from typing import Any

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
    "intercept_id",
    "merchant_id",
    "order_id",
    "tracking_no",
    "carrier",
    "amount_minor",
    "currency",
    "action",
    "request_reason",
    "after_sale_status",
    "status",
    "conflict",
    "cancel_reason",
    "failure_reason",
    "fees_minor",
    "evidence_count",
    "requested_at",
    "accepted_at",
    "confirmed_at",
    "failed_at",
    "cancelled_at",
    "released_at",
    "updated_at",
    "version",
)
FIXED_AT_REQUEST = frozenset(
    {
        "intercept_id",
        "merchant_id",
        "order_id",
        "tracking_no",
        "carrier",
        "amount_minor",
        "currency",
        "action",
        "request_reason",
        "requested_at",
    }
)
"""Columns only the request sets: later events never change them (a property test holds
this), so an update leaves them, and the indexes built on them, alone."""
MUTABLE = tuple(c for c in COLUMNS if c not in FIXED_AT_REQUEST)

# Plain text once, not an enum lookup per event: a rebuild applies millions of them.
_REQUESTED, _ACCEPTED = Status.REQUESTED.value, Status.ACCEPTED.value
_INTERCEPTED, _FAILED, _CANCELLED = (
    Status.INTERCEPTED.value,
    Status.FAILED.value,
    Status.CANCELLED.value,
)
_OPEN = {_REQUESTED, _ACCEPTED}


def _requested(_: Row, e: Requested) -> Row:
    return {
        "intercept_id": str(e.originator_id),
        "merchant_id": e.merchant_id,
        "order_id": e.order_id,
        "tracking_no": e.tracking_no,
        "carrier": e.carrier.value,
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "action": e.action.value,
        "request_reason": e.request_reason,
        "after_sale_status": e.after_sale_status.value,
        "status": _REQUESTED,
        "conflict": None,
        "cancel_reason": None,
        "failure_reason": None,
        "fees_minor": 0,
        "evidence_count": 0,
        "requested_at": stamp(e.occurred_at),
        "accepted_at": None,
        "confirmed_at": None,
        "failed_at": None,
        "cancelled_at": None,
        "released_at": None,
    }


def _move(row: Row, to: str, only_from: set[str]) -> str:
    return to if row["status"] in only_from else row["status"]


def _accepted(row: Row, e: CarrierAccepted) -> Row:
    return {"accepted_at": stamp(e.occurred_at), "status": _move(row, _ACCEPTED, {_REQUESTED})}


def _confirmed(row: Row, e: CarrierConfirmed) -> Row:
    changes = {"confirmed_at": stamp(e.occurred_at), "status": _move(row, _INTERCEPTED, _OPEN)}
    if row["status"] == _CANCELLED:
        changes["conflict"] = _with_conflict(row["conflict"], Conflict.INTERCEPTED_AFTER_CANCEL)
    return changes


def _failed(row: Row, e: CarrierFailed) -> Row:
    return {
        "failed_at": stamp(e.occurred_at),
        "failure_reason": e.reason.value,
        "status": _move(row, _FAILED, _OPEN),
    }


def _released(row: Row, e: CarrierReleased) -> Row:
    return {"released_at": stamp(e.occurred_at)}


def _cancelled(row: Row, e: Cancelled) -> Row:
    if row["status"] not in _OPEN:
        return {}
    return {
        "status": _CANCELLED,
        "cancel_reason": e.reason.value,
        "cancelled_at": stamp(e.occurred_at),
    }


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


_REPORTS_CONFLICTS = frozenset(cls for cls in _APPLY if "conflict" in cls.model_fields)


def _with_conflict(current: str | None, conflict: Conflict) -> str:
    known = current.split(",") if current else []
    return ",".join(known if conflict.value in known else [*known, conflict.value])


def row_after(row: Row | None, event: InterceptEvent) -> Row:
    """The row once `event` is applied; `event` must be the row's next version."""
    base = row or {}
    changes = _APPLY[type(event)](base, event)
    new = {**base, **changes}
    reports = type(event) in _REPORTS_CONFLICTS
    conflict = event.conflict if reports else None  # type: ignore[attr-defined]
    if conflict is not None:
        new["conflict"] = _with_conflict(new.get("conflict"), conflict)
    if base.get("status") == _CANCELLED:
        new["status"] = _CANCELLED  # irreversible, whatever arrived
    new["updated_at"] = stamp(event.recorded_at)
    new["version"] = event.originator_version
    return new
