"""An intercept event received from Kafka, as the projector reads envelopes.

Decoding a message validates its envelope and then the typed event in it; the
projector asks for that typed event, and building it again from the envelope
would validate every payload twice.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.envelope import Envelope
from domain.events import InterceptEvent


@dataclass(frozen=True, slots=True)
class Received:
    """A decoded message: its envelope and the typed event in it, validated once."""

    envelope: Envelope
    typed: InterceptEvent

    @property
    def intercept_id(self) -> UUID:
        return self.envelope.intercept_id

    @property
    def version(self) -> int:
        return self.envelope.version

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at

    @property
    def recorded_at(self) -> datetime:
        return self.envelope.recorded_at

    @property
    def actor(self) -> str:
        return self.envelope.actor

    def event(self) -> InterceptEvent:
        return self.typed

    def model_dump_json(self) -> str:
        return self.envelope.model_dump_json()
