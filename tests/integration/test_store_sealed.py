"""The library's compression and encryption settings apply to the event store.

With COMPRESSOR_TOPIC or CIPHER_KEY set, the stored bytes are compressed or encrypted,
every event reads back equal, the chain verifies over them, and the relay publishes
the same messages as without: subscribers verify them from the topic alone.
"""

import zlib
from types import SimpleNamespace

import orjson
import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment

from audit.store_check import verify_store
from audit.topic_check import verify_records
from domain.envelope import Envelope
from domain.events import InterceptEvent
from engine.composition import build_engine
from engine.outgoing import reader
from engine.relay import message
from tests import builders as b

SEALINGS = {
    "compressed": {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"},
    "encrypted": {"CIPHER_KEY": AESCipher.create_key(num_bytes=32)},
    "both": {
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(num_bytes=16),
    },
}


def _record(engine) -> None:
    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    engine.execute(b.carrier(iid, "accepted"))
    engine.execute(b.fee(iid))
    engine.execute(b.cancel(iid))


def _stored_states(engine) -> list[bytes]:
    return [bytes(n.state) for n in engine.app.event_log.select_notifications(1, 100)]


@pytest.mark.parametrize("sealing", SEALINGS, ids=list(SEALINGS))
def test_events_are_stored_sealed_read_back_equal_and_publish_verifiably(
    sealing, store_settings, clock, monkeypatch, tmp_path
):
    from engine.settings import Settings

    for key, value in SEALINGS[sealing].items():
        monkeypatch.setenv(key, value)
    engine = build_engine(store_settings, clock=clock)
    try:
        _record(engine)
        states = _stored_states(engine)
        assert len(states) == 6  # policy, request, parcel registry, accepted, fee, cancel
        settings = SEALINGS[sealing]
        cipher = AESCipher(Environment(env=settings)) if "CIPHER_KEY" in settings else None
        for state in states:
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(state)  # not the JSON any more
            plain = cipher.decrypt(state) if cipher else state
            if "COMPRESSOR_TOPIC" in settings:
                plain = zlib.decompress(plain)
            assert isinstance(orjson.loads(plain), dict)  # the JSON, compressed or encrypted
        typed = engine.read_log(0, 100)
        assert len(typed) == 6
        assert verify_store(engine.app.event_log).ok
        assert verify_store(engine.app.recorder).ok
        _, records = reader(engine.app)(0, 100)
        assert verify_records(
            SimpleNamespace(topic="t", partition=0, offset=n, value=r.value)
            for n, r in enumerate(records)
        ).ok
        links = {k.position: k for k in engine.app.event_log.chain_links(0, 100)}
        expected = [
            message(
                Envelope.of(event, position).model_copy(
                    update={
                        "event_hash": links[position].event_hash,
                        "prev_hash": links[position].prev_hash,
                        "log_hash": links[position].log_hash,
                    }
                )
            )
            for position, event in typed
            if isinstance(event, InterceptEvent)
        ]
        assert [r.record() for r in records] == expected
    finally:
        engine.close()

    # The same commands on a store without sealing: the same events, the same event hashes
    # (the hashed form is the JSON's), other log hashes (they cover the bytes as stored).
    for key in SEALINGS[sealing]:
        monkeypatch.delenv(key)
    plain = build_engine(Settings(home=tmp_path / "plain"), clock=type(clock)())
    try:
        _record(plain)
        assert [e for _, e in plain.read_log(0, 100)] == [e for _, e in typed]
        plain_links = plain.app.event_log.chain_links(0, 100)
        assert [k.event_hash for k in plain_links] == [links[p].event_hash for p, _ in typed]
        assert [k.log_hash for k in plain_links] != [links[p].log_hash for p, _ in typed]
    finally:
        plain.close()


def test_a_wrong_key_reads_nothing_and_verify_names_the_first_event(
    store_settings, clock, monkeypatch
):
    monkeypatch.setenv("CIPHER_KEY", AESCipher.create_key(num_bytes=32))
    engine = build_engine(store_settings, clock=clock)
    try:
        _record(engine)
    finally:
        engine.close()
    monkeypatch.setenv("CIPHER_KEY", AESCipher.create_key(num_bytes=32))
    other = build_engine(store_settings, clock=clock)
    try:
        with pytest.raises(ValueError, match="cannot be read"):
            other.read_log(0, 100)
        problem = verify_store(other.app.event_log).problem
        assert problem is not None and (problem.check, problem.position) == ("malformed", 1)
    finally:
        other.close()
