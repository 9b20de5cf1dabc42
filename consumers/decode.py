"""From Kafka bytes to a validated envelope, or a reason why not."""

import orjson
from pydantic import ValidationError

from domain.envelope import Envelope, UnknownEventType
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
    it would validate a second time.
    """
    envelope, typed = _decoded(value)
    return Recorded(typed, envelope.position)


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
