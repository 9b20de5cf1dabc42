"""Every event survives the stored format unchanged, and bad stored data is refused."""

import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.catalog import EVENT_TYPES
from domain.envelope import Envelope
from domain.events import INTERCEPT_EVENTS
from engine.store.mapper import EventMapper
from tests.strategies import events_of


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@given(data=st.data())
def test_stored_events_load_back_equal(cls, data):
    event = data.draw(events_of(cls))
    mapper = EventMapper()
    stored = mapper.to_stored_event(event)
    assert stored.topic == cls.__name__
    assert mapper.to_domain_event(stored) == event


@pytest.mark.parametrize("cls", INTERCEPT_EVENTS, ids=[c.__name__ for c in INTERCEPT_EVENTS])
@given(data=st.data())
def test_published_envelopes_load_back_equal(cls, data):
    event = data.draw(events_of(cls))
    envelope = Envelope.of(event, position=1)
    again = Envelope.model_validate_json(envelope.model_dump_json())
    assert again.event() == event


def test_a_stored_event_with_an_unknown_field_is_refused():
    mapper = EventMapper()
    stored = StoredEvent(
        originator_id="00000000-0000-0000-0000-000000000001",
        originator_version=1,
        topic="Cancelled",
        state=b'{"recorded_at":"2026-11-20T08:00:00Z","surprise":1}',
    )
    with pytest.raises(ValidationError, match="surprise"):
        mapper.to_domain_event(stored)


@pytest.mark.parametrize("cls", INTERCEPT_EVENTS, ids=lambda c: c.event_type())
@given(data=st.data())
def test_the_payload_as_json_text_is_the_payload_serialised(cls, data):
    """Projections store payload_json(); it must say exactly what payload() says."""
    event = data.draw(events_of(cls))
    assert orjson.loads(event.payload_json()) == event.payload()
    assert event.payload_json() == orjson.dumps(event.payload()).decode()
