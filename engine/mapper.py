"""Stores events by their contract name as orjson, validated by pydantic on the way back."""

from typing import Any

import orjson
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from domain.catalog import EVENT_TYPES
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
        cls = EVENT_TYPES[stored_event.topic]
        state = orjson.loads(stored_event.state)
        cls.upcast(state, state.pop("class_version", 1))
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        return cls.model_validate(state)

