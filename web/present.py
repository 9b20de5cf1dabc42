"""How values read on the page: money in yuan, times in the merchant's zone, both clocks."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_SYMBOLS = {"CNY": "¥"}
SAME_MOMENT_SECONDS = 1.0
"""Two clocks this close are shown as one time."""


def moment(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def money(minor: int | None, currency: str = "CNY") -> str:
    """Minor units as yuan (or the currency's major unit): 19900 -> ¥199.00."""
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    amount = f"{sign}{whole:,}.{cents:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


class Clock:
    """Times as the merchant reads them: in its zone, to the second."""

    def __init__(self, zone: str) -> None:
        self.name = zone
        self.zone = ZoneInfo(zone)

    def offset(self, now: datetime) -> str:
        text = now.astimezone(self.zone).strftime("%z")
        return f"UTC{text[:3]}:{text[3:]}"

    def local(self, value: str | datetime | None) -> str:
        at = moment(value) if isinstance(value, str) or value is None else value
        if at is None:
            return ""
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def local_date(self, value: datetime) -> str:
        return value.astimezone(self.zone).strftime("%Y-%m-%d")

    def midnight(self, day: str) -> datetime:
        """The start of a YYYY-MM-DD day in the merchant's zone."""
        date = datetime.strptime(day, "%Y-%m-%d")
        return date.replace(tzinfo=self.zone)


def clocks_differ(occurred_at: str, recorded_at: str) -> bool:
    """Whether the event's own time and the engine's differ enough to show both."""
    occurred, recorded = moment(occurred_at), moment(recorded_at)
    if occurred is None or recorded is None:
        return False
    return abs((recorded - occurred).total_seconds()) >= SAME_MOMENT_SECONDS


def share(value: float | None) -> str:
    """A rate as a percentage; a dash when there is nothing to divide."""
    return "—" if value is None else f"{value * 100:.1f}%"


def duration(seconds: float | None) -> str:
    """A latency in minutes below two hours, in hours above."""
    if seconds is None:
        return "—"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
