"""The published form of an intercept event: what subscribers and projections read."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain import catalog
from domain.event import UnknownEventType, event_class
from domain.events import InterceptEvent
from domain.ids import event_id_text
from domain.types import Code, Sha256

__all__ = ["INTERCEPT_EVENT_TYPES", "Envelope", "UnknownEventType"]

INTERCEPT_EVENT_TYPES: dict[str, type[InterceptEvent]] = {
    name: cls for name, cls in catalog.EVENT_TYPES.items() if issubclass(cls, InterceptEvent)
}


def envelope_fields(
    event_type: str, intercept_id: Any, version: int, position: int, state: dict[str, Any]
) -> dict[str, Any]:
    """The envelope's fields but the hashes, in their published order, from an event's state.

    `state` is the event as stored: its payload with `recorded_at`, and `class_version`
    past version 1; it becomes the payload. The one builder of the published form: the
    relay, the hash chain and the projector all go through it. Raises KeyError naming a
    field the state lacks.
    """
    schema_version = state.pop("class_version", 1)
    recorded_at = state.pop("recorded_at")
    return {
        "event_id": event_id_text(intercept_id, version),
        "event_type": event_type,
        "schema_version": schema_version,
        "intercept_id": str(intercept_id),
        "merchant_id": state["merchant_id"],
        "version": version,
        "position": position,
        "occurred_at": state["occurred_at"],
        "recorded_at": recorded_at,
        "actor": state["actor"],
        "payload": state,
    }


class Envelope(BaseModel):
    """One intercept event as published; `event_id` is the same on every redelivery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: str
    schema_version: int = Field(ge=1)
    intercept_id: UUID
    merchant_id: Code
    version: int = Field(ge=1)
    position: int = Field(ge=1)
    occurred_at: datetime
    recorded_at: datetime
    actor: Code
    payload: dict[str, Any]
    # Tamper evidence (docs/audit.md). Optional: messages published before it still validate.
    event_hash: Sha256 | None = Field(
        default=None,
        description=(
            "SHA-256 (hex) of prev_hash followed by the canonical JSON of this message's other "
            "fields but the three hashes; see docs/audit.md"
        ),
    )
    prev_hash: Sha256 | None = Field(
        default=None,
        description=("event_hash of this intercept's previous version; 64 zeros for version 1"),
    )
    log_hash: Sha256 | None = Field(
        default=None,
        description=(
            "running hash of the whole event log up to `position`, an anchor for "
            "`intercept audit verify --anchor`"
        ),
    )

    @classmethod
    def of(cls, event: InterceptEvent, position: int) -> "Envelope":
        state = {
            **event.payload(),
            "recorded_at": event.recorded_at,
            "class_version": type(event).class_version,
        }
        return cls.model_validate(
            envelope_fields(
                event.event_type(), event.originator_id, event.originator_version, position, state
            )
        )

    def event(self) -> InterceptEvent:
        """The typed event, upcast from the payload's schema version.

        Raises pydantic's ValidationError when the payload is not valid for its
        version, and UnknownSchemaVersion for a version this engine does not know.
        """
        cls = event_class(self.event_type, InterceptEvent)
        state = cls.upcast_payload(self.payload, self.schema_version)
        return cls.model_validate(
            {
                **state,
                "originator_id": self.intercept_id,
                "originator_version": self.version,
                "recorded_at": self.recorded_at,
            }
        )
