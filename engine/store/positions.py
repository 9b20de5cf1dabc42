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
            # The topic's end per partition as the relay's acknowledgements told it: the
            # consumers' lag is measured against this, because some brokers (Tansu) answer
            # end-offset queries wrongly.
            cur.execute(
                "CREATE TABLE IF NOT EXISTS relay_partition_ends (topic TEXT NOT NULL, "
                "partition INTEGER NOT NULL, next_offset BIGINT NOT NULL, "
                "PRIMARY KEY (topic, partition))"
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

    def ends(self, topic: str) -> dict[int, int]:
        """Per partition, the offset after the last record the relay had acknowledged."""
        rows = self.db.read(
            "SELECT partition, next_offset FROM relay_partition_ends WHERE topic = ?", (topic,)
        )
        return {r["partition"]: r["next_offset"] for r in rows}

    def set(
        self,
        topic: str,
        position: int,
        landmark: Landmark | None = None,
        ends: dict[int, int] | None = None,
    ) -> None:
        mark = (landmark.partition, landmark.offset, landmark.event_id) if landmark else (None,) * 3
        with self.db.transaction() as cur:
            if position == 0:  # a republish: the topic starts over, and so do its ends
                cur.execute("DELETE FROM relay_partition_ends WHERE topic = ?", (topic,))
            for partition, next_offset in (ends or {}).items():
                # Never backwards: a resend after a takeover acknowledges lower offsets
                # only if the broker lost records, which check_topic reports on its own.
                cur.execute(
                    "INSERT INTO relay_partition_ends (topic, partition, next_offset) "
                    "VALUES (?, ?, ?) ON CONFLICT (topic, partition) DO UPDATE SET "
                    "next_offset = CASE WHEN excluded.next_offset > "
                    "relay_partition_ends.next_offset THEN excluded.next_offset "
                    "ELSE relay_partition_ends.next_offset END",
                    (topic, partition, next_offset),
                )
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


class ProcessPositions:
    """Where each process manager over the log got to (`process_positions`).

    A reader whose effects are events (the automatic rule) writes its position in the
    events' own transaction (engine/store/recorders.py, `tracking=`); `set` is for a
    step that recorded nothing, where there is no effect to keep it with.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.ddl(DDL_LOCK) as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS process_positions (reader TEXT PRIMARY KEY, "
                "position BIGINT NOT NULL)"
            )

    def get(self, reader: str) -> int:
        rows = self.db.read("SELECT position FROM process_positions WHERE reader = ?", (reader,))
        return rows[0]["position"] if rows else 0

    def set(self, reader: str, position: int) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO process_positions (reader, position) VALUES (?, ?) "
                "ON CONFLICT (reader) DO UPDATE SET position = excluded.position",
                (reader, position),
            )


def log_head(db: Database, events_table: str = "stored_events") -> int:
    """The event store's last position, 0 when it holds nothing: whether anything was
    recorded since a position, asked without reading (or decoding) a single event."""
    rows = db.read(f"SELECT MAX({db.dialect.events_position}) AS head FROM {events_table}")
    return int(rows[0]["head"] or 0) if rows else 0
