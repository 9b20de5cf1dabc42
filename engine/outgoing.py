"""What the relay sends: each stored intercept event as its published message, sealed.

The message is built from the stored record as it is: the envelope's identity from
the record's columns, its times, actor and payload from the stored JSON (decrypted
and decompressed when the store does either), at the schema version it was stored
with, by the one envelope builder (`domain.envelope.envelope_fields`), and the
hash-chain links written with it. So a
subscriber can recompute the hash from the message alone (docs/audit.md), and the
relay never decodes, validates and re-encodes what the engine validated when it
recorded the event. The bytes are the ones `message(Envelope.of(event, ...))` gives.
"""

from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from audit.chain import ChainLink, Plain, as_stored
from domain.envelope import INTERCEPT_EVENT_TYPES, Envelope, envelope_fields
from domain.events import InterceptEvent

_TOPICS = tuple(INTERCEPT_EVENT_TYPES)
_HASHES = ("event_hash", "prev_hash", "log_hash")


class Outgoing(NamedTuple):
    """One Kafka record to send, and what the relay remembers of it."""

    position: int
    event_id: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    def record(self) -> dict[str, Any]:
        return dict(key=self.key, value=self.value, headers=self.headers)


def published(fields: dict[str, Any]) -> Outgoing:
    """The Kafka record for an envelope's fields (as JSON values): key, value, headers."""
    return Outgoing(
        position=fields["position"],
        event_id=fields["event_id"],
        key=fields["intercept_id"].encode(),
        value=orjson.dumps(fields),
        headers=_headers(fields["event_type"], fields["schema_version"]),
    )


@cache
def _headers(event_type: str, schema_version: int) -> list[tuple[str, bytes]]:
    """One list per type and version, shared by its records: nothing appends to it (a
    traced record gets a new list, `with_traces`)."""
    return [
        ("event_type", event_type.encode()),
        ("schema_version", str(schema_version).encode()),
        ("content-type", b"application/json"),
    ]


def stored_envelope(
    record, position: int, link: ChainLink | None, plain: Plain = as_stored
) -> dict[str, Any] | None:
    """The envelope's fields, in its order, from a stored record; None when it is damaged."""
    try:
        state = orjson.loads(plain(record.state))
    except Exception:  # noqa: BLE001 - not JSON, or bytes the cipher refuses: damaged
        return None
    if not isinstance(state, dict):
        return None
    try:
        fields = envelope_fields(
            record.topic, record.originator_id, record.originator_version, position, state
        )
    except KeyError:
        return None
    fields.update({k: getattr(link, k) for k in _HASHES} if link else dict.fromkeys(_HASHES))
    return fields


ReadOutgoing = Callable[[int, int], tuple[int, list[Outgoing]]]


def reader(app) -> ReadOutgoing:
    """(after, limit) -> (last position read, its records): intercept events only.

    Holds the application itself, not just its recorder: a collected application
    closes its store's connections.
    """

    def read(after: int, limit: int) -> tuple[int, list[Outgoing]]:
        log = app.event_log
        rows = log.published_rows(after, limit, _TOPICS)
        if rows is None:  # a store without a chain
            return _read_notifications(log, after, limit)
        if not rows:
            return after, []
        to_event, plain = log.event, log.plain_state if log.sealed else None
        return rows[-1][0], [_from_row(r, to_event, plain) for r in rows]

    return read


def _from_row(row: tuple, to_event: Callable[[Any], Any], plain: Plain | None) -> Outgoing:
    """The record for one row of `select_published`: the stored JSON and its hashes."""
    position, stored_id, version, topic, state, prev_hash, event_hash, log_hash = row
    if type(stored_id) is str and len(stored_id) == 32:  # SQLite's hex digits
        s = stored_id
        intercept = f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"
    else:
        intercept = str(stored_id)
    try:
        fields = envelope_fields(
            topic,
            intercept,
            version,
            position,
            orjson.loads(state if plain is None else plain(bytes(state))),
        )
    except Exception:  # noqa: BLE001 - not JSON, refused by the cipher, lacking a field
        fields = None
    if fields is None or event_hash is None:
        aggregate = UUID(intercept)
        stored = StoredEvent(aggregate, version, topic, bytes(state))
        link = None
        if event_hash is not None:
            link = ChainLink(position, aggregate, version, prev_hash, event_hash, log_hash)
        return _outgoing(stored, position, link, to_event, plain or as_stored)
    fields["event_hash"] = event_hash
    fields["prev_hash"] = prev_hash
    fields["log_hash"] = log_hash
    return Outgoing(
        position,
        fields["event_id"],
        intercept.encode(),
        orjson.dumps(fields),
        _headers(topic, fields["schema_version"]),
    )


def _read_notifications(log, after: int, limit: int) -> tuple[int, list[Outgoing]]:
    stored = log.select_notifications(after, limit, inclusive_of_start=False, topics=_TOPICS)
    if not stored:
        return after, []
    to_event, plain = log.event, log.plain_state
    return stored[-1].id, [_outgoing(n, n.id, None, to_event, plain) for n in stored]


def _outgoing(
    record, position: int, link: ChainLink | None, to_event: Callable[[Any], Any], plain: Plain
) -> Outgoing:
    fields = stored_envelope(record, position, link, plain)
    if fields is None:
        # Damaged in the store: published as the engine reads it, unsealed; verify names it.
        event = to_event(record)
        assert isinstance(event, InterceptEvent)
        fields = Envelope.of(event, position).model_dump(mode="json")
    return published(fields)


def with_traces(
    read: ReadOutgoing, traceparents: Callable[[list[tuple[str, int]]], dict[tuple[str, int], str]]
) -> ReadOutgoing:
    """The same records, with a `traceparent` header on each event a traced command recorded."""

    def traced(after: int, limit: int) -> tuple[int, list[Outgoing]]:
        last, records = read(after, limit)
        keys = [(r.key.decode(), orjson.loads(r.value)["version"]) for r in records]
        found = traceparents(keys)
        if not found:
            return last, records
        return last, [
            Outgoing(
                r.position,
                r.event_id,
                r.key,
                r.value,
                [*r.headers, ("traceparent", found[k].encode())],
            )
            if k in found
            else r
            for r, k in zip(records, keys, strict=True)
        ]

    return traced
