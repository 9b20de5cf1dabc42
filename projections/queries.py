"""What analysts and merchants ask of the projections: the package center and one intercept."""

import base64
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from projections import statistics as stats
from projections import stats_store, store
from projections.personal import NO_KEYS, Keys, revealed_data
from storage.database import Database, Row


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
    before = _decode_cursor(cursor) if cursor else None
    rows = store.newest_intercepts(db, filters, limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, _encode_cursor(rows[-1]) if more else None, filters)


def get_intercept(db: Database, intercept_id: str) -> Row | None:
    return store.intercept(db, intercept_id)


def timeline(db: Database, intercept_id: str, keys: Keys = NO_KEYS) -> list[Row]:
    """An intercept's timeline; with `keys`, its sealed personal fields opened for a reader
    allowed to see them (the intercept's merchant, an auditor: docs/privacy.md)."""
    rows = store.timeline(db, intercept_id)
    for row in rows:
        data = row["data"] if keys is NO_KEYS else revealed_data(row["data"], keys)
        row["data"] = orjson.loads(data)
    return rows


def intercept_ids(db: Database, column: str, value: str, merchant_id: str | None) -> list[str]:
    """Ids of the intercepts with this `order_id` or `tracking_no`, oldest first."""
    return store.intercept_ids(db, column, value, merchant_id)


def counts_by_status(db: Database, filters: Filters) -> dict[str, int]:
    """How many intercepts match the filters, by status (the package center's tabs)."""
    by_status, _, _ = store.counts(db, filters)
    return {r["status"]: r["n"] for r in by_status}


def count_intercepts(db: Database, filters: Filters) -> int:
    return store.count_intercepts(db, filters)


def summary(db: Database, merchant_id: str | None = None) -> dict:
    by_status, conflicts, totals = store.counts(db, Filters(merchant_id=merchant_id))
    return {
        "intercepts": totals["intercepts"],
        "fees_minor": totals["fees_minor"],
        "by_status": {r["status"]: r["n"] for r in by_status},
        "conflicts": {r["conflict"]: r["n"] for r in conflicts},
    }


def journey(db: Database) -> dict:
    """Rejections by code, intercepted, returning, returned, delivered, released, flags."""
    return store.journey_counts(db)


def statistics(db: Database, where: "stats_store.Where", by: str | None = None) -> dict:
    """The figures of the statistics projection over `where`: overall, per carrier, the
    per-day series and, with `by` (carrier, day or merchant_id), per group.

    Read from the aggregates alone, however many intercepts: the counters in one query
    per carrier and one per day, the latency histograms in one per carrier and, by day, one
    of the per-day roll-up, read in key order.
    """
    # Summed by the database, per carrier and per day: two small grouped reads of cells
    # stored in (merchant,) day order, rather than summing every (day, carrier) in Python.
    per_carrier = {r.pop("carrier"): r for r in stats_store.daily_sums(db, where, ("carrier",))}
    per_day = {r.pop("day"): r for r in stats_store.daily_sums(db, where, ("day",))}
    carrier_latency: dict[str, list[Row]] = {}
    for r in stats_store.latency_sums(db, where, "carrier"):
        carrier_latency.setdefault(r["carrier"], []).append(r)
    overall: dict[str, int] = {}
    for counters in per_carrier.values():
        stats.add_counters(overall, counters)
    overall_latency = stats.latency_series([r for rs in carrier_latency.values() for r in rs])
    result = stats.figures(overall, overall_latency)
    result["by_carrier"] = {
        carrier: stats.figures(counters, stats.latency_series(carrier_latency.get(carrier, [])))
        for carrier, counters in sorted(per_carrier.items())
        if counters.get("intercepts")
    }
    result["series"] = [
        stats.series_point(day, counters)
        for day, counters in sorted(per_day.items())
        if counters.get("intercepts")
    ]
    if where.since_day is not None:
        result["calibration"] = stats.calibration(
            stats_store.risk_sums(db, where.merchant_id, until_day=where.since_day),
            stats_store.risk_sums(db, where.merchant_id, where.since_day, where.until_day),
        )
    if by is not None and by != "carrier":
        group_latency: dict[str, list[Row]] = {}
        for r in stats_store.latency_sums(db, where, by):
            group_latency.setdefault(r[by], []).append(r)
        counters_by = (
            per_day
            if by == "day"
            else {r.pop(by): r for r in stats_store.daily_sums(db, where, (by,))}
        )
        result[f"by_{by}"] = {
            group: stats.figures(counters, stats.latency_series(group_latency.get(group, [])))
            for group, counters in sorted(counters_by.items())
            if counters.get("intercepts")
        }
    return result


def risk(db: Database, merchant_id: str, carrier: str | None = None) -> list[dict]:
    """The merchant's whole history as a table of rates by bucket."""
    return stats.risk_table(stats_store.risk_sums(db, merchant_id, carrier=carrier))
