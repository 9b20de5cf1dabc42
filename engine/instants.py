"""Times people type, and the windows of request time they select.

Apart from the use cases (engine/usecases.py, which name them too) so that a command
parsing a time builds nothing else.
"""

import re
from datetime import UTC, datetime, time, timedelta

DEFAULT_DAYS = 90
"""The package center's window when neither days nor since/until are given."""

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadInstant(ValueError):
    """A time a person typed that is not one; the message says what is expected."""


def instant(text: str) -> datetime:
    """An ISO 8601 time with its zone, or a bare date meaning the start of that day in UTC.

    A naive time is refused rather than guessed: the same wall-clock time is eight
    hours apart in Shanghai and in UTC. A date alone has one reading people expect.
    """
    text = text.strip()
    if _DATE_ONLY.fullmatch(text):
        try:
            day = datetime.fromisoformat(text).date()
        except ValueError:
            raise BadInstant(f"{text!r} is not a date like 2026-11-01") from None
        return datetime.combine(day, time(0), tzinfo=UTC)
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


def one_window(days: int | None, since: datetime | None, until: datetime | None) -> None:
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
