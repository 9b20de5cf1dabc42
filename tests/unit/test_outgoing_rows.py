"""The relay's record for a stored row is the typed envelope's message, whatever the row:
with its chain link, without one, or damaged and published as the engine reads it."""

import orjson
from hypothesis import given

from domain.envelope import Envelope
from engine.outgoing import _from_row
from engine.relay import message
from engine.store.mapper import EventMapper
from tests.strategies import histories

_HASHES = {"prev_hash": "0" * 64, "event_hash": "a" * 64, "log_hash": "b" * 64}


def _row(event, position: int, state: bytes | None = None, hashes=_HASHES) -> tuple:
    stored = EventMapper().to_stored_event(event)
    return (
        position,
        event.originator_id.hex,  # as SQLite holds it
        event.originator_version,
        stored.topic,
        stored.state if state is None else state,
        *(hashes[k] if hashes else None for k in ("prev_hash", "event_hash", "log_hash")),
    )


def _unreadable(_stored):
    raise AssertionError("a readable row is built without decoding its event")


@given(history=histories(max_intercepts=2, max_steps=4))
def test_a_row_with_its_link_is_the_envelopes_message_with_the_links_hashes(history):
    for n, event in enumerate(history, start=1):
        sent = _from_row(_row(event, n), _unreadable, None)
        expected = message(Envelope.of(event, n))
        assert orjson.loads(sent.value) == {**orjson.loads(expected["value"]), **_HASHES}
        assert (sent.key, sent.headers) == (expected["key"], expected["headers"])
        assert sent.event_id == str(Envelope.of(event, n).event_id)


@given(history=histories(max_intercepts=1, max_steps=3))
def test_a_row_without_a_link_or_damaged_is_published_as_the_engine_reads_it(history):
    for n, event in enumerate(history, start=1):
        expected = message(Envelope.of(event, n))["value"]
        assert _from_row(_row(event, n, hashes=None), _unreadable, None).value == expected
        damaged = _from_row(
            _row(event, n, state=b"not json", hashes=None), lambda _, e=event: e, None
        )
        assert damaged.value == expected
