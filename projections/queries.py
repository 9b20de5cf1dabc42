"""What analysts and merchants ask of the projections: the package center and one intercept."""

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from projections.database import Database, Row
from projections.timefmt import stamp


@dataclass(frozen=True)
class Filters:
    merchant_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    carrier: str | None = None
    after_sale_status: str | None = None
    order_id: str | None = None
    tracking_no: str | None = None
    conflicts_only: bool = False

    @classmethod
    def last_days(cls, days: int, now: datetime, **others) -> "Filters":
        return cls(since=now - timedelta(days=days), **others)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_cursor: str | None = None
    filters: Filters = field(default_factory=Filters)


class BadCursor(ValueError):
    pass


def _encode_cursor(row: Row) -> str:
    raw = orjson.dumps([row["requested_at"], row["intercept_id"]])
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        requested_at, intercept_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(requested_at), str(intercept_id)
    except Exception as error:
        raise BadCursor(f"cursor {cursor!r} is not one this engine gave out") from error


def list_intercepts(
    db: Database, filters: Filters, limit: int = 20, cursor: str | None = None
) -> Page:
    """Newest first, keyset-paginated so pages stay stable while rows arrive."""
    where, params = _where(filters)
    if cursor:
        at, iid = _decode_cursor(cursor)
        where.append("(requested_at < ? OR (requested_at = ? AND intercept_id < ?))")
        params += [at, at, iid]
    sql = "SELECT * FROM intercepts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY requested_at DESC, intercept_id DESC LIMIT ?"
    rows = db.read(sql, [*params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, _encode_cursor(rows[-1]) if more else None, filters)


def _where(f: Filters) -> tuple[list[str], list]:
    clauses: list[str] = []
    params: list = []
    for column, value in (
        ("merchant_id", f.merchant_id),
        ("status", f.status),
        ("carrier", f.carrier),
        ("after_sale_status", f.after_sale_status),
        ("order_id", f.order_id),
        ("tracking_no", f.tracking_no),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.since is not None:
        clauses.append("requested_at >= ?")
        params.append(stamp(f.since))
    if f.until is not None:
        clauses.append("requested_at < ?")
        params.append(stamp(f.until))
    if f.conflicts_only:
        clauses.append("conflict IS NOT NULL")
    return clauses, params


def get_intercept(db: Database, intercept_id: str) -> Row | None:
    rows = db.read("SELECT * FROM intercepts WHERE intercept_id = ?", (intercept_id,))
    return rows[0] if rows else None


def timeline(db: Database, intercept_id: str) -> list[Row]:
    rows = db.read(
        "SELECT version, event_type, occurred_at, recorded_at, actor, data FROM intercept_events "
        "WHERE intercept_id = ? ORDER BY version",
        (intercept_id,),
    )
    for row in rows:
        row["data"] = orjson.loads(row["data"])
    return rows


def summary(db: Database, merchant_id: str | None = None) -> dict:
    where, params = _where(Filters(merchant_id=merchant_id))
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    by_status = db.read(
        f"SELECT status, COUNT(*) AS n FROM intercepts{clause} GROUP BY status ORDER BY status",
        params,
    )
    conflicts = db.read(
        f"SELECT conflict, COUNT(*) AS n FROM intercepts{clause}"
        f"{' AND' if clause else ' WHERE'} conflict IS NOT NULL GROUP BY conflict ORDER BY conflict",
        params,
    )
    totals = db.read(
        # PostgreSQL sums BIGINTs as NUMERIC; the cast keeps it an integer there too.
        "SELECT COUNT(*) AS intercepts, "
        f"CAST(COALESCE(SUM(fees_minor), 0) AS BIGINT) AS fees_minor FROM intercepts{clause}",
        params,
    )[0]
    return {
        "intercepts": totals["intercepts"],
        "fees_minor": totals["fees_minor"],
        "by_status": {r["status"]: r["n"] for r in by_status},
        "conflicts": {r["conflict"]: r["n"] for r in conflicts},
    }
