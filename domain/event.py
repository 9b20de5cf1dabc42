"""The base of every recorded event: frozen, strict, versioned."""

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import DomainError
from domain.types import Moment


class UnknownSchemaVersion(DomainError):
    """A stored or published event of a version this engine does not know (yet)."""

    rule = "known_schema_version"


class UnknownEventType(DomainError):
    """A stored or published event whose type no event class declares."""

    rule = "known_event_type"


BOOKKEEPING = frozenset({"originator_id", "originator_version", "recorded_at"})
"""The fields an event's payload leaves out: the envelope carries them."""


class Event(BaseModel):
    """An immutable fact. Its class is the single source of its stored and published form.

    `originator_id` and `originator_version` are the aggregate's id and version
    (the event store keeps them in their own columns); `recorded_at` is when the
    engine recorded the fact, as opposed to `occurred_at`, when it happened.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1
    past_payloads: ClassVar[dict[int, type[BaseModel]]] = {}
    """The payload models of the earlier versions, frozen as they were published."""

    originator_id: UUID
    originator_version: int = Field(ge=1)
    recorded_at: Moment

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # `abstract` is for __pydantic_init_subclass__; object's own refuses any keyword.
        kwargs.pop("abstract", None)
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        """Declaring an event class registers it: there is no list to forget to extend.

        A base that only shares fields (`class CarrierEvent(InterceptEvent, abstract=True)`)
        is not an event of its own and is left out.
        """
        super().__pydantic_init_subclass__(**kwargs)
        if not abstract:
            _register(cls)

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__

    @classmethod
    def upcast(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Bring an older version's state up to this class's version, in place.

        Each step is a classmethod `upcast_vN_vN1(state)`, as the eventsourcing
        library names them, so stored and published history both load.
        """
        cls._known(from_version)
        for version in range(from_version, cls.class_version):
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        return state

    @classmethod
    def upcast_payload(cls, payload: dict[str, Any], from_version: int) -> dict[str, Any]:
        """A published payload checked against its own version, then brought up to date.

        Raises pydantic's ValidationError when the payload is not valid for the
        version it claims, so an old-version message cannot smuggle in new fields.
        """
        cls._known(from_version)
        if from_version < cls.class_version:
            cls.past_payloads[from_version].model_validate(payload)
        return cls.upcast(dict(payload), from_version)

    @classmethod
    def _known(cls, version: int) -> None:
        if not 1 <= version <= cls.class_version:
            raise UnknownSchemaVersion(
                f"{cls.event_type()} has no schema version {version}: this engine knows "
                f"versions 1 to {cls.class_version}; upgrade it before reading newer events"
            )

    def payload(self) -> dict[str, Any]:
        """The fact itself, without the identity and bookkeeping fields."""
        return self.model_dump(mode="json", exclude=set(BOOKKEEPING))

    def payload_json(self) -> str:
        """`payload()` as compact JSON text, serialised in one step (projections store it)."""
        return self.model_dump_json(exclude=set(BOOKKEEPING))


_REGISTRY: dict[str, type[Event]] = {}
E = TypeVar("E", bound=Event)


def _register(cls: type[Event]) -> None:
    name = cls.event_type()
    known = _REGISTRY.get(name)
    if known is not None:
        # The type name is the stored topic: two classes under one name would read as each other.
        raise TypeError(f"event type {name!r} is declared twice: {known!r} and {cls!r}")
    _REGISTRY[name] = cls


EVENT_TYPES: Mapping[str, type[Event]] = MappingProxyType(_REGISTRY)
"""Every declared event class by its type name, kept current as classes are declared."""


def event_classes(base: type[E]) -> Iterator[type[E]]:
    """The registered event classes that are `base` or derive from it, in declaration order."""
    return (cls for cls in _REGISTRY.values() if issubclass(cls, base))


def event_class(event_type: str, base: type[E]) -> type[E]:
    """The class that declares `event_type`, refused as a typed error when there is none."""
    cls = _REGISTRY.get(event_type)
    if cls is None or not issubclass(cls, base):
        raise UnknownEventType(
            f"unknown event type {event_type!r}: no {base.__name__} of that name is declared "
            "in this engine; upgrade it before reading newer events"
        )
    return cls
