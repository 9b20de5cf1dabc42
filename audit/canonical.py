"""The hashed form of an event: the same bytes whether read from the store or from Kafka.

An intercept event is hashed in its published form, so that a subscriber holding only
the Kafka message can recompute the hash: the fields in HASHED_FIELDS, the two top-level
times written as their UTC instant, as JSON with keys sorted at every level and no
whitespace. Other events (policies, parcel registries) are never published and are
hashed in a form of their own.

The hashed form is computed from an event's JSON: when the store compresses or encrypts
it, from the bytes the mapper recovers (`plain`), while the log hash covers the bytes
as stored. A record whose state is no JSON object at all (only a recorder's own tests
write such) is hashed by the SHA-256 of its state.
"""

import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from domain.envelope import INTERCEPT_EVENT_TYPES, envelope_fields

GENESIS = "0" * 64
"""The previous hash of an aggregate's first event, and of the log's first event."""

HASHED_FIELDS = (
    "event_id",
    "event_type",
    "schema_version",
    "intercept_id",
    "merchant_id",
    "version",
    "position",
    "occurred_at",
    "recorded_at",
    "actor",
    "payload",
)
"""Every envelope field but the hashes themselves; a fixed list, so fields added to the
envelope later never change the hash of what was recorded before them."""


class Malformed(ValueError):
    """Stored or published bytes that do not even have the shape of an event."""


def canonical_bytes(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def digest(*parts: str | bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode() if isinstance(part, str) else part)
    return sha.hexdigest()


def event_hash(prev_hash: str, document: dict[str, Any]) -> str:
    """Chains an event to the previous event of the same aggregate."""
    return digest(prev_hash, canonical_bytes(document))


def record_digest(topic: str, originator_id: UUID | str, version: int, state: bytes) -> str:
    """The stored record byte for byte: catches edits that keep the JSON's meaning."""
    return digest(f"{topic}\n{originator_id}\n{version}\n", state)


def log_hash(prev_log_hash: str, event_hash_: str, record_digest_: str) -> str:
    """Chains an event to the one before it in the whole log, whatever its aggregate."""
    return digest(prev_log_hash, event_hash_, record_digest_)


_CANONICAL = re.compile(r"[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)
"""An instant as `instant` writes it: UTC, microseconds, a year of four digits."""
_WHOLE_SECOND = re.compile(r"[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\dZ", re.ASCII)
"""The same without a fraction, as pydantic writes a time on the second."""


def instant(text: Any) -> str:
    """A time as one fixed text for its instant, however it was written (offset, precision).

    The top-level times are hashed this way so that the hash does not depend on how a JSON
    library chose to write them; the payload's own fields are hashed exactly as recorded.
    """
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise Malformed(f"{text!r} is not an RFC 3339 time") from None
    # The two forms a writer of UTC times makes are their own canonical text, or nearly.
    if _CANONICAL.fullmatch(text):
        return text
    if _WHOLE_SECOND.fullmatch(text):
        return text[:19] + ".000000Z"
    if moment.tzinfo is None:
        raise Malformed(f"{text!r} has no timezone")
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime does not pad such years; isoformat would
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as that strftime, several times faster: every event is hashed.
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


def stored_document(
    topic: str,
    originator_id: UUID | str,
    version: int,
    state: bytes,
    position: int,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The hashed form of a stored event, from its JSON as stored (never upcast).

    `state` is the JSON: the stored bytes themselves unless the store compresses or
    encrypts them. `fields`, when given, is the object `state` was just encoded from
    (the writer has it; a verifier parses the state).
    """
    if fields is not None:
        fields = dict(fields)  # the envelope takes fields out of it
    else:
        try:
            fields = orjson.loads(state)
        except orjson.JSONDecodeError as error:
            if topic in INTERCEPT_EVENT_TYPES:
                raise Malformed(f"its stored state is not JSON ({error})") from None
            fields = None
    if topic not in INTERCEPT_EVENT_TYPES:
        document: dict[str, Any] = {
            "event_type": topic,
            "originator_id": str(originator_id),
            "originator_version": version,
            "position": position,
        }
        if isinstance(fields, dict):
            document["state"] = fields
        else:
            document["state_sha256"] = digest(state)
        return document
    if not isinstance(fields, dict):
        raise Malformed("its stored state is not a JSON object")
    try:
        envelope = envelope_fields(topic, originator_id, version, position, fields)
    except KeyError as missing:
        raise Malformed(f"its stored state lacks {missing}") from None
    return published_document(envelope)


def published_document(message: dict[str, Any]) -> dict[str, Any]:
    """The hashed form of a published envelope, from its JSON as received."""
    missing = [name for name in HASHED_FIELDS if name not in message]
    if missing:
        raise Malformed(f"the message lacks {', '.join(missing)}")
    document = {name: message[name] for name in HASHED_FIELDS}
    document["occurred_at"] = instant(document["occurred_at"])
    document["recorded_at"] = instant(document["recorded_at"])
    return document
