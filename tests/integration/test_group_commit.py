"""Group commit: commands queued together are answered exactly as the same ones one by one.

The API's gateway (api/gateway.py) hands concurrent commands to one writer, which
records them in batches. Whatever batches a mix falls into, every command gets the
answer it would have got alone, in the order it was queued, and the stores end the same.
"""

import asyncio
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.access import acting_on, acts_on_state
from api.gateway import Gateway, GatewayClosed
from domain.decision import Decision, Outcome
from domain.errors import DomainError
from domain.ids import intercept_id
from engine.composition import build_engine
from engine.keystore import ApiKey
from engine.roles import Role
from engine.settings import Settings
from engine.usecases import NotVisible
from storage.database import DatabaseBusy
from tests import builders as b
from tests.conftest import StepClock

_M1 = ApiKey("key_m1", Role.MERCHANT, "m1", None, "2026-11-20T08:00:00Z", None)
_M2 = ApiKey("key_m2", Role.MERCHANT, "m2", None, "2026-11-20T08:00:00Z", None)
_ZTO = ApiKey("key_zto", Role.CARRIER, None, "ZTO", "2026-11-20T08:00:00Z", None)
_SF = ApiKey("key_sf", Role.CARRIER, None, "SF", "2026-11-20T08:00:00Z", None)


def _iid(key: str):
    return intercept_id("m1", key)


def _command(kind: str, key: str, parcel: str, caller: int):
    """(command, the key it is sent with or None for no access check)."""
    iid = _iid(key)
    merchant = (_M1, _M2)[caller]
    carrier = (_ZTO, _SF)[caller]
    return {
        "request": lambda: (b.request(key, tracking_no=parcel, order_id=f"o-{key}"), None),
        "cancel": lambda: (b.cancel(iid), merchant),
        "accepted": lambda: (b.carrier(iid, "accepted"), carrier),
        "confirmed": lambda: (b.carrier(iid, "confirmed"), carrier),
        "failed": lambda: (b.carrier(iid, "failed"), carrier),
        "fee": lambda: (b.fee(iid, key=f"fee-{parcel}"), merchant),
    }[kind]()


_MIXES = st.lists(
    st.builds(
        _command,
        st.sampled_from(["request", "request", "cancel", "accepted", "confirmed", "failed", "fee"]),
        st.sampled_from(["k1", "k2", "k3"]),
        st.sampled_from(["ZT1", "ZT2"]),
        st.sampled_from([0, 0, 0, 1]),  # now and then a caller the intercept is not theirs
    ),
    min_size=1,
    max_size=14,
)


def _answer(result) -> tuple:
    if isinstance(result, DomainError):
        return ("refused", type(result).__name__, result.rule, result.message)
    state = result.state
    return (result.outcome.value, [e.model_dump() for e in result.events], state.version)


def _alone(engine, command, key):
    """The reference: the access check as a read of its own, then the command by itself."""
    if key is not None:
        state = engine.app.intercept(command.intercept_id) if _exists(engine, command) else None
        if state is None or not acts_on_state(key, state):
            return NotVisible(f"no intercept with id {command.intercept_id}")
    try:
        return engine.execute(command)
    except DomainError as refusal:
        return refusal


def _exists(engine, command) -> bool:
    return bool(engine.app.recorder.select_events(command.intercept_id, limit=1))


def _stored(engine) -> list:
    events = [(n, type(e).__name__, e.model_dump()) for n, e in engine.read_log(0, 10_000)]
    rows = engine.db.read("SELECT * FROM intercepts ORDER BY intercept_id") + engine.db.read(
        "SELECT * FROM intercept_events ORDER BY intercept_id, version"
    )
    return [events, rows]


def _all_at_once(gateway: Gateway, mix) -> list:
    """Every command queued before the writer may start: batches as large as allowed."""

    async def send():
        with gateway._lock:  # the writer waits here with the first batch in hand
            waiting = [
                asyncio.ensure_future(
                    gateway.submit([c], [acting_on(k, c.intercept_id) if k else None])
                )
                for c, k in mix
            ]
            await asyncio.sleep(0)  # each has queued its job (before its first await)
        return [answers[0] for answers in await asyncio.gather(*waiting)]

    return asyncio.run(send())


@settings(max_examples=20)
@given(mix=_MIXES, max_batch=st.integers(1, 6))
def test_a_concurrent_mix_is_answered_as_one_by_one(mix, max_batch):
    with tempfile.TemporaryDirectory() as tmp:
        single = build_engine(Settings(home=Path(tmp) / "single"), clock=StepClock())
        grouped = build_engine(Settings(home=Path(tmp) / "grouped"), clock=StepClock())
        gateway = Gateway(grouped, max_batch=max_batch)
        try:
            single.execute(b.policy())
            gateway.execute(b.policy())
            one_by_one = [_alone(single, c, k) for c, k in mix]
            together = _all_at_once(gateway, mix)
            assert [_answer(r) for r in together] == [_answer(r) for r in one_by_one]
            assert _stored(grouped) == _stored(single)
        finally:
            gateway.close()
            single.close()


def test_a_failing_batch_is_run_again_one_by_one(tmp_path, clock, monkeypatch):
    engine = build_engine(Settings(home=tmp_path / "var"), clock=clock)
    gateway = Gateway(engine)
    gateway.execute(b.policy())
    original = engine.execute_many

    def breaks_on_batches(commands, checks=()):
        if len(commands) > 1:
            raise RuntimeError("a batch broke")
        return original(commands, checks)

    monkeypatch.setattr(engine, "execute_many", breaks_on_batches)
    mix = [(b.request("k1"), None), (b.request("k2"), None), (b.cancel(_iid("k1")), _M1)]
    answers = _all_at_once(gateway, mix)
    assert [_answer(a)[0] for a in answers] == ["recorded", "refused", "recorded"]
    assert answers[1].rule == "one_open_intercept_per_parcel"
    gateway.close()


def _running(gateway: Gateway, command):
    """Queue a command and wait until the writer has taken it (and blocks on the lock)."""
    job = gateway._queue_job([command], [None])
    while not job.future.running():
        threading.Event().wait(0.001)
    return job


def test_a_command_that_waited_too_long_is_not_run(tmp_path, clock):
    engine = build_engine(Settings(home=tmp_path / "var"), clock=clock)
    gateway = Gateway(engine, max_wait=0.05)
    gateway.execute(b.policy())
    head = engine.app.recorder.max_notification_id()
    with gateway._lock:  # the writer is stuck on a long batch
        first = _running(gateway, b.request("k0"))
        with pytest.raises(DatabaseBusy, match="waited 0.05 s for the engine's writer"):
            gateway.execute(b.request("k1", tracking_no="ZT9"))
        with pytest.raises(DatabaseBusy, match="waited 0.05 s for the engine's writer"):
            asyncio.run(gateway.submit([b.request("k2", tracking_no="ZT8")]))
    (answer,) = first.future.result()
    assert answer.outcome is Outcome.RECORDED  # its batch had begun: it is answered
    assert engine.app.recorder.max_notification_id() == head + 2  # k1 was dropped unrun
    gateway.close()


def test_closing_answers_every_queued_command_then_refuses_new_ones(tmp_path, clock):
    engine = build_engine(Settings(home=tmp_path / "var"), clock=clock)
    gateway = Gateway(engine)
    gateway.execute(b.policy())
    with gateway._lock:
        jobs = [_running(gateway, b.request("k0"))]
        jobs += [
            gateway._queue_job([b.request(f"k{n}", tracking_no=f"ZT{n}")], [None])
            for n in range(1, 5)
        ]
        closing = threading.Thread(target=gateway.close)
        closing.start()
        while not gateway._closed:
            threading.Event().wait(0.001)
    closing.join()
    assert [job.future.result()[0].outcome for job in jobs] == [Outcome.RECORDED] * 5
    with pytest.raises(GatewayClosed):
        gateway.execute(b.request("late"))


def test_threads_racing_through_one_gateway_lose_nothing(store_settings, clock):
    """Many callers at once, on SQLite and PostgreSQL: each request recorded once, answered."""
    engine = build_engine(store_settings, clock=clock)
    gateway = Gateway(engine, max_batch=8)
    gateway.execute(b.policy())
    answers: dict[int, Decision] = {}

    def send(n: int) -> None:
        command = b.request(f"k{n}", tracking_no=f"ZT{n}", order_id=f"o{n}")
        answers[n] = gateway.execute(command)
        again = gateway.execute(b.cancel(_iid(f"k{n}")), acting_on(_M1, _iid(f"k{n}")))
        assert again.outcome is Outcome.RECORDED

    threads = [threading.Thread(target=send, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == list(range(24))
    assert {a.outcome for a in answers.values()} == {Outcome.RECORDED}
    rows = engine.db.read("SELECT status FROM intercepts")
    assert [r["status"] for r in rows] == ["cancelled"] * 24
    gateway.close()


def test_a_store_fault_that_recorded_nothing_answers_the_whole_batch_at_once(
    tmp_path, clock, monkeypatch
):
    engine = build_engine(Settings(home=tmp_path / "var"), clock=clock)
    gateway = Gateway(engine)
    gateway.execute(b.policy())
    calls: list[int] = []

    def locked(commands, checks=()):
        calls.append(len(commands))
        raise DatabaseBusy("database is locked")

    monkeypatch.setattr(engine, "execute_many", locked)
    mix = [(b.request(f"k{n}", tracking_no=f"ZT{n}"), None) for n in range(3)]
    with gateway._lock:
        waiting = [gateway._queue_job([c], [None]) for c, _ in mix]
    for job in waiting:
        with pytest.raises(DatabaseBusy):
            job.future.result(5)
    assert sum(calls) == 3  # not run again one by one, each waiting out the lock anew
    gateway.close()


def test_a_read_after_a_command_runs_in_its_batch_and_not_after_a_refusal(tmp_path, clock):
    """`execute_then`: the read sees the batch's own events, in the writer's turn of the
    lock (the event loop never takes it); a refused command reads nothing."""
    engine = build_engine(Settings(home=tmp_path / "var"), clock=clock)
    gateway = Gateway(engine)
    gateway.execute(b.policy())
    reads: list[str] = []

    def status(key: str):
        def read(seen) -> str:
            assert seen is engine and gateway._lock.locked()
            reads.append(key)
            rows = seen.db.read(
                "SELECT status FROM intercepts WHERE intercept_id = ?", (str(_iid(key)),)
            )
            return rows[0]["status"]

        return read

    async def send():
        with gateway._lock:  # both queued before the writer starts: one batch
            first = asyncio.ensure_future(
                gateway.execute_then(b.request("k1", tracking_no="ZT1"), status("k1"))
            )
            twice = asyncio.ensure_future(
                gateway.execute_then(b.request("k2", tracking_no="ZT1"), status("k2"))
            )
            await asyncio.sleep(0)
        return await first, await asyncio.gather(twice, return_exceptions=True)

    (decision, seen), (refused,) = asyncio.run(send())
    assert decision.outcome is Outcome.RECORDED and seen == "requested"
    assert isinstance(refused, DomainError) and refused.rule == "one_open_intercept_per_parcel"
    assert reads == ["k1"]
    gateway.close()
