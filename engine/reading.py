"""What the front doors read, written once: the package center, one intercept, the figures.

Apart from the commands' use cases (engine/usecases.py, which names these too) so that a
command that only reads builds none of the write side: no command models, no event store.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, time, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from domain import lifecycle
from domain.vocabulary import DispatchState, Status
from engine.instants import window
from projections import queries
from projections.personal import Keys
from projections.stats_store import Where, zone_of
from storage.database import Database

T = TypeVar("T")

BadCursor = queries.BadCursor
"""A cursor this engine did not issue."""
Page = queries.Page


class Reads(Protocol):
    """What reading needs of the engine: its projections, and the keys to the sealed fields."""

    def read(self, query: Callable[[Database], T]) -> T: ...

    @property
    def seals(self) -> Keys:
        """Opens sealed personal fields for the readers allowed to see them."""
        ...

    def dispatch_states(self, rows: Sequence[dict[str, Any]]) -> dict[str, DispatchState]:
        """Each row's dispatch to its carrier, by intercept id (`DispatchState`)."""
        ...


@dataclass(frozen=True)
class ListRequest(queries.Filters):
    """The filters, and how the caller said the window and the page: `days` back from now
    (instead of `since`), how many rows, and where the last page ended."""

    days: int | None = None
    limit: int = 20
    cursor: str | None = None


def _filters(request: ListRequest, now: datetime) -> queries.Filters:
    since, until = window(request.days, request.since, request.until, now)
    named = {f.name: getattr(request, f.name) for f in fields(queries.Filters)}
    return queries.Filters(**{**named, "since": since, "until": until})


def list_intercepts(engine: Reads, request: ListRequest, now: datetime) -> Page:
    """The package center, newest first; `BadCursor` for a cursor it did not issue."""
    filters = _filters(request, now)
    page = engine.read(
        lambda db: queries.list_intercepts(db, filters, limit=request.limit, cursor=request.cursor)
    )
    return replace(page, rows=with_dispatch(engine, page.rows))


def with_dispatch(engine: Reads, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with `dispatch`: where the engine's request to the carrier stands, as the
    carrier gateway keeps it (`not_connected` when the carrier has no connection)."""
    states = engine.dispatch_states(rows)
    return [{**row, "dispatch": states[row["intercept_id"]].value} for row in rows]


def status_counts(engine: Reads, request: ListRequest, now: datetime) -> dict[str, int]:
    """How many intercepts each status has under the request's filters, its status aside:
    the package center's tabs, one per status, each counting what choosing it would list."""
    filters = replace(_filters(request, now), status=None)
    return engine.read(lambda db: queries.counts_by_status(db, filters))


def count_intercepts(engine: Reads, request: ListRequest, now: datetime) -> int:
    """How many rows the package center's filters select (all pages together)."""
    filters = _filters(request, now)
    return engine.read(lambda db: queries.count_intercepts(db, filters))


def cancellable(status: str) -> bool:
    """Whether a cancel would still be accepted: the domain's own rule, read from a row."""
    return lifecycle.is_cancellable(Status(status))


@dataclass(frozen=True)
class Detail:
    intercept: dict[str, Any]
    cancellable: bool
    timeline: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "intercept": self.intercept,
            "cancellable": self.cancellable,
            "timeline": self.timeline,
        }


def detail(row: dict[str, Any] | None, timeline: list[dict[str, Any]]) -> Detail | None:
    return None if row is None else Detail(row, cancellable(row["status"]), timeline)


def show_intercept(
    engine: Reads,
    intercept_id: str,
    visible: Callable[[dict[str, Any]], bool] = lambda row: True,
) -> Detail | None:
    """One intercept's row, whether it can still be cancelled, and its timeline.

    `visible` decides from the row alone, before the timeline is read, so an intercept
    the caller may not see answers None at the cost of a missing one, however long its
    history.
    """

    def both(db: Database) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        row = queries.get_intercept(db, intercept_id)
        if row is None or not visible(row):
            return None, []
        return row, queries.timeline(db, intercept_id, engine.seals)

    row, timeline = engine.read(both)
    return detail(None if row is None else with_dispatch(engine, [row])[0], timeline)


STATS_GROUPS = {"carrier": "carrier", "day": "day", "merchant": "merchant_id"}
"""What `--by` / `by=` may group the statistics by, and the column each one is."""


@dataclass(frozen=True)
class StatsRequest:
    """The package center's filters, for statistics: whole days of request in the zone the
    statistics count in (the package center's)."""

    merchant_id: str | None = None
    days: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    carrier: str | None = None
    after_sale_status: str | None = None
    by: str | None = None  # carrier, day or merchant


def stats_days(
    since: datetime | None, until: datetime | None, zone: str = "UTC"
) -> tuple[str | None, str | None]:
    """The whole days of `zone` a window covers: [since's day, the day `until` ends in)."""
    where = ZoneInfo(zone)
    first = since.astimezone(where).date().isoformat() if since else None
    last = None
    if until is not None:
        local = until.astimezone(where)
        day = local.date() if local.time() == time(0) else local.date() + timedelta(days=1)
        last = day.isoformat()
    return first, last


def statistics(engine: Reads, request: StatsRequest, now: datetime) -> dict[str, Any]:
    """The package center's statistics over a window and filters, from the statistics
    projection (never a scan of the rows): counts by status, cancel and success rates,
    reasons, conflicts, fees, latency percentiles per carrier, and the per-day series.

    The window is counted in whole days of the statistics' zone (`stats_days`; a request
    counts in its calendar day there, as in the package center's list); `ValueError` for an unknown
    `by`. The answer is plain JSON-ready data, the same for the CLI, the API and the page.
    """
    if request.by is not None and request.by not in STATS_GROUPS:
        raise ValueError(f"by must be one of {', '.join(STATS_GROUPS)}, not {request.by!r}")
    since, until = window(request.days, request.since, request.until, now)
    zone = engine.read(zone_of)
    first, last = stats_days(since, until, zone)
    where = Where(
        since_day=first,
        until_day=last,
        merchant_id=request.merchant_id,
        carrier=request.carrier,
        after_sale_status=request.after_sale_status,
    )
    by = STATS_GROUPS[request.by] if request.by else None
    figures = engine.read(lambda db: queries.statistics(db, where, by))
    if by == "merchant_id":
        figures["by_merchant"] = figures.pop("by_merchant_id")
    return {
        "window": {
            "since_day": first,
            "until_day": last,
            "zone": zone,
            "merchant_id": request.merchant_id,
            "carrier": request.carrier,
            "after_sale_status": request.after_sale_status,
        },
        **figures,
    }
