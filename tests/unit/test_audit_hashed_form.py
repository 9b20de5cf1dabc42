"""The hashed form is the same whether computed from the store or from a Kafka message."""

import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from audit.canonical import (
    GENESIS,
    HASHED_FIELDS,
    Malformed,
    canonical_bytes,
    event_hash,
    instant,
    published_document,
    stored_document,
)
from audit.chain import extend
from domain.catalog import EVENT_TYPES
from domain.envelope import Envelope
from domain.events import INTERCEPT_EVENTS
from engine.relay import message
from engine.store.mapper import EventMapper
from tests.strategies import events_of


@pytest.mark.parametrize("cls", INTERCEPT_EVENTS, ids=[c.__name__ for c in INTERCEPT_EVENTS])
@given(data=st.data(), position=st.integers(1, 2**53))
def test_a_subscriber_recomputes_the_hash_the_store_recorded(cls, data, position):
    event = data.draw(events_of(cls))
    stored = EventMapper().to_stored_event(event)
    recorded = stored_document(
        stored.topic, stored.originator_id, stored.originator_version, stored.state, position
    )
    # What a subscriber receives: the relay's bytes, parsed by any JSON library.
    received = json.loads(message(Envelope.of(event, position))["value"])
    assert published_document(received) == recorded
    assert event_hash(GENESIS, published_document(received)) == event_hash(GENESIS, recorded)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.from_regex(r"\A[a-z_]{1,12}\Z"), json_values, max_size=8))
def test_the_canonical_bytes_are_what_standard_json_writes_with_sorted_keys(document):
    standard = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(document) == standard.encode()


def test_a_message_without_a_hashed_field_is_malformed():
    with pytest.raises(Malformed, match="position"):
        published_document({name: 1 for name in HASHED_FIELDS if name != "position"})


def test_stored_bytes_that_are_not_an_event_are_malformed():
    with pytest.raises(Malformed, match="not JSON"):
        stored_document("Cancelled", UUID(int=1), 1, b"{broken", 1)


def test_events_of_one_aggregate_chain_to_each_other_and_the_log_chains_all():
    a, b = UUID(int=1), UUID(int=2)
    records = [
        (n, StoredEvent(originator_id=agg, originator_version=v, topic="X", state=b'{"n":%d}' % n))
        for n, (agg, v) in enumerate([(a, 1), (b, 1), (a, 2)], start=1)
    ]
    links = extend(records, previous_hash=lambda *_: None, head=None)
    assert [k.prev_hash for k in links] == [GENESIS, GENESIS, links[0].event_hash]
    # Recording the same records in two batches gives the same links.
    first = extend(records[:2], previous_hash=lambda *_: None, head=None)
    stored = {(k.aggregate_id, k.version): k.event_hash for k in first}
    second = extend(
        records[2:], previous_hash=lambda agg, v: stored.get((agg, v)), head=first[-1].log_hash
    )
    assert first + second == links


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@given(data=st.data(), position=st.integers(1, 2**53))
def test_the_writer_links_from_the_object_it_encoded_what_a_verifier_links_from_the_bytes(
    cls, data, position
):
    event = data.draw(events_of(cls))
    encoded = EventMapper().to_stored_event(event)
    assert encoded.fields is not None
    as_read = StoredEvent(
        encoded.originator_id, encoded.originator_version, encoded.topic, encoded.state
    )
    head = data.draw(st.sampled_from([None, "1" * 64]))
    prev = data.draw(st.sampled_from([None, "2" * 64]))
    written = extend([(position, encoded)], lambda *_: prev, head)
    verified = extend([(position, as_read)], lambda *_: prev, head)
    assert written == verified


def _instant_the_long_way(text: str) -> str:
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 1), timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])
    ),
    form=st.sampled_from(["isoformat", "pydantic", "z"]),
)
def test_a_time_hashes_as_its_instant_however_it_is_written(moment, form):
    if form == "isoformat":
        text = moment.isoformat()
    elif form == "pydantic":
        text = TypeAdapter(datetime).dump_python(moment, mode="json")
    else:
        text = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert instant(text) == _instant_the_long_way(text)


@pytest.mark.parametrize(
    "text", ["2026-02-30T08:00:03.000000Z", "2026-11-20T25:00:03Z", "2026-11-20T08:00:03"]
)
def test_a_time_that_is_no_instant_is_refused(text):
    with pytest.raises(Malformed):
        instant(text)
