"""The chain as written by a recorder that remembers its own commits.

A recorder takes the log's head and an aggregate's previous hash from what it committed
itself when nothing was written after it; these tests write through two engines on one
store, in turns and in batches, and cut the log's tail, and the chain must hold
throughout, each link as the verifier recomputes it.
"""

from sqlite3 import connect

from audit.store_check import verify_store
from engine.composition import build_engine
from engine.settings import Settings
from tests import builders as b
from tests.conftest import StepClock

MAX_ROW = "SELECT MAX(rowid) FROM stored_events"


def _verified(engine) -> int:
    verdict = verify_store(engine.app.recorder)
    assert verdict.ok, verdict.problem
    return verdict.checked


def test_two_engines_writing_in_turns_keep_one_chain(tmp_path):
    settings = Settings(home=tmp_path)
    first = build_engine(settings, clock=StepClock())
    second = build_engine(settings, clock=StepClock())
    try:
        first.execute(b.policy())
        ids = []
        for n in range(6):
            writer = (first, second)[n % 2]
            ids.append(writer.execute(b.request(f"k{n}", tracking_no=f"ZT{n}")).state.id)
        # Each cancels intercepts the other recorded, one by one and in a batch.
        for n, iid in enumerate(ids[:2]):
            (second, first)[n % 2].execute(b.cancel(iid))
        first.execute_many([b.cancel(i) for i in ids[2:4]])
        second.execute_many([b.cancel(i) for i in ids[4:]])
        assert _verified(first) == _verified(second) == 1 + 6 * 2 + 6
        for iid in ids:
            assert [k.version for k in first.app.event_log.chain_of(iid)] == [1, 2]
    finally:
        first.close()
        second.close()


def test_a_batch_takes_consecutive_positions_in_its_order(tmp_path):
    engine = build_engine(Settings(home=tmp_path), clock=StepClock())
    try:
        engine.execute(b.policy())
        decisions = engine.execute_many(
            [b.request(f"k{n}", tracking_no=f"ZT{n}") for n in range(5)]
        )
        links = engine.app.event_log.chain_links(1, 100)
        assert [k.position for k in links] == list(range(2, 12))
        # Each request's intercept, then its parcel's registry, in the order decided.
        assert [k.aggregate_id for k in links[::2]] == [d.state.id for d in decisions]
        assert _verified(engine) == 11
    finally:
        engine.close()


def test_after_the_tail_is_cut_the_next_event_chains_to_what_is_left(tmp_path):
    settings = Settings(home=tmp_path)
    engine = build_engine(settings, clock=StepClock())
    try:
        engine.execute(b.policy())
        iid = engine.execute(b.request("k1")).state.id
        with connect(settings.event_store_path) as db:
            (last,) = db.execute(MAX_ROW).fetchone()
            db.execute("DELETE FROM stored_events WHERE rowid = ?", (last,))
            db.execute("DELETE FROM stored_events_chain WHERE notification_id = ?", (last,))
        engine.execute(b.request("k2", tracking_no="ZT2"))
        engine.execute(b.cancel(iid))
        assert _verified(engine) == 5
    finally:
        engine.close()


def test_what_a_recorder_remembers_of_its_commits_is_bounded_and_keeps_the_newest():
    from uuid import uuid4

    from audit.chain import ChainLink
    from engine.store import recorders

    committed = recorders._Committed()
    aggregates = [uuid4() for _ in range(recorders._KNOWN_HASHES + 10)]
    committed.learn(
        [ChainLink(n + 1, a, 1, "p", f"e{n}", f"l{n}") for n, a in enumerate(aggregates)]
    )
    assert len(committed.hashes) == recorders._KNOWN_HASHES
    assert (aggregates[0], 1) not in committed.hashes
    assert committed.hashes[aggregates[-1], 1] == f"e{len(aggregates) - 1}"
    assert committed.head_before(len(aggregates) + 1) == f"l{len(aggregates) - 1}"
    assert committed.head_before(len(aggregates) + 2) is None
