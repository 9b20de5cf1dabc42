"""One text form for instants in projection tables, so they sort as text."""

from datetime import UTC, datetime
from functools import lru_cache

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# Equal instants give equal text whatever their zone, so a cache keyed by the
# instant is safe; the projector stamps each event's two times twice each.
@lru_cache(maxsize=4096)
def stamp(moment: datetime) -> str:
    offset = moment.utcoffset()
    if offset is None or offset:  # naive (local time) or not UTC yet
        moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime does not pad such years; isoformat would
        return moment.strftime(_FORMAT)
    # isoformat is several times faster than strftime, and a rebuild stamps every event four times.
    return moment.isoformat(timespec="microseconds")[:26] + "Z"
