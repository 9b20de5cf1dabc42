"""How far each reader of the event log is behind, read from the databases themselves.

One place computes every lag, so `intercept status`, the processes' gauges and the
readiness checks agree. Positions come from where the readers store them: the relay's
in `relay_positions` (event store), the projections' in `checkpoints` (projection
database). The topic's end per partition is the relay's own record of what the broker
acknowledged (`relay_partition_ends`), not the broker's answer to an end-offset query,
which some brokers (Tansu) get wrong. Records that reach the topic another way (a DLQ
redrive) are not in it: a consumer past the relay's end counts as caught up.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.envelope import INTERCEPT_EVENT_TYPES
from engine.store.positions import RelayPositions
from projections.catchup import EVENT_STORE
from projections.projector import PROJECTION
from projections.store import positions
from storage.database import Database

_TOPICS = tuple(INTERCEPT_EVENT_TYPES)

# Counting the relay's backlog reads the log's index up to this many entries: a backlog
# this large is an alert either way, and counting further would load the store for nothing.
BACKLOG_CAP = 10_000


@dataclass
class PartitionLag:
    partition: int
    end: int
    position: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.position)


@dataclass
class Readings:
    head: int  # the last position in the event store's log
    relay_position: int | None = None
    relay_lag_events: int | None = None
    relay_lag_seconds: float | None = None
    partitions: list[PartitionLag] = field(default_factory=list)
    catch_up_position: int | None = None
    catch_up_lag_events: int | None = None
    pending_events: int | None = None
    oldest_open_intercept: dict[str, Any] | None = None

    @property
    def projection_lag_events(self) -> int:
        """What the projections lack: through Kafka, or from the event store directly."""
        if self.partitions:
            return sum(p.lag for p in self.partitions)
        return self.catch_up_lag_events or 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["partitions"] = [{**asdict(p), "lag": p.lag} for p in self.partitions]
        data["projection_lag_events"] = self.projection_lag_events
        return data


class Observer:
    """Reads positions and heads; every method opens nothing and writes nothing."""

    def __init__(
        self,
        app,
        projections: Database,
        relay_positions: RelayPositions | None,
        topic: str | None,
    ) -> None:
        self.app = app
        self.projections = projections
        self.relay_positions = relay_positions
        self.topic = topic

    def head(self) -> int:
        return self.app.event_log.max_position()

    def _unpublished(self, after: int, limit: int) -> Sequence[Any]:
        return self.app.event_log.log_rows_of(after, limit, _TOPICS)

    def relay(self, now: datetime | None = None) -> tuple[int, int, float]:
        """(position, intercept events not yet published, seconds the oldest one waits)."""
        assert self.relay_positions is not None and self.topic is not None
        position = self.relay_positions.get(self.topic)
        waiting = self._unpublished(position, BACKLOG_CAP)
        if not waiting:
            return position, 0, 0.0
        recorded = _recorded_at(self.app, waiting[0])
        seconds = ((now or datetime.now(UTC)) - recorded).total_seconds() if recorded else 0.0
        return position, len(waiting), max(0.0, seconds)

    def partitions(self) -> list[PartitionLag]:
        assert self.relay_positions is not None and self.topic is not None
        ends = self.relay_positions.ends(self.topic)
        stored = positions(self.projections, PROJECTION, self.topic)
        return [
            PartitionLag(p, ends.get(p, 0), stored.get(p, 0))
            for p in sorted(set(ends) | set(stored))
        ]

    def catch_up(self, embedded: bool) -> tuple[int | None, int | None]:
        """(the embedded catch-up's position in the log, intercept events after it).

        In Kafka mode only when a catch-up ever ran (a replay from the store): otherwise
        there is no such reader, and counting from 0 would only load the store.
        """
        position = positions(self.projections, PROJECTION, EVENT_STORE).get(0)
        if position is None and not embedded:
            return None, None
        position = position or 0
        return position, len(self._unpublished(position, BACKLOG_CAP))

    def pending(self) -> int:
        return self.projections.read("SELECT COUNT(*) AS n FROM pending_events")[0]["n"]

    def oldest_open(self) -> dict[str, Any] | None:
        rows = self.projections.read(
            "SELECT intercept_id, merchant_id, status, requested_at FROM intercepts "
            "WHERE status IN ('requested', 'accepted') ORDER BY requested_at LIMIT 1"
        )
        return rows[0] if rows else None

    def readings(self, embedded: bool, relay: bool = True) -> Readings:
        """Everything, or (`relay=False`, for a consumer's gauges) all but the relay's backlog."""
        found = Readings(head=self.head())
        if not embedded:
            if relay:
                found.relay_position, found.relay_lag_events, found.relay_lag_seconds = self.relay()
            found.partitions = self.partitions()
        found.catch_up_position, found.catch_up_lag_events = self.catch_up(embedded)
        found.pending_events = self.pending()
        found.oldest_open_intercept = self.oldest_open()
        return found


def _recorded_at(app, row: Any) -> datetime | None:
    """When the event in this log row was recorded, from its stored state."""
    try:
        state = orjson.loads(app.event_log.plain_state(bytes(row["state"])))
        value = state.get("recorded_at") or state.get("timestamp")
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except Exception:  # noqa: BLE001 - a damaged record: audit verify names it, lag does not
        return None
