"""Every event type the engine records, by its contract name.

Importing this module imports every module that declares events, so the registry
it reads (domain/event.py) is complete.
"""

from domain import after_sale, events, parcel, policy  # noqa: F401  (declaring a class registers it)
from domain.event import EVENT_TYPES, Event, UnknownEventType, event_class

__all__ = ["EVENT_TYPES", "UnknownEventType", "stored_event_class"]


def stored_event_class(event_type: str) -> type[Event]:
    """The class of a stored event, or `UnknownEventType` (never a KeyError) when none."""
    return event_class(event_type, Event)
