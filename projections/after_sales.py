"""The package center's after-sale records: what each platform report said, and what the
automatic intercept rule did with it (`auto_rule`, and `stopped_by`: the rule that kept it
from requesting).

Caught up from the event store's log (after-sale events are not published to Kafka) with
its own position in `checkpoints`, written in the rows' transaction. A pure row function
of the row and the event; an event not the row's next version is skipped, so a replayed
batch changes nothing.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from domain.after_sale import (
    AfterSaleEvent,
    AfterSaleReported,
    AutoInterceptDeclined,
    AutoInterceptFollowed,
    AutoInterceptRequested,
)
from domain.event import Event, event_classes
from projections.timefmt import stamp
from storage.database import Database

PROJECTION = "after_sales"
SOURCE = "eventstore"
TOPICS = tuple(cls.event_type() for cls in event_classes(AfterSaleEvent))

# The table itself (its DDL) is declared with the other projection tables, in
# projections/schema.py: migrating builds none of the events applied here.
COLUMNS = (
    "after_sale_key",
    "merchant_id",
    "after_sale_id",
    "order_id",
    "tracking_no",
    "carrier",
    "amount_minor",
    "currency",
    "status",
    "parcel_stage",
    "reports",
    "auto_rule",
    "stopped_by",
    "message",
    "intercept_id",
    "reported_at",
    "updated_at",
    "version",
)
Row = dict[str, Any]


def _reported(row: Row | None, e: AfterSaleReported) -> Row:
    base = row or {
        "after_sale_key": str(e.originator_id),
        "merchant_id": e.merchant_id,
        "after_sale_id": e.after_sale_id,
        "reports": 0,
        "stopped_by": None,
        "message": None,
        "intercept_id": None,
        "reported_at": stamp(e.occurred_at),
    }
    return {
        **base,
        "order_id": e.order_id,
        "tracking_no": e.tracking_no,
        "carrier": str(e.carrier),
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "status": e.status.value,
        "parcel_stage": e.parcel_stage.value,
        "reports": base["reports"] + 1,
        # A later report on an after-sale the rule already requested for keeps its answer.
        "auto_rule": "requested" if base["intercept_id"] else "pending",
    }


def _requested(row: Row, e: AutoInterceptRequested) -> Row:
    return {**row, "auto_rule": "requested", "intercept_id": str(e.intercept_id)}


def _declined(row: Row, e: AutoInterceptDeclined) -> Row:
    return {**row, "auto_rule": "declined", "stopped_by": e.rule, "message": e.message}


def _followed(row: Row, e: AutoInterceptFollowed) -> Row:
    return {**row, "auto_rule": "requested"}


_APPLY: dict[type[Event], Callable[[Any, Any], Row]] = {
    AfterSaleReported: _reported,
    AutoInterceptRequested: _requested,
    AutoInterceptDeclined: _declined,
    AutoInterceptFollowed: _followed,
}


def row_after(row: Row | None, event: Event) -> Row | None:
    """The row once `event` applies; None-or-unchanged when it is not the next version."""
    current = row["version"] if row else 0
    if event.originator_version != current + 1:
        return row
    if row is None and not isinstance(event, AfterSaleReported):
        return None
    new = _APPLY[type(event)](row, event)
    new["updated_at"] = stamp(event.recorded_at)
    new["version"] = event.originator_version
    return new


def position(db: Database) -> int:
    rows = db.read(
        "SELECT position FROM checkpoints WHERE projection = ? AND source = ? AND partition = 0",
        (PROJECTION, SOURCE),
    )
    return rows[0]["position"] if rows else 0


def apply(db: Database, batch: Sequence[tuple[int, Event]]) -> None:
    """Apply a batch read from the log and move the position over it, in one transaction."""
    if not batch:
        return
    with db.transaction() as cur:
        keys = sorted({str(e.originator_id) for _, e in batch})
        marks = ", ".join("?" * len(keys))
        found = cur.execute(
            f"SELECT {', '.join(COLUMNS)} FROM after_sales WHERE after_sale_key IN ({marks})",
            keys,
        ).all()
        rows: dict[str, Row | None] = {r["after_sale_key"]: dict(r) for r in found}
        for _, event in batch:
            key = str(event.originator_id)
            rows[key] = row_after(rows.get(key), event)
        cur.execute("DELETE FROM after_sales WHERE after_sale_key IN (" + marks + ")", keys)
        cur.executemany(
            f"INSERT INTO after_sales ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [tuple(r[c] for c in COLUMNS) for r in rows.values() if r is not None],
        )
        cur.execute(
            "INSERT INTO checkpoints (projection, source, partition, position) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (projection, source, partition) DO UPDATE SET position = excluded.position",
            (PROJECTION, SOURCE, batch[-1][0]),
        )


@dataclass
class Scanned:
    """How far one process has read the log and found nothing more of the table's own.

    Kept in memory, apart from the table's position, so that what is stored is a function of
    the log alone (a rebuild records the same position as the live table). Entries up to it
    are committed and were read, so a later catch-up starts after it."""

    up_to: int = 0


def catch_up(
    db: Database,
    read: Callable[[int, int, Sequence[str]], Sequence[tuple[int, Event]]],
    head: Callable[[], int] | None = None,
    scanned: Scanned | None = None,
) -> int:
    """Apply what the log holds after the position. With `head` (the log's last position)
    and `scanned`, a call starts where the last one found nothing more: without them, a log
    with few after-sales is read from the last one on every call, a scan that grows with
    the whole log."""
    seen = 0
    while True:
        # Read before the scan: every entry up to it is committed (the log's positions
        # commit in order), so a scan that then finds none of ours up to it has seen them all.
        top = head() if head is not None else 0
        start = max(position(db), scanned.up_to if scanned is not None else 0)
        batch = read(start, 500, TOPICS)
        apply(db, batch)
        seen += len(batch)
        if len(batch) < 500:
            if scanned is not None:
                scanned.up_to = max(scanned.up_to, top, batch[-1][0] if batch else 0)
            return seen


def list_after_sales(
    db: Database, merchant_id: str | None, limit: int = 50, auto_rule: str | None = None
) -> list[Row]:
    where, params = [], []
    if merchant_id is not None:
        where.append("merchant_id = ?")
        params.append(merchant_id)
    if auto_rule is not None:
        where.append("auto_rule = ?")
        params.append(auto_rule)
    sql = f"SELECT {', '.join(COLUMNS)} FROM after_sales"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [
        dict(r)
        for r in db.read(
            sql + " ORDER BY reported_at DESC, after_sale_key LIMIT ?", (*params, limit)
        )
    ]
