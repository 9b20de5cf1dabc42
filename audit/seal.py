"""Puts each event's chain hashes into its published envelope, for subscribers to verify.

The envelope carries the event exactly as it was recorded, so that the hash in it can be
recomputed from the message alone: an event recorded under an older schema version (or
written in another JSON form) is published from its stored record, at that version, which
subscribers upcast.
"""

from typing import Callable, Sequence
from uuid import UUID

import orjson

from audit.canonical import Malformed, stored_document
from domain.envelope import Envelope

Seal = Callable[[Sequence[Envelope]], list[Envelope]]


def sealer(recorder) -> Seal:
    def seal(envelopes: Sequence[Envelope]) -> list[Envelope]:
        if not envelopes:
            return []
        sealed = recorder.sealed_between(envelopes[0].position, envelopes[-1].position)
        return [_sealed(e, sealed.get(e.position)) for e in envelopes]

    return seal


def _sealed(envelope: Envelope, found: tuple[str, str, str, bytes] | None) -> Envelope:
    if found is None:
        return envelope  # a store older than the chain: published without hashes
    prev_hash, event_hash, log_hash, state = found
    hashes = {"event_hash": event_hash, "prev_hash": prev_hash, "log_hash": log_hash}
    if _as_recorded(envelope, state):
        return envelope.model_copy(update=hashes)  # the usual case, and the cheap one
    try:
        document = stored_document(envelope.event_type, UUID(str(envelope.intercept_id)),
                                   envelope.version, state, envelope.position)
    except Malformed:
        return envelope  # damaged in the store: published as read; verify names it
    return Envelope.model_validate({**document, **hashes})


def _as_recorded(envelope: Envelope, state: bytes) -> bool:
    """Whether the envelope already carries the payload exactly as it was recorded.

    The other fields come from the record's own columns, and the top-level times are
    hashed as their instant, so the payload and its version are all that can differ.
    """
    try:
        fields = orjson.loads(state)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(fields, dict):
        return False
    version = fields.pop("class_version", 1)
    fields.pop("recorded_at", None)
    return version == envelope.schema_version and fields == envelope.payload
