"""The write side reads each command's aggregates again; what it remembers of them.

An event whose stored form holds no sealed value reads back the same whatever keys
exist, so it is decoded once; an event with a sealed value is opened on every read,
so a key destroyed meanwhile (an erasure, maybe by another process) counts at once.
"""

from domain.personal import buyer_subject
from domain.vocabulary import ERASED
from engine.composition import build_engine
from engine.settings import Settings
from tests import builders as b


def test_a_sealed_event_is_opened_on_every_read_a_plain_one_decoded_once(tmp_path, clock):
    engine = build_engine(Settings(home=tmp_path / "var"), clock=clock)
    try:
        engine.execute(b.policy())
        plain = engine.execute(b.request("k1")).state.id
        noted = engine.execute(
            b.request("k2", order_id="o2", tracking_no="ZT2000", note="the buyer phoned")
        ).state.id

        first = engine.history(plain)[0]
        assert engine.history(plain)[0] is first  # decoded once
        assert engine.history(noted)[0].note == "the buyer phoned"

        assert engine.seals.keys.destroy(buyer_subject("m1", "o2")) == 1
        assert engine.history(noted)[0].note == ERASED
        assert engine.history(plain)[0] == first
    finally:
        engine.close()
