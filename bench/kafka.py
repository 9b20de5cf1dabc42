"""Scenario 3: the relay and the projection consumer vs raw kafka-python, on a real broker.

Raw producing sends the very records the relay sends (same keys, values,
headers, producer settings: acks=all, one request in flight) and waits for
every acknowledgement once at the end; the relay waits per batch, because it
records its position only after the broker acknowledged everything before it.
Raw consuming reads the same topic with the same consumer settings and does
nothing with the records; the projection consumer validates each and applies
it to the projections. Consumer clocks start at the first record received, so
the group join (seconds on Tansu) is left out of both.

Beside them, the consumer's two steps timed alone, in this process and without
the broker, on the very messages: decoding them (`consumers.decode.receive`) and
projecting them (`Projector.apply`, polls of `max_poll_records` each in its
transaction, the collector run as the consumer runs it), per second of CPU. Against the raw consumer's CPU per record they
say how far the ratio can go: raw / (raw + decoding + projecting).
"""

import time
import uuid
from contextlib import closing

from kafka import TopicPartition

from bench import rebuild
from bench.backends import Backend
from bench.measure import Rate, ratio
from consumers.decode import receive
from engine import kafka_clients
from engine.composition import build_engine, build_projection_consumer, build_relay
from engine.outgoing import reader
from storage.collector import fewer_collections

POLL_MS = 200


def _on_topic(settings, label: str):
    run = f"{label}{uuid.uuid4().hex[:6]}"
    return settings.model_copy(
        update={
            "topic": f"bench.{run}",
            "dlq_topic": f"bench.{run}.dlq",
            "group_id": f"bench-{run}",
        }
    )


def _relay(settings, engine) -> tuple[int, float]:
    relay = build_relay(settings, engine)
    relay.check_topic()  # creates the topic, as on a first start
    started, cpu = time.perf_counter(), time.process_time()
    while relay.publish_once():
        pass
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    relay.producer.close()
    return relay.published, seconds, cpu


def _records(engine) -> list[dict]:
    """The very records the relay sends (sealed, as stored)."""
    read, out, position = reader(engine.app), [], 0
    while True:
        position, batch = read(position, 1000)
        if not batch:
            return out
        out += [r.record() for r in batch]


def _raw_produce(settings, records: list[dict]) -> tuple[int, float, float]:
    kafka_clients.ensure_topics(settings, [settings.topic])
    producer = kafka_clients.producer(settings)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        futures = [producer.send(settings.topic, **r) for r in records]
        producer.flush(timeout=120)
        for future in futures:
            future.get(timeout=120)
        return len(futures), time.perf_counter() - started, time.process_time() - cpu
    finally:
        producer.close()


def _count_until(expected: int, poll, timeout: float = 300) -> tuple[int, float, float]:
    """Poll until `expected` records are handled: (records, seconds, CPU seconds of this
    process, its client threads included); the clocks start at the first record."""
    deadline = time.monotonic() + timeout
    done, started, cpu = 0, None, 0.0
    while done < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done} of {expected} records arrived in {timeout:.0f}s")
        got = poll()
        if got and started is None:
            started, cpu = time.perf_counter(), time.process_time()
        done += got
    if started is None:
        return done, 0.0, 0.0
    return done, time.perf_counter() - started, time.process_time() - cpu


def _raw_consume(settings, expected: int) -> tuple[int, float, float]:
    consumer = kafka_clients.consumer(settings, group_id=None)
    try:
        partitions = [
            TopicPartition(settings.topic, p)
            for p in consumer.partitions_for_topic(settings.topic) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return _count_until(
            expected, lambda: sum(len(r) for r in consumer.poll(timeout_ms=POLL_MS).values())
        )
    finally:
        consumer.close(autocommit=False)


def _project(backend: Backend, settings, expected: int, label: str) -> tuple[int, float, float]:
    fresh = backend.fresh_projections(settings, label)
    with closing(build_engine(fresh)) as engine:
        consumer = build_projection_consumer(fresh, engine)
        consumer.start()
        try:
            count, seconds, cpu = _count_until(expected, lambda: consumer.poll_once(POLL_MS))
        finally:
            consumer.consumer.close(autocommit=False)
            consumer.dlq_producer.close()
        applied = consumer.totals.applied
        if applied != expected:
            raise RuntimeError(f"the consumer applied {applied} of {expected} events")
        return count, seconds, cpu


def _split(backend: Backend, settings, values: list[bytes], label: str):
    """(messages, CPU seconds decoding, CPU seconds projecting) in this process, no broker."""
    fresh = backend.fresh_projections(settings, label)
    decoding = projecting = 0.0
    step = settings.max_poll_records
    with closing(build_engine(fresh)) as engine:
        for first in range(0, len(values), step):
            chunk = values[first : first + step]
            with fewer_collections():  # as the consumer handles a poll
                started = time.process_time()
                received = [receive(v) for v in chunk]
                decoded = time.process_time()
                engine.projector.apply(received, {(settings.topic, 0): first + len(chunk)})
                decoding += decoded - started
                projecting += time.process_time() - decoded
    return len(values), decoding, projecting


def ceiling(rates: dict) -> float:
    """The consumer's ratio if kafka-python, decoding and projecting were all it did, each
    at its CPU cost per message measured here: raw / (raw + decoding + projecting)."""
    raw = 1 / rates["raw_consume_cpu"]["median"]
    own = 1 / rates["decode_alone_cpu"]["median"] + 1 / rates["project_alone_cpu"]["median"]
    return raw / (raw + own)


def run(backend: Backend, bootstrap: str, intercepts: int, repeats: int) -> dict:
    base, history = rebuild.prepare(backend, intercepts, "kafka")
    base = base.model_copy(update={"kafka_bootstrap": bootstrap})
    names = ("relay", "raw_produce", "project", "raw_consume")
    rates = {name: Rate("events/s") for name in names}
    # Events per second of this process's CPU (all its threads): on a shared machine the
    # wall clock also counts the neighbours' turns, the CPU time much less so.
    per_cpu = {name: Rate("events/CPU-s") for name in (*names, "decode_alone", "project_alone")}

    def add(name: str, measured: tuple[int, float, float]) -> None:
        count, seconds, cpu = measured
        rates[name].add(count, seconds)
        per_cpu[name].add(count, cpu)

    with closing(build_engine(base)) as engine:
        records = _records(engine)
        sizes = sorted(len(r["value"]) for r in records)
        for r in range(repeats):
            settings = _on_topic(base, f"r{r}")
            add("relay", _relay(settings, engine))
            add("raw_produce", _raw_produce(_on_topic(base, f"p{r}"), records))
            add("raw_consume", _raw_consume(settings, len(records)))
            add("project", _project(backend, settings, len(records), f"consume{r}"))
            count, decoding, projecting = _split(
                backend, settings, [r["value"] for r in records], f"split{r}"
            )
            per_cpu["decode_alone"].add(count, decoding)
            per_cpu["project_alone"].add(count, projecting)
    rates_out = {
        **{k: v.as_dict() for k, v in rates.items()},
        **{f"{k}_cpu": v.as_dict() for k, v in per_cpu.items()},
    }
    return {
        "intercepts": intercepts,
        "messages": len(records),
        "message_bytes_median": sizes[len(sizes) // 2],
        "repeats": repeats,
        "rates": rates_out,
        "ratios": {
            "relay_vs_raw_producer": ratio(rates["relay"], rates["raw_produce"]),
            "consumer_vs_raw_consumer": ratio(rates["project"], rates["raw_consume"]),
            "relay_vs_raw_producer_cpu": ratio(per_cpu["relay"], per_cpu["raw_produce"]),
            "consumer_vs_raw_consumer_cpu": ratio(per_cpu["project"], per_cpu["raw_consume"]),
            "consumer_ceiling_cpu": ceiling(rates_out),
        },
    }
