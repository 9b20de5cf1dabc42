"""From Kafka bytes to a validated envelope, or a reason why not."""

import orjson
from pydantic import ValidationError, create_model

from domain.envelope import INTERCEPT_EVENT_TYPES, Envelope, UnknownEventType
from domain.event import UnknownSchemaVersion
from domain.events import InterceptEvent
from projections.recorded import Recorded

POISON_KINDS = ("empty", "not_json", "invalid", "unknown_event_type", "unknown_schema_version")
"""Why a message was dead-lettered: the `dlq.reason` header (see schemas/asyncapi.yaml)."""


class Poison(ValueError):
    """A message that cannot be applied as it is; it goes to the dead-letter topic."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def decode(value: bytes | None) -> Envelope:
    """The message's envelope, validated with the event it carries, or Poison."""
    return _decoded(value)[0]


def receive(value: bytes | None) -> Recorded:
    """The message's typed event and position, or Poison saying why it cannot be applied.

    The projector is handed the typed event validated here, not the envelope, which
    it would validate a second time. A plainly valid message is validated once, as its
    event (`_received`); anything else takes `decode`'s path, which names the poison.
    """
    if value is not None:
        try:
            raw = orjson.loads(value)
        except orjson.JSONDecodeError:
            raw = None
        found = _received(raw)
        if found is not None:
            return found
    envelope, typed = _decoded(value)
    return Recorded(typed, envelope.position)


# The envelope repeats three of its payload's fields and carries the event's identity
# (id, version, recording time); the event's own types for them are Envelope's or
# stricter (Code, Code, Moment; UUID, int >= 1, Moment). So when the repeated values
# are the payload's own, validating the event validates them too, and the envelope
# is left only its own fields to check, with its own declarations.
_REPEATED = ("merchant_id", "occurred_at", "actor")
_IDENTITY = ("intercept_id", "version", "recorded_at")
_FIELDS = frozenset(Envelope.model_fields)
_REQUIRED = frozenset(n for n, f in Envelope.model_fields.items() if f.is_required())
_OwnFields = create_model(
    "EnvelopeOwnFields",
    **{
        name: (field.annotation, field)
        for name, field in Envelope.model_fields.items()
        if name not in {*_REPEATED, *_IDENTITY, "payload"}
    },
)  # type: ignore[call-overload]


def _received(raw: object) -> Recorded | None:
    """The message validated once, as its event, or None unless it is plainly valid.

    Accepts exactly what `_decoded` accepts and gives the same event
    (tests/unit/test_decode_once.py); what it does not accept, `_decoded` decides.
    """
    if type(raw) is not dict or not _REQUIRED <= raw.keys() <= _FIELDS:
        return None
    payload = raw["payload"]
    if type(payload) is not dict:
        return None
    for name in _REPEATED:
        value = raw[name]
        if type(value) is not str or payload.get(name) != value:
            return None
    event_type = raw["event_type"]
    cls = INTERCEPT_EVENT_TYPES.get(event_type) if type(event_type) is str else None
    if cls is None or raw["schema_version"] != cls.class_version:
        return None  # an older version is checked against its own payload and upcast
    try:
        own = _OwnFields.model_validate(raw)
        typed = cls.model_validate(
            {
                **payload,
                "originator_id": raw["intercept_id"],
                "originator_version": raw["version"],
                "recorded_at": raw["recorded_at"],
            }
        )
    except ValidationError:
        return None
    if own.schema_version != cls.class_version:  # type: ignore[attr-defined]
        return None
    return Recorded(typed, own.position)  # type: ignore[attr-defined]


def _decoded(value: bytes | None) -> tuple[Envelope, InterceptEvent]:
    if value is None:
        raise Poison("empty", "the message has no value")
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise Poison("not_json", str(error)) from None
    try:
        envelope = Envelope.model_validate(raw)
        typed = envelope.event()  # the payload must be a valid event of its type and version
    except ValidationError as error:
        raise Poison("invalid", _summary(error)) from None
    except UnknownEventType as error:
        raise Poison("unknown_event_type", error.message) from None
    except UnknownSchemaVersion as error:
        raise Poison("unknown_schema_version", error.message) from None
    return envelope, typed


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in error.errors()
    )[:2000]
