"""The package center's filters as the page sends them (a query string) and links them.

Read strictly, as the API reads its query: a value that is not one of the words
offered is refused with the field it came from, never guessed or dropped.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode

from pydantic import TypeAdapter, ValidationError

from domain.types import Code
from domain.vocabulary import AfterSaleStatus, Carrier, Status
from engine import usecases
from web.present import Clock

QUICK_RANGES = (7, 30, 90)
"""Days offered as quick ranges; 90 (about three months) is the default."""
DEFAULT_RANGE = "90"
PAGE_SIZE = 20

_CODE = TypeAdapter(Code)


class BadFilter(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def carriers() -> list[str]:
    """The carriers built in; the pages offer the configured catalog's instead."""
    return [c.value for c in Carrier]


def statuses() -> list[str]:
    return [s.value for s in Status]


def after_sale_statuses() -> list[str]:
    return [s.value for s in AfterSaleStatus]


@dataclass(frozen=True)
class View:
    """What the merchant chose, as text: the form's values and the links' query."""

    range: str = DEFAULT_RANGE  # "7", "30", "90" or "dates"
    since: str = ""  # YYYY-MM-DD, with range "dates"
    until: str = ""  # YYYY-MM-DD, inclusive, with range "dates"
    status: str = ""
    after_sale_status: str = ""
    carrier: str = ""
    order_id: str = ""
    tracking_no: str = ""
    conflicts: str = ""  # "1" or ""
    cursor: str = ""

    def query(self, **changes: str) -> str:
        """This view's query string with `changes`, leaving out what is at its default."""
        chosen = replace(self, **changes)
        pairs = [
            (f.name, getattr(chosen, f.name))
            for f in fields(chosen)
            if getattr(chosen, f.name) and getattr(chosen, f.name) != f.default
        ]
        return urlencode(pairs)

    def without_page(self) -> "View":
        return replace(self, cursor="")


def _one_of(params: Mapping[str, str], name: str, allowed: Iterable[str]) -> str:
    value = params.get(name, "")
    if value and value not in allowed:
        raise BadFilter(name, f"must be one of {', '.join(allowed)}")
    return value


def _code(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if value:
        try:
            _CODE.validate_python(value)
        except ValidationError:
            raise BadFilter(
                name, "must be 1-64 letters, digits or _ . : @ -, starting with a letter or digit"
            ) from None
    return value


def _day(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if value:
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            raise BadFilter(name, "must be a date like 2026-11-01") from None
    return value


def parse(params: Mapping[str, str], carrier_codes: Iterable[str] | None = None) -> View:
    """The view a query string asks for; `BadFilter` naming the first wrong field.

    `carrier_codes`: the carriers offered (the configured catalog's)."""
    known = {f.name for f in fields(View)}
    for name in params:
        if name not in known:
            raise BadFilter(name, "is not a filter of the package center")
    chosen = params.get("range", DEFAULT_RANGE) or DEFAULT_RANGE
    if chosen not in {*map(str, QUICK_RANGES), "dates"}:
        raise BadFilter("range", "must be 7, 30, 90 or dates")
    conflicts = params.get("conflicts", "")
    if conflicts not in ("", "1"):
        raise BadFilter("conflicts", "must be 1 or left out")
    view = View(
        range=chosen,
        since=_day(params, "since"),
        until=_day(params, "until"),
        status=_one_of(params, "status", statuses()),
        after_sale_status=_one_of(params, "after_sale_status", after_sale_statuses()),
        carrier=_one_of(params, "carrier", list(carrier_codes or carriers())),
        order_id=_code(params, "order_id"),
        tracking_no=_code(params, "tracking_no"),
        conflicts=conflicts,
        cursor=params.get("cursor", "")[:512],
    )
    if view.range == "dates" and not (view.since or view.until):
        raise BadFilter("since", "choose a first or a last day, or a quick range")
    if view.since and view.until and view.until < view.since:
        raise BadFilter("until", "must not be before the first day")
    return view


def request(
    view: View, merchant_id: str | None, clock: Clock, limit: int = PAGE_SIZE
) -> usecases.ListRequest:
    """The shared use case's request for this view; dates are whole days in the merchant's zone."""
    since = until = None
    days: int | None = None
    if view.range == "dates":
        since = clock.midnight(view.since) if view.since else None
        # The last day is included: the window ends at the next day's start.
        until = clock.midnight(view.until) + timedelta(days=1) if view.until else None
    else:
        days = int(view.range)
    return usecases.ListRequest(
        merchant_id=merchant_id,
        days=days,
        since=since,
        until=until,
        status=view.status or None,
        carrier=view.carrier or None,
        after_sale_status=view.after_sale_status or None,
        order_id=view.order_id or None,
        tracking_no=view.tracking_no or None,
        conflicts_only=view.conflicts == "1",
        limit=limit,
        cursor=view.cursor or None,
    )
