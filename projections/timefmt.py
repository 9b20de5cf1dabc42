"""One text form for instants in projection tables, so they sort as text."""

from datetime import datetime, timezone


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
