"""Stores events by their contract name as orjson, validated by pydantic on the way back."""

from typing import Any

import orjson
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from domain.catalog import stored_event_class
from domain.event import Event

_IDENTITY = {"originator_id", "originator_version"}


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class EventMapper(Mapper):
    """The stored topic is the event's type name, so renaming a module breaks nothing."""

    def __init__(self) -> None:
        super().__init__(transcoder=OrjsonTranscoder())

    def to_stored_event(self, domain_event: Event) -> StoredEvent:  # type: ignore[override]
        state = domain_event.model_dump(mode="json", exclude=_IDENTITY)
        if type(domain_event).class_version > 1:
            state["class_version"] = type(domain_event).class_version
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=domain_event.event_type(),
            state=orjson.dumps(state),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Event:  # type: ignore[override]
        return self.event_of(
            stored_event.topic,
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.state,
        )

    def event_of(self, topic: str, originator_id: Any, version: int, state: bytes) -> Event:
        """The event from its stored columns; the id may be a UUID or its text."""
        cls = stored_event_class(topic)  # UnknownEventType, not a KeyError
        fields = orjson.loads(state)
        stored_version = fields.pop("class_version", 1)
        if stored_version != cls.class_version:
            cls.upcast(fields, stored_version)
        fields["originator_id"] = originator_id
        fields["originator_version"] = version
        return cls.model_validate(fields)
