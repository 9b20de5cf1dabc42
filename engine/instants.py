"""Times people type, and the windows of request time they select.

Apart from the use cases (engine/usecases.py, which name them too) so that a command
parsing a time builds nothing else.
"""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 90
"""The package center's window when neither days nor since/until are given."""

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadInstant(ValueError):
    """A time a person typed that is not one; the message says what is expected."""


def instant(text: str, zone: str = "UTC") -> datetime:
    """An ISO 8601 time with its zone, or a bare date meaning the start of that day in
    `zone` (the package center's, `INTERCEPT_TIMEZONE`, for a person's dates).

    A naive time is refused rather than guessed: the same wall-clock time is eight
    hours apart in Shanghai and in UTC. A date alone has one reading people expect: the
    day on their calendar, the one the statistics count a request in.
    """
    text = text.strip()
    if _DATE_ONLY.fullmatch(text):
        try:
            day = datetime.fromisoformat(text).date()
        except ValueError:
            raise BadInstant(f"{text!r} is not a date like 2026-11-01") from None
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInstant(
            f"{text!r} is not an ISO 8601 time like 2026-11-26T10:00:00+08:00 or a date "
            "like 2026-11-01"
        ) from None
    if moment.tzinfo is None:
        raise BadInstant(f"{text!r} needs a timezone, e.g. +08:00 or Z")
    return moment


def is_date(text: str) -> bool:
    """Whether `text` is a date alone (YYYY-MM-DD), not a time."""
    return bool(_DATE_ONLY.fullmatch(text.strip()))


def day_or_instant(text: str) -> date | datetime:
    """`instant`'s reading, keeping a date alone as a day (whose zone the caller knows)."""
    if _DATE_ONLY.fullmatch(text.strip()):
        return instant(text).date()
    return instant(text)


def start_of(value: date | datetime | None, zone: str) -> datetime | None:
    """A time as it is; a day as its start in `zone`."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), tzinfo=ZoneInfo(zone))


def one_window(days: int | None, since: date | None, until: date | None) -> None:
    """A window is given one way: `ValueError` for days together with since/until."""
    if days is not None and (since is not None or until is not None):
        raise ValueError("use either days or since/until, not both")


def window(
    days: int | None, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The requested-at window: explicit bounds, or the last `days` (default 90) up to now."""
    one_window(days, since, until)
    if since is None and until is None:
        since = now - timedelta(days=days or DEFAULT_DAYS)
    return since, until
