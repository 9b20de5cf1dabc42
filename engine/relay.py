"""The relay: publishes the event store's intercept events to Kafka, in order, at least once.

It tails the notification log from the last acknowledged position, sends each
intercept event keyed by its intercept id (one intercept, one partition, in
order), waits for the broker's acknowledgement (acks=all), and only then
records the new position in the event store's own database. A crash anywhere
means some events are sent again on restart: subscribers dedupe by event_id.
"""

import threading
import time
from typing import Callable, Sequence

import orjson

from domain.envelope import Envelope
from domain.event import Event
from domain.events import InterceptEvent
from projections.database import Database

ReadLog = Callable[[int, int], Sequence[tuple[int, Event]]]


class TopicLost(RuntimeError):
    """The topic is gone although events were published to it: the broker lost them."""


class RelayPositions:
    """The last acknowledged position per topic, kept beside the events themselves."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS relay_positions "
                "(topic TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )

    def get(self, topic: str) -> int:
        rows = self.db.read("SELECT position FROM relay_positions WHERE topic = ?", (topic,))
        return rows[0]["position"] if rows else 0

    def set(self, topic: str, position: int) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO relay_positions (topic, position) VALUES (?, ?) "
                "ON CONFLICT (topic) DO UPDATE SET position = excluded.position",
                (topic, position),
            )


def message(envelope: Envelope) -> dict:
    """The Kafka record for an envelope: key, JSON value and headers."""
    return dict(
        key=str(envelope.intercept_id).encode(),
        value=orjson.dumps(envelope.model_dump(mode="json")),
        headers=[
            ("event_type", envelope.event_type.encode()),
            ("schema_version", str(envelope.schema_version).encode()),
            ("content-type", b"application/json"),
        ],
    )


class Relay:
    def __init__(
        self,
        read_log: ReadLog,
        producer,
        positions: RelayPositions,
        topic: str,
        topic_exists: Callable[[], bool],
        create_topic: Callable[[], None],
        batch_size: int = 1000,
        ack_timeout: float = 60.0,
    ) -> None:
        self.read_log = read_log
        self.producer = producer
        self.positions = positions
        self.topic = topic
        self.topic_exists = topic_exists
        self.create_topic = create_topic
        self.batch_size = batch_size
        self.ack_timeout = ack_timeout
        self.published = 0

    def check_topic(self) -> None:
        """Create the topic before the first publication; after that, its absence is a loss."""
        if self.topic_exists():
            return
        position = self.positions.get(self.topic)
        if position == 0:
            self.create_topic()
            return
        raise TopicLost(
                f"topic {self.topic} does not exist, but events up to position {position} "
                "were published to it: the broker lost them. Republish everything from the "
                "event store with `intercept relay --republish` (see docs/operations.md)."
            )

    def publish_once(self) -> int:
        """Publish the next batch; returns how many log entries it moved past."""
        position = self.positions.get(self.topic)
        batch = self.read_log(position, self.batch_size)
        if not batch:
            return 0
        futures = [
            self.producer.send(self.topic, **message(Envelope.of(event, pos)))
            for pos, event in batch
            if isinstance(event, InterceptEvent)
        ]
        self.producer.flush(timeout=self.ack_timeout)
        for future in futures:
            future.get(timeout=self.ack_timeout)  # raises unless the broker acknowledged
        self.positions.set(self.topic, batch[-1][0])
        self.published += len(futures)
        return len(batch)

    def republish(self) -> None:
        """Start over from the first event: after the broker lost the topic."""
        self.positions.set(self.topic, 0)

    def run(self, stop: threading.Event, idle_wait: float = 0.1, check_every: float = 5.0) -> None:
        self.check_topic()
        last_check = time.monotonic()
        while not stop.is_set():
            if self.publish_once():
                continue
            if time.monotonic() - last_check > check_every:
                self.check_topic()
                last_check = time.monotonic()
            stop.wait(idle_wait)
