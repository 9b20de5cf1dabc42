"""Where the relay got to: its positions, kept in the event store's own database."""

from dataclasses import dataclass

from storage.database import Database
from storage.dialect import DDL_LOCK


@dataclass(frozen=True)
class Landmark:
    """Where the last acknowledged record sits on the topic, and what it was.

    A lost topic can come back empty under the same name (brokers auto-create
    topics that clients ask about), so existence proves nothing. Finding this
    record where the broker said it put it does.
    """

    partition: int
    offset: int
    event_id: str


class RelayPositions:
    """The last acknowledged position per topic, kept beside the events themselves."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Under the event store's DDL lock: relays starting together on a fresh PostgreSQL
        # database would otherwise race each other's CREATE TABLE.
        with db.ddl(DDL_LOCK) as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS relay_positions (topic TEXT PRIMARY KEY, "
                "position BIGINT NOT NULL, partition INTEGER, record_offset BIGINT, event_id TEXT)"
            )

    def get(self, topic: str) -> int:
        rows = self.db.read("SELECT position FROM relay_positions WHERE topic = ?", (topic,))
        return rows[0]["position"] if rows else 0

    def landmark(self, topic: str) -> Landmark | None:
        rows = self.db.read(
            "SELECT partition, record_offset, event_id FROM relay_positions WHERE topic = ? "
            "AND event_id IS NOT NULL",
            (topic,),
        )
        return (
            Landmark(rows[0]["partition"], rows[0]["record_offset"], rows[0]["event_id"])
            if rows
            else None
        )

    def set(self, topic: str, position: int, landmark: Landmark | None = None) -> None:
        mark = (landmark.partition, landmark.offset, landmark.event_id) if landmark else (None,) * 3
        with self.db.transaction() as cur:
            if landmark is None and position > 0:
                cur.execute(
                    "INSERT INTO relay_positions (topic, position) VALUES (?, ?) "
                    "ON CONFLICT (topic) DO UPDATE SET position = excluded.position",
                    (topic, position),
                )
                return
            cur.execute(
                "INSERT INTO relay_positions (topic, position, partition, record_offset, event_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (topic) DO UPDATE SET "
                "position = excluded.position, partition = excluded.partition, "
                "record_offset = excluded.record_offset, event_id = excluded.event_id",
                (topic, position, *mark),
            )
