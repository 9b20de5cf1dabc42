"""One text form for instants in projection tables, so they sort as text."""

from datetime import UTC, datetime
from functools import lru_cache

import orjson

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
    if moment.microsecond:
        # orjson writes RFC 3339 with all six digits of a non-zero fraction, in a
        # third of isoformat's time; a rebuild stamps every event four times.
        return orjson.dumps(moment, option=orjson.OPT_UTC_Z)[1:-1].decode()
    return moment.isoformat(timespec="microseconds")[:26] + "Z"
