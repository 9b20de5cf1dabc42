"""Stores events by their contract name as orjson, validated by pydantic on the way back.

The JSON goes through the library's own path: the transcoder, then the compressor and
the cipher the settings name (COMPRESSOR_TOPIC, CIPHER_TOPIC / CIPHER_KEY). Without them
the stored bytes are the JSON itself, as they always were.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)

from domain.catalog import stored_event_class
from domain.event import Event
from domain.personal import personal_paths

_IDENTITY = {"originator_id", "originator_version"}
_DECODED = 4096
"""Opened events remembered by their stored columns (see `to_domain_event`)."""

Opener = Callable[[type[Event], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class EncodedEvent(StoredEvent):
    """A stored event as the mapper has just made it, with the JSON object its state
    encodes: the hash chain reads that instead of parsing the state it was written from."""

    fields: dict[str, Any] | None = field(default=None, compare=False, repr=False)


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class EventMapper(Mapper):
    """The stored topic is the event's type name, so renaming a module breaks nothing.

    The transcoder is always orjson: the stored JSON is a contract (docs/events.md), and
    the hash chain and the relay read it without building the typed event.
    """

    def __init__(
        self,
        transcoder: Transcoder | None = None,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(OrjsonTranscoder(), compressor=compressor, cipher=cipher)
        self.opener: Opener | None = None
        """Opens sealed personal fields (docs/privacy.md) of the events the write side and
        the history read; the log reads for the feed leave them sealed."""
        self._decoded: dict[tuple[str, Any, int, bytes], Event] = {}
        self._decoded_lock = threading.Lock()

    @property
    def sealed(self) -> bool:
        """Whether stored bytes differ from the JSON (compressed or encrypted)."""
        return self.compressor is not None or self.cipher is not None

    def stored_state(self, plain: bytes) -> bytes:
        if self.compressor:
            plain = self.compressor.compress(plain)
        if self.cipher:
            plain = self.cipher.encrypt(plain)
        return plain

    def plain_state(self, stored: bytes) -> bytes:
        """The JSON of stored bytes: decrypted and decompressed as the settings say."""
        if self.cipher:
            stored = self.cipher.decrypt(stored)
        if self.compressor:
            stored = self.compressor.decompress(stored)
        return stored

    def to_stored_event(self, domain_event: Event) -> EncodedEvent:  # type: ignore[override]
        state = domain_event.model_dump(mode="json", exclude=_IDENTITY)
        if type(domain_event).class_version > 1:
            state["class_version"] = type(domain_event).class_version
        return EncodedEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=domain_event.event_type(),
            state=self.stored_state(self.transcoder.encode(state)),
            fields=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Event:
        """The event, opened. Every command reads its aggregates again (a merchant's policy
        for each of its requests), so an event is remembered by its stored columns when
        opening it took no key: nothing but those bytes decides it then, while an event
        with a sealed value is opened every time (its key may be destroyed meanwhile)."""
        key = (
            stored_event.topic,
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.state,
        )
        event = self._decoded.get(key)
        if event is None:
            event, keyless = self._decode(*key, opened=True)
            if keyless:
                with self._decoded_lock:  # the writer thread and the API's readers
                    if len(self._decoded) >= _DECODED:
                        self._decoded.pop(next(iter(self._decoded)))
                    self._decoded[key] = event
        return event

    def fields_of(self, topic: str, originator_id: Any, version: int, state: bytes) -> Any:
        """The stored JSON object of an event, as it is (not upcast)."""
        try:
            return self.transcoder.decode(self.plain_state(state))
        except Exception as error:
            # A ValueError, as before: callers report an unreadable stored event.
            raise MapperDeserialisationError(
                f"the stored state of {topic} {originator_id} version {version} "
                f"cannot be read: {error}"
            ) from error

    def event_of(
        self, topic: str, originator_id: Any, version: int, state: bytes, opened: bool = False
    ) -> Event:
        """The event from its stored columns; the id may be a UUID or its text.

        `opened`: its sealed personal fields opened (or `[erased]`), when an opener is set.
        """
        return self._decode(topic, originator_id, version, state, opened)[0]

    def _decode(
        self, topic: str, originator_id: Any, version: int, state: bytes, opened: bool
    ) -> tuple[Event, bool]:
        """`event_of`, and whether the event came out without opening anything."""
        cls = stored_event_class(topic)  # UnknownEventType, not a KeyError
        fields = self.fields_of(topic, originator_id, version, state)
        stored_version = fields.pop("class_version", 1)
        if stored_version != cls.class_version:
            cls.upcast(fields, stored_version)
        keyless = True
        # The opener changes values at personal paths only, and nothing under a null.
        if (
            opened
            and self.opener is not None
            and not all(fields.get(head) is None for head, *_ in personal_paths(cls))
        ):
            fields = self.opener(cls, fields)
            keyless = False
        fields["originator_id"] = originator_id
        fields["originator_version"] = version
        return cls.model_validate(fields), keyless
