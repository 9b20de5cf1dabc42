"""Every event type the engine records, by its contract name."""

from domain.event import Event
from domain.events import INTERCEPT_EVENTS
from domain.parcel import InterceptOpened
from domain.policy import PolicySet

EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type(): cls for cls in (*INTERCEPT_EVENTS, PolicySet, InterceptOpened)
}
