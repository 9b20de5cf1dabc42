"""The relay's envelopes carry the store's hashes, and a subscriber can check them."""

from pathlib import Path
from types import SimpleNamespace
from uuid import UUID

import orjson
import pytest

from audit.topic_check import verify_records
from domain.envelope import Envelope
from domain.events import Cancelled, InterceptEvent
from engine.outgoing import reader
from engine.relay import message
from tests import builders as b
from tests.integration.test_event_versions import store_as_version_1


def sent(engine) -> list:
    """The records the relay would send for everything in the store."""
    _, records = reader(engine.app)(0, 10**6)
    return records


def published(engine) -> list[Envelope]:
    return [Envelope.model_validate_json(r.value) for r in sent(engine)]


def as_records(envelopes) -> list:
    return [
        SimpleNamespace(topic="t", partition=0, offset=n, value=message(e)["value"])
        for n, e in enumerate(envelopes)
    ]


def test_the_relay_sends_what_the_typed_envelope_would_say_byte_for_byte(engine):
    """Built from the stored bytes, the message is the one the event's envelope gives."""
    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    engine.execute(b.carrier(iid, "accepted"))
    engine.execute(b.fee(iid))
    engine.execute(b.cancel(iid))
    links = {k.position: k for k in engine.app.recorder.chain_links(0, 100)}
    expected = []
    for position, event in engine.read_log(0, 100):
        if isinstance(event, InterceptEvent):
            link = links[position]
            envelope = Envelope.of(event, position).model_copy(
                update={
                    "event_hash": link.event_hash,
                    "prev_hash": link.prev_hash,
                    "log_hash": link.log_hash,
                }
            )
            expected.append(message(envelope))
    records = sent(engine)
    assert len(records) == 4
    assert [r.record() for r in records] == expected
    assert [r.event_id for r in records] == [orjson.loads(m["value"])["event_id"] for m in expected]


def test_the_records_sent_verify_from_their_bytes_alone(engine):
    engine.execute(b.policy())
    old = UUID(int=7003)
    store_as_version_1(engine, old)
    engine.execute(b.cancel(old))
    iid = engine.execute(b.request("k2", tracking_no="ZT2")).state.id
    engine.execute(b.cancel(iid))
    records = [
        SimpleNamespace(topic="t", partition=0, offset=n, value=r.value)
        for n, r in enumerate(sent(engine))
    ]
    verdict = verify_records(records)
    assert verdict.ok and verdict.checked == 4


def test_sealed_envelopes_verify_from_their_bytes_alone(engine):
    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    engine.execute(b.cancel(iid))
    engine.execute(b.carrier(iid, "confirmed"))
    envelopes = published(engine)
    assert [e.version for e in envelopes] == [1, 2, 3]
    assert envelopes[0].model_dump(exclude={"event_hash", "prev_hash", "log_hash"}) == Envelope.of(
        engine.read_log(0, 10)[1][1], envelopes[0].position
    ).model_dump(exclude={"event_hash", "prev_hash", "log_hash"})
    verdict = verify_records(as_records(envelopes))
    assert verdict.ok and verdict.checked == 3
    assert verdict.head.log_hash == engine.app.recorder.chain_head().log_hash


def test_an_event_recorded_at_an_older_version_is_published_as_recorded(engine):
    engine.execute(b.policy())
    old = UUID(int=7002)
    store_as_version_1(engine, old)
    engine.execute(b.cancel(old))
    envelopes = published(engine)
    assert [(e.event_type, e.schema_version) for e in envelopes] == [
        ("Requested", 1),
        ("Cancelled", Cancelled.class_version),  # recorded now: the current version
    ]
    assert verify_records(as_records(envelopes)).ok
    # Still read as the current version by the engine's own consumer.
    assert envelopes[0].event().parcel_stage == "unknown"


def _docs_snippet() -> dict:
    text = (Path(__file__).parents[2] / "docs" / "audit.md").read_text()
    code = text.split("The same in a few lines of\nyour own, for any subscriber:")[1]
    code = code.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "docs/audit.md", "exec"), scope)  # noqa: S102 - our own docs
    return scope


def test_the_subscriber_check_in_the_docs_accepts_the_topic_and_names_a_change(engine):
    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    engine.execute(b.fee(iid))
    messages = [orjson.loads(message(e)["value"]) for e in published(engine)]
    snippet = _docs_snippet()
    for m in [*messages, messages[0]]:  # with a redelivery
        snippet["check"](m)
    changed = {**messages[1], "payload": {**messages[1]["payload"], "amount_minor": 1}}
    with pytest.raises(AssertionError, match="changed after it was recorded"):
        _docs_snippet()["check"](changed)


def test_the_topic_check_names_a_gap_a_forged_link_and_a_differing_redelivery(engine):
    from audit.canonical import event_hash, published_document

    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    engine.execute(b.carrier(iid, "accepted"))
    engine.execute(b.fee(iid))
    messages = [orjson.loads(message(e)["value"]) for e in published(engine)]

    def checked(sequence):
        records = [
            SimpleNamespace(topic="t", partition=0, offset=n, value=orjson.dumps(m))
            for n, m in enumerate(sequence)
        ]
        return verify_records(records)

    assert checked([messages[0], messages[1], messages[0], messages[1], messages[2]]).ok
    gap = checked([messages[0], messages[2]]).problem
    assert (gap.check, gap.version, gap.where) == ("version_gap", 3, "t[0]@1")
    forged = {**messages[1], "prev_hash": "ab" * 32}
    forged["event_hash"] = event_hash(forged["prev_hash"], published_document(forged))
    assert checked([messages[0], forged]).problem.check == "broken_link"
    again = {**messages[1], "actor": "someone-else"}
    again["event_hash"] = event_hash(again["prev_hash"], published_document(again))
    assert checked([messages[0], messages[1], again]).problem.check == "redelivery_differs"
