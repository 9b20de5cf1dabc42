"""The dead-letter topic: messages that could not be applied, with why and where from."""

from dataclasses import dataclass

from consumers.decode import Poison


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str
    dlq_offset: int | None = None
    dlq_partition: int | None = None


def headers_for(letter: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        ("dlq.reason", letter.reason.encode()),
        ("dlq.detail", letter.detail.encode()[:4000]),
        ("dlq.source.topic", letter.topic.encode()),
        ("dlq.source.partition", str(letter.partition).encode()),
        ("dlq.source.offset", str(letter.offset).encode()),
    ]


def from_record(record, poison: Poison) -> DeadLetter:
    return DeadLetter(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        poison.kind,
        poison.detail,
    )


def from_dlq_record(record) -> DeadLetter:
    h = {k: v.decode(errors="replace") for k, v in (record.headers or [])}
    return DeadLetter(
        topic=h.get("dlq.source.topic", "?"),
        partition=int(h.get("dlq.source.partition", -1)),
        offset=int(h.get("dlq.source.offset", -1)),
        key=record.key,
        value=record.value,
        reason=h.get("dlq.reason", "?"),
        detail=h.get("dlq.detail", ""),
        dlq_offset=record.offset,
        dlq_partition=record.partition,
    )
