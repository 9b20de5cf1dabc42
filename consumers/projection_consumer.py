"""Feeds the projections from Kafka: decode, validate, apply, then commit.

The projection database is the truth about positions: every batch stores each
partition's next offset in the same transaction as the rows it changed, and on
every assignment the consumer seeks to those stored offsets. Kafka's committed
offsets are written too, but only as a hint for tools that watch lag.
"""

import logging
import threading
import time

from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.dead_letters import from_record, headers_for
from consumers.decode import Poison, receive
from projections.projector import BatchResult, Projector
from storage.collector import fewer_collections
from storage.database import retry_busy

log = logging.getLogger(__name__)


class _SeekToStoredOffsets(ConsumerRebalanceListener):
    def __init__(self, owner: "ProjectionConsumer") -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked) -> None:
        pass  # every processed batch is already stored; nothing to flush

    def on_partitions_assigned(self, assigned) -> None:
        stored = self.owner.projector.positions(self.owner.topic)
        for tp in assigned:
            self.owner.consumer.seek(tp, stored.get(tp.partition, 0))
        self.owner.assignments += 1


class ProjectionConsumer:
    def __init__(
        self,
        consumer,
        projector: Projector,
        dlq_producer,
        topic: str,
        dlq_topic: str,
        ack_timeout: float = 30.0,
        metrics=None,
        tracing=None,
    ) -> None:
        self.consumer = consumer
        self.projector = projector
        self.dlq_producer = dlq_producer
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.ack_timeout = ack_timeout
        self.assignments = 0
        self.totals = BatchResult()
        self.dead_lettered = 0
        self.metrics = metrics  # engine.metrics.ProcessMetrics, when the process serves them
        self.tracing = tracing  # engine.tracing, when configured: spans for traced events

    def start(self) -> None:
        self.consumer.subscribe([self.topic], listener=_SeekToStoredOffsets(self))

    def poll_once(self, timeout_ms: int = 200) -> int:
        """Process one poll's records; returns how many records it handled."""
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if not batches:
            return 0
        with fewer_collections():  # a poll's decoding and projecting, as a rebuild's batch
            return self._process(batches)

    def _process(self, batches) -> int:
        started, started_ns = time.monotonic(), time.time_ns()
        tracing = self.tracing is not None and self.tracing.enabled
        envelopes, letters, next_offsets, traced = [], [], {}, []
        for tp, records in batches.items():
            for record in records:
                try:
                    recorded = receive(record.value)  # each message decoded once
                except Poison as poison:
                    letters.append(from_record(record, poison))
                    continue
                envelopes.append(recorded)
                if tracing and record.headers:
                    traced.append((record.headers, recorded))
            next_offsets[tp] = records[-1].offset + 1
        self._dead_letter(letters)
        positions = {(tp.topic, tp.partition): o for tp, o in next_offsets.items()}
        attempts = 0

        def attempt() -> BatchResult:
            nonlocal attempts
            attempts += 1
            return self.projector.apply(envelopes, positions)

        # A failed attempt wrote nothing, so the same batch can simply be applied again.
        result = retry_busy(attempt)
        self._add(result)
        self._hint_kafka(next_offsets)
        handled = sum(len(r) for r in batches.values())
        if tracing:
            self.tracing.applied(_traced(traced), started_ns)
        if self.metrics is not None:
            for _ in range(attempts - 1):
                self.metrics.retried("projection_batch")
            self.metrics.consumer_batch(handled, result, time.monotonic() - started)
        return handled

    def _dead_letter(self, letters) -> None:
        """Park poison messages; they must be safely stored before their offsets pass."""
        futures = [
            self.dlq_producer.send(
                self.dlq_topic, key=letter.key, value=letter.value, headers=headers_for(letter)
            )
            for letter in letters
        ]
        for letter in letters:
            log.warning(
                "dead-lettered %s[%s]@%s: %s: %s",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.reason,
                letter.detail,
            )
            if self.metrics is not None:
                self.metrics.dead_lettered(letter.reason)
        if futures:
            self.dlq_producer.flush(timeout=self.ack_timeout)
            for future in futures:
                future.get(timeout=self.ack_timeout)
        self.dead_lettered += len(letters)

    def _hint_kafka(self, next_offsets: dict[TopicPartition, int]) -> None:
        # Not waited for: the database already has the positions, and a round trip to the
        # broker per poll would cost every batch its latency.
        try:
            self.consumer.commit_async(
                {tp: OffsetAndMetadata(o, "", -1) for tp, o in next_offsets.items()},
                callback=_hinted,
            )
        except KafkaError as error:  # a rebalance in progress: the database already has it
            log.info("advisory offset commit skipped: %s", error)

    def _add(self, result: BatchResult) -> None:
        for name in ("applied", "duplicates", "held", "released"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(result, name))

    def run(self, stop: threading.Event) -> None:
        self.start()
        log.info("consuming %s into the projections", self.topic)
        try:
            while not stop.is_set():
                self.poll_once()
        finally:
            self.consumer.close(autocommit=False)
            t = self.totals
            log.info(
                "consumer stopped: %d applied, %d duplicates, %d held, %d released, "
                "%d dead-lettered",
                t.applied,
                t.duplicates,
                t.held,
                t.released,
                self.dead_lettered,
                extra={
                    "counts": {
                        "events_applied": t.applied,
                        "duplicates": t.duplicates,
                        "held": t.held,
                        "released": t.released,
                        "dead_lettered": self.dead_lettered,
                    }
                },
            )


def _hinted(_offsets, response) -> None:
    if isinstance(response, Exception):
        log.info("advisory offset commit failed: %s", response)


def _traced(received) -> list[tuple[str, str, int]]:
    """(traceparent, intercept id, version) of each applied record that carries a trace
    context, from its headers and its decoded event."""
    found = []
    for headers, recorded in received:
        parent = dict(headers).get("traceparent")
        if parent:
            found.append((parent.decode(), str(recorded.intercept_id), recorded.version))
    return found
