"""The base of every recorded event: frozen, strict, versioned."""

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import DomainError
from domain.types import Moment


class UnknownSchemaVersion(DomainError):
    """A stored or published event of a version this engine does not know (yet)."""

    rule = "known_schema_version"


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
