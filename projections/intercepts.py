"""How one event changes an intercept's row in the package center.

A pure function of the row and the event, so it can be checked without a
database. It enforces irreversibility on its own: once a row is cancelled,
nothing that arrives moves its status again.
"""

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from domain import lifecycle
from domain.eligibility import flags_at_stage
from domain.events import (
    CARRIER_EVENTS,
    AfterSaleStatusChanged,
    Cancelled,
    CarrierEvent,
    CarrierFailed,
    CarrierRejected,
    CarrierUnreachable,
    Erased,
    EvidenceAttached,
    FeeCharged,
    InterceptEvent,
    InterceptFlagged,
    InterceptStalled,
    Requested,
)
from domain.lifecycle import Move, move_of, status_after
from domain.personal import subject_kind
from domain.vocabulary import (
    ERASED,
    CarrierReport,
    Conflict,
    FeeKind,
    Flag,
    Payer,
    RejectionCode,
    Status,
)
from projections.row import (
    COLUMNS,
    FIXED_AT_REQUEST,
    MUTABLE,
    PERSONAL,
    RECIPIENT_PARTS,
    UNSET,
    fee_by_kind,
    fee_by_payer,
)
from projections.timefmt import stamp

__all__ = ["COLUMNS", "FIXED_AT_REQUEST", "MUTABLE", "Row", "row_after"]

Row = dict[str, Any]

# The lifecycle's own table, read once into plain text: a rebuild applies millions of
# events, and an enum lookup per event would cost more than the rest of the row.
_NEXT: Mapping[tuple[str, Move], str] = {
    (status.value, move): status_after(status, move).value for status in Status for move in Move
}
_REQUESTED = Status.REQUESTED.value
_NO_FEES = {
    **{fee_by_kind(k): 0 for k in FeeKind},
    **{fee_by_payer(p): 0 for p in Payer},
}
# The columns that say a report of the parcel's being stopped was recorded: with the rejection
# code, what `lifecycle.is_success` reads, so the row knows what the aggregate's `succeeded` is.
_SUCCESS_COLUMNS = tuple(f"{r.value}_at" for r in lifecycle.SUCCESS_REPORTS)
_OTHER_CHANNEL = RejectionCode.ALREADY_INTERCEPTED_OTHER_CHANNEL.value
# A decision's column set is the row's way of knowing the aggregate's stage is past the
# acceptance: what `lifecycle.implies_success` asks.
_DECISION_COLUMNS = tuple(f"{r.value}_at" for r in lifecycle.DECISIONS)
_CONFIRMED_AT = f"{CarrierReport.CONFIRMED.value}_at"


# A rebuild turns the same few flag texts into sets and back millions of times; the
# lifecycle's own functions, remembered per value.
@lru_cache(maxsize=1024)
def _flag_set(text: str) -> frozenset[Flag]:
    return frozenset(Flag(f) for f in text.split(",") if f)


_flags_text = lru_cache(maxsize=1024)(lifecycle.flags_text)
_MOVES: Mapping[CarrierReport, Move] = {r: move_of(r) for r in CarrierReport}
_RECIPIENT_COLUMNS = tuple((f"recipient_{part}", part) for part in RECIPIENT_PARTS)


def _flags(row: Row) -> frozenset[Flag]:
    return _flag_set(row["flags"] or "")


def _succeeded(row: Row, changes: Row | None = None) -> bool:
    """Whether the row says the parcel was stopped; with `changes`, once they are made
    (without copying the row to ask)."""
    if changes:
        if changes.get("rejection_code", row["rejection_code"]) == _OTHER_CHANNEL:
            return True
        return any(changes.get(c, row[c]) is not None for c in _SUCCESS_COLUMNS)
    return row["rejection_code"] == _OTHER_CHANNEL or any(
        row[c] is not None for c in _SUCCESS_COLUMNS
    )


def _decided(row: Row) -> bool:
    for c in _DECISION_COLUMNS:
        if row[c] is not None:
            return True
    return False


def _requested(_: Row, e: Requested) -> Row:
    return {
        **UNSET,
        "intercept_id": str(e.originator_id),
        "merchant_id": e.merchant_id,
        "order_id": e.order_id,
        "tracking_no": e.tracking_no,
        "carrier": e.carrier,
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "action": e.action.value,
        "request_reason": e.request_reason,
        "after_sale_status": e.after_sale_status.value,
        "status": _REQUESTED,
        "fees_minor": 0,
        "evidence_count": 0,
        "requested_at": stamp(e.occurred_at),
        "quoted_fee_minor": e.quoted_fee_minor,
        **_NO_FEES,
        "flags": _flags_text(flags_at_stage(e.parcel_stage)),
        **{
            column: getattr(e.recipient, part) if e.recipient else None
            for column, part in _RECIPIENT_COLUMNS
        },
        "parcel_stage": e.parcel_stage.value,
        "picked_up_at": stamp(e.picked_up_at) if e.picked_up_at else None,
    }


def _carrier(row: Row, e: CarrierEvent) -> Row:
    # Each report has its own time column, named after it (a test holds every one declared).
    changes: Row = {
        f"{e.report.value}_at": stamp(e.occurred_at),
        "status": _NEXT[row["status"], _MOVES[e.report]],
    }
    if lifecycle.implies_success(_decided(row), e.report):
        changes[_CONFIRMED_AT] = changes[f"{e.report.value}_at"]
    if isinstance(e, CarrierFailed):
        changes["failure_reason"] = e.reason.value
    if isinstance(e, CarrierRejected):
        changes["rejection_code"] = e.code.value
    if e.conflict is not None:
        changes["conflict"] = _with_conflict(row["conflict"], e.conflict)
    succeeded = _succeeded(row, changes)
    changes["flags"] = _flags_text(lifecycle.flags_after_report(_flags(row), succeeded=succeeded))
    return changes


def _cancelled(row: Row, e: Cancelled) -> Row:
    status = _NEXT[row["status"], Move.CANCEL]
    if status == row["status"]:
        return {}  # a cancel that changes nothing leaves its reason and time unrecorded too
    return {"status": status, "cancel_reason": e.reason.value, "cancelled_at": stamp(e.occurred_at)}


def _fee(row: Row, e: FeeCharged) -> Row:
    by_kind, by_payer = fee_by_kind(e.kind), fee_by_payer(e.payer)
    flags = lifecycle.flags_after_fee(_flags(row), e.kind, succeeded=_succeeded(row))
    return {
        "fees_minor": row["fees_minor"] + e.amount_minor,
        # A row from before these columns has NULL in them: it counts from here, until rebuilt.
        by_kind: (row[by_kind] or 0) + e.amount_minor,
        by_payer: (row[by_payer] or 0) + e.amount_minor,
        "flags": _flags_text(flags),
    }


def _unreachable(row: Row, e: CarrierUnreachable) -> Row:
    return {"flags": _flags_text(lifecycle.flags_after_unreachable(_flags(row)))}


def _evidence(row: Row, e: EvidenceAttached) -> Row:
    return {"evidence_count": row["evidence_count"] + 1}


def _after_sale(row: Row, e: AfterSaleStatusChanged) -> Row:
    return {"after_sale_status": e.after_sale_status.value}


def _erased(row: Row, e: Erased) -> Row:
    columns = PERSONAL.get(subject_kind(e.subject).value, ())
    return {c: ERASED for c in columns if row.get(c) is not None}


def _flagged(row: Row, e: InterceptFlagged) -> Row:
    return {"flags": _flags_text(_flags(row) | {e.flag})}


def _stalled(row: Row, e: InterceptStalled) -> Row:
    return {"flags": _flags_text(_flags(row) | {Flag.STALLED})}


_APPLY: Mapping[type[InterceptEvent], Callable[[Row, Any], Row]] = {
    **dict.fromkeys(CARRIER_EVENTS.values(), _carrier),
    Cancelled: _cancelled,
    FeeCharged: _fee,
    EvidenceAttached: _evidence,
    AfterSaleStatusChanged: _after_sale,
    Erased: _erased,
    InterceptFlagged: _flagged,
    InterceptStalled: _stalled,
    CarrierUnreachable: _unreachable,
}


def _with_conflict(current: str | None, conflict: Conflict) -> str:
    known = current.split(",") if current else []
    return ",".join(known if conflict.value in known else [*known, conflict.value])


def row_after(row: Row | None, event: InterceptEvent) -> Row:
    """The row once `event` is applied; `event` must be the row's next version.

    The status moves only along the lifecycle's table, so a cancelled row stays
    cancelled whatever arrives; the conflicts are the ones the domain recorded.
    """
    if isinstance(event, Requested):
        new = _requested({}, event)
    elif row is None:
        raise ValueError(f"{event.event_type()} before Requested: no row to apply it to")
    else:
        new = {**row, **_APPLY[type(event)](row, event)}
    new["updated_at"] = stamp(event.recorded_at)
    new["version"] = event.originator_version
    return new
