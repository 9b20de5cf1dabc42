"""Intercepts as they stood at a moment: by the engine's clock or by the parties' own.

`recorded` (as of TIME): what the engine knew at TIME, i.e. every intercept's events up
to its first one recorded after TIME; a state that really existed in the projections.
`occurred` (occurred as of TIME): the facts that happened by TIME by the merchant's or
carrier's own clock (`occurred_at`), however late they were reported; applied in the
order the engine recorded them, which is the order its decisions were made in. An
intercept enters this view with its request: a carrier may date a report before the
merchant's request, and before the request there is no intercept to show it on.
Both read only the recorded events: never the clock.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from domain.events import InterceptEvent, Requested
from projections import stats_store
from projections.intercepts import Row, row_after
from projections.personal import NO_KEYS, Keys
from projections.personal_events import opened, timeline_data
from projections.store import Tables
from projections.timefmt import stamp
from storage.database import Database

Clock = Literal["recorded", "occurred"]


@dataclass
class Cutoff:
    at: datetime
    clock: Clock = "recorded"
    _stopped: set[UUID] = field(default_factory=set, repr=False)
    _requested: set[UUID] = field(default_factory=set, repr=False)

    def keeps(self, event: InterceptEvent) -> bool:
        """Whether the view as of this cutoff includes `event`; feed events in log order."""
        if self.clock == "occurred":
            if event.occurred_at > self.at:
                return False
            if isinstance(event, Requested):
                self._requested.add(event.originator_id)
                return True
            return event.originator_id in self._requested
        if event.originator_id in self._stopped:
            return False
        if event.recorded_at > self.at:
            self._stopped.add(event.originator_id)
            return False
        return True


def timeline_entry(event: InterceptEvent) -> Row:
    """One line of an intercept's timeline, as the projections keep it."""
    return {
        "version": event.originator_version,
        "event_type": event.event_type(),
        "occurred_at": stamp(event.occurred_at),
        "recorded_at": stamp(event.recorded_at),
        "actor": event.actor,
        "data": event.payload(),
    }


def intercept_as_of(
    events: Iterable[InterceptEvent], cutoff: Cutoff
) -> tuple[Row | None, list[Row]]:
    """One intercept's row and timeline at the cutoff; (None, []) if it did not exist yet."""
    row: Row | None = None
    timeline: list[Row] = []
    for event in events:
        if cutoff.keeps(event):
            row = row_after(row, event)
            timeline.append(timeline_entry(event))
    return row, timeline


def write_batch(db: Database, events: Sequence[InterceptEvent], keys: Keys = NO_KEYS) -> None:
    """Fold events (already cut, in log order) into a point-in-time database."""
    if not events:
        return
    with db.transaction() as cur:
        tables = Tables(cur)
        rows: dict[str, Row | None] = {}
        before: dict[str, Row | None] = {}
        timeline = []
        for event in events:
            key = str(event.originator_id)
            if key not in rows:
                rows[key] = before[key] = tables.row_of(key)
            rows[key] = row_after(rows[key], opened(event, keys))
            entry = timeline_entry(event)
            timeline.append(
                (
                    key,
                    entry["version"],
                    entry["event_type"],
                    entry["occurred_at"],
                    entry["recorded_at"],
                    entry["actor"],
                    timeline_data(event, keys),
                )
            )
        tables.replace_rows(rows.values())  # type: ignore[arg-type]
        tables.append_timeline(timeline)
        # A view as of a past time answers `intercept stats` too: its statistics are its rows'.
        stats_store.record_changes(cur, ((before[k], r) for k, r in rows.items()))  # type: ignore[misc]
