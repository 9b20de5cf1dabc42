"""The topic check goes past foreign and unhashed messages; --all lists every problem."""

from types import SimpleNamespace

import orjson
import pytest

from audit.store_check import verify_store
from audit.topic_check import verify_records
from tests import builders as b
from tests.integration.audit_support import execute, rows
from tests.integration.test_audit_seal import sent


def records(values) -> list:
    return [
        SimpleNamespace(topic="t", partition=0, offset=n, value=v) for n, v in enumerate(values)
    ]


def history(engine) -> list[bytes]:
    engine.execute(b.policy())
    for n in range(3):
        iid = engine.execute(b.request(f"k{n}", tracking_no=f"ZT{n}")).state.id
        engine.execute(b.fee(iid, key=f"f{n}"))
    return [r.value for r in sent(engine)]


def changed(value: bytes) -> bytes:
    message = orjson.loads(value)
    message["payload"]["amount_minor"] = 19_800
    return orjson.dumps(message)


def test_a_foreign_message_is_reported_as_such_and_the_rest_is_verified(engine):
    values = history(engine)
    foreign = [b"not json", b'{"hello": "world"}', b"[1, 2]"]
    unhashed = orjson.loads(values[2])
    for key in ("event_hash", "prev_hash", "log_hash"):
        unhashed.pop(key)
    mixed = [values[0], foreign[0], values[1], foreign[1], values[2], foreign[2], *values[3:]]
    verdict = verify_records(records(mixed))
    assert verdict.ok and verdict.problem is None
    assert verdict.checked == len(values) == 6
    assert verdict.counts() == {"foreign": 3, "unhashed": 0}
    assert [p.where for p in verdict.unverifiable] == ["t[0]@1", "t[0]@3", "t[0]@5"]

    verdict = verify_records(records([*values[:2], orjson.dumps(unhashed), b"x"]))
    assert verdict.counts() == {"foreign": 1, "unhashed": 1}
    assert verdict.problem is None and not verdict.ok  # an event that escapes the check


def test_past_a_foreign_message_a_change_is_still_named(engine):
    values = history(engine)
    mixed = [b"garbage", *values[:3], changed(values[3]), *values[4:]]
    verdict = verify_records(records(mixed))
    assert not verdict.ok and verdict.problem.check == "event_hash"
    assert verdict.problem.where == "t[0]@4" and verdict.counts()["foreign"] == 1


def test_all_lists_every_problem_on_the_topic(engine):
    values = history(engine)
    mixed = [values[0], changed(values[1]), values[2], changed(values[3]), *values[4:]]
    first = verify_records(records(mixed))
    assert [p.where for p in first.problems] == ["t[0]@1"]
    every = verify_records(records(mixed), every=True)
    assert every.problem == first.problem
    assert [(p.where, p.check) for p in every.problems[:2]] == [
        ("t[0]@1", "event_hash"),
        ("t[0]@3", "event_hash"),
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_all_lists_every_changed_event_in_the_store_each_at_its_own_position(
    engine, store_settings
):
    history(engine)
    found = [
        (rowid, state)
        for rowid, state in rows(
            store_settings.event_store_path, "SELECT rowid, state FROM stored_events ORDER BY rowid"
        )
        if b'"amount_minor":19900' in state
    ]
    assert len(found) == 3
    for rowid, state in found[::2]:
        execute(
            store_settings.event_store_path,
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (state.replace(b"19900", b"19800"), rowid),
        )
    assert [p.position for p in verify_store(engine.app.recorder).problems] == [found[0][0]]
    every = verify_store(engine.app.recorder, every=True)
    assert [(p.position, p.check) for p in every.problems] == [
        (found[0][0], "event_hash"),
        (found[2][0], "event_hash"),
    ]
    assert every.checked == 10 - 2  # policy, 3 requests, 3 parcel registries, 3 fees
