"""The base of every recorded event: frozen, strict, versioned."""

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.types import Moment


class Event(BaseModel):
    """An immutable fact. Its class is the single source of its stored and published form.

    `originator_id` and `originator_version` are the aggregate's id and version
    (the event store keeps them in their own columns); `recorded_at` is when the
    engine recorded the fact, as opposed to `occurred_at`, when it happened.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1

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
        for version in range(from_version, cls.class_version):
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        return state

    def payload(self) -> dict[str, Any]:
        """The fact itself, without the identity and bookkeeping fields."""
        return self.model_dump(
            mode="json", exclude={"originator_id", "originator_version", "recorded_at"}
        )
