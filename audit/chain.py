"""The links of the hash chain, one per recorded event, computed when it is recorded.

Each event's hash covers its hashed form and the previous hash of the same aggregate;
each event's log hash covers the log hash before it, the event's hash and its stored
bytes. Changing, inserting or deleting any event breaks a link that verification
recomputes (docs/audit.md says what this does and does not prove).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from audit.canonical import (
    GENESIS,
    event_hash,
    log_hash,
    record_digest,
    stored_document,
)


class StoredRecord(Protocol):
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


Plain = Callable[[bytes], bytes]
"""Stored bytes to the event's JSON: the identity unless the store compresses or encrypts."""


def as_stored(state: bytes) -> bytes:
    return state


@dataclass(frozen=True)
class ChainLink:
    position: int
    aggregate_id: UUID
    version: int
    prev_hash: str
    event_hash: str
    log_hash: str


def link(
    record: StoredRecord,
    position: int,
    prev_hash: str,
    prev_log_hash: str,
    plain: Plain = as_stored,
) -> ChainLink:
    """The link for one record, given its aggregate's previous hash and the log's.

    The event hash covers the event's JSON (what subscribers can recompute from the
    topic), the log hash the bytes as stored, compressed or encrypted as they may be.
    """
    fields = getattr(record, "fields", None)
    # Both hashed forms write the id as its text: made once.
    text_id = str(record.originator_id)
    document = stored_document(
        record.topic,
        text_id,
        record.originator_version,
        # Encoded just now (engine/store/mapper.py): its JSON object is at hand.
        record.state if fields is not None else plain(record.state),
        position,
        fields,
    )
    this = event_hash(prev_hash, document)
    raw = record_digest(record.topic, text_id, record.originator_version, record.state)
    return ChainLink(
        position,
        record.originator_id,
        record.originator_version,
        prev_hash,
        this,
        log_hash(prev_log_hash, this, raw),
    )


def stored_predecessors(records: Iterable[tuple[int, StoredRecord]]) -> list[tuple[UUID, int]]:
    """The (aggregate, version) of each stored event `extend` will ask `previous_hash`
    about for these records: a recorder reads them all in one query."""
    wanted: list[tuple[UUID, int]] = []
    latest: dict[UUID, int] = {}
    for _, record in sorted(records, key=lambda pair: pair[0]):
        version = record.originator_version
        if version != 1 and latest.get(record.originator_id) != version - 1:
            wanted.append((record.originator_id, version - 1))
        latest[record.originator_id] = version
    return wanted


def extend(
    records: Iterable[tuple[int, StoredRecord]],
    previous_hash: Callable[[UUID, int], str | None],
    head: str | None,
    plain: Plain = as_stored,
) -> list[ChainLink]:
    """Links for records just written, in position order.

    `previous_hash(aggregate, version)` answers from links already stored; `head` is
    the last stored log hash (None for an empty log). Records of one batch chain to
    each other before anything stored.
    """
    links: list[ChainLink] = []
    latest: dict[UUID, ChainLink] = {}
    prev_log = head or GENESIS
    for position, record in sorted(records, key=lambda pair: pair[0]):
        version = record.originator_version
        mine = latest.get(record.originator_id)
        if version == 1:
            prev = GENESIS
        elif mine is not None and mine.version == version - 1:
            prev = mine.event_hash
        else:
            prev = previous_hash(record.originator_id, version - 1) or GENESIS
        new = link(record, position, prev, prev_log, plain)
        links.append(new)
        latest[record.originator_id] = new
        prev_log = new.log_hash
    return links
