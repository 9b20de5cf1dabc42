"""The relay: publishes the event store's intercept events to Kafka, in order, at least once.

It tails the notification log from the last acknowledged position, sends each
intercept event keyed by its intercept id (one intercept, one partition, in
order), waits for the broker's acknowledgement (acks=all), and only then
records the new position in the event store's own database. A crash anywhere
means some events are sent again on restart: subscribers dedupe by event_id.
"""

import logging
import threading
import time
from collections.abc import Callable

import orjson

from domain.envelope import Envelope
from engine.outgoing import ReadOutgoing, published
from engine.store.positions import Landmark, RelayPositions
from storage.collector import fewer_collections

log = logging.getLogger(__name__)


CHAIN_SECONDS = 0.5
"""No further batch is chained after this long, however slow the machine: the leader looks
at its lock (renewed every second) between calls."""


class TopicLost(RuntimeError):
    """The topic is gone although events were published to it: the broker lost them."""


def message(envelope: Envelope) -> dict:
    """The Kafka record for an envelope: key, JSON value and headers."""
    return published(envelope.model_dump(mode="json")).record()


class Relay:
    def __init__(
        self,
        read: ReadOutgoing,
        producer,
        positions: RelayPositions,
        topic: str,
        topic_exists: Callable[[], bool],
        create_topic: Callable[[], None],
        read_record: Callable[[int, int], bytes | None],
        batch_size: int = 1000,
        ack_timeout: float = 60.0,
        on_batch: Callable[[int, int, float], None] | None = None,
        chain: int = 8,
        partitions: Callable[[str], Callable[[bytes], int]] | None = None,
    ) -> None:
        self.read = read
        self.producer = producer
        self.positions = positions
        self.topic = topic
        self.topic_exists = topic_exists
        self.create_topic = create_topic
        self.read_record = read_record
        self.batch_size = batch_size
        self.ack_timeout = ack_timeout
        self.published = 0
        # Batches one publish_once chains, so that a leader checks its lock and a stop
        # is seen between them.
        self.chain = chain
        # topic -> (key -> partition), the default partitioner's choice made cheaper; None
        # leaves it to the producer.
        self.partitions = partitions
        # (log entries read, records published, seconds): the process's metrics, if any.
        self.on_batch = on_batch

    def check_topic(self) -> None:
        """Create the topic before the first publication; after that, check nothing was lost."""
        landmark = self.positions.landmark(self.topic)
        if landmark is None:
            if not self.topic_exists():
                self.create_topic()
            return
        value = self.read_record(landmark.partition, landmark.offset)
        found = orjson.loads(value).get("event_id") if value else None
        if found != landmark.event_id:
            position = self.positions.get(self.topic)
            raise TopicLost(
                f"topic {self.topic} no longer holds what was published to it (record "
                f"{landmark.partition}@{landmark.offset}, event {landmark.event_id}, is gone): "
                f"the broker lost events up to position {position}. Republish everything "
                "from the event store with `intercept relay --republish` (docs/operations.md)."
            )

    def publish_once(self) -> int:
        """Publish what is waiting, up to `chain` batches and `CHAIN_SECONDS`; returns how
        many log entries it moved past. Every batch is acknowledged and its position recorded
        before it returns.

        The next batch is read and sent before the previous one is waited for, so the store
        is read while the broker acknowledges: one batch in flight beyond the one settled.
        The producer keeps them in order (one request in flight), and a position is
        recorded only once every record up to it was acknowledged.
        """
        with fewer_collections():  # the records, messages and futures of its batches
            return self._publish()

    def _publish(self) -> int:
        position = self.positions.get(self.topic)
        moved, inflight = 0, None
        began = time.monotonic()
        for _ in range(self.chain):
            started = time.monotonic()
            if started - began > CHAIN_SECONDS:
                break
            last, records = self.read(position, self.batch_size)
            if last == position:
                break
            send, topic = self.producer.send, self.topic
            if self.partitions is None:
                sent = [(send(topic, r.value, r.key, r.headers), r) for r in records]
            else:
                place = self.partitions(topic)
                sent = [(send(topic, r.value, r.key, r.headers, place(r.key)), r) for r in records]
            if inflight is not None:
                moved += self._settle(*inflight)
            inflight = (last, sent, started)
            position = last
        if inflight is not None:
            self.producer.flush(timeout=self.ack_timeout)
            moved += self._settle(*inflight)
        return moved

    def _settle(self, last: int, sent: list, started: float) -> int:
        """Wait for a batch's acknowledgements, then record the position after it."""
        # Each get() raises unless the broker acknowledged that record.
        acked = [(f.get(timeout=self.ack_timeout), r) for f, r in sent]
        landmark = None
        ends: dict[int, int] = {}
        if acked:
            meta, record = acked[-1]
            landmark = Landmark(meta.partition, meta.offset, record.event_id)
            for meta, _ in acked:
                ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
        self.positions.set(self.topic, last, landmark, ends)
        self.published += len(sent)
        if self.on_batch is not None:
            self.on_batch(len(sent), len(sent), time.monotonic() - started)
        return len(sent)

    def republish(self) -> None:
        """Start over from the first event: after the broker lost the topic."""
        self.positions.set(self.topic, 0, None)

    # An idle relay looks for new events this often: the wait is a floor under the
    # command-to-projection latency through Kafka, and one indexed read costs little.
    def run(self, stop: threading.Event, idle_wait: float = 0.01, check_every: float = 5.0) -> None:
        self.check_topic()
        log.info("relaying to %s from position %d", self.topic, self.positions.get(self.topic))
        last_check = time.monotonic()
        while not stop.is_set():
            if self.publish_once():
                continue
            if time.monotonic() - last_check > check_every:
                self.check_topic()
                last_check = time.monotonic()
            stop.wait(idle_wait)
