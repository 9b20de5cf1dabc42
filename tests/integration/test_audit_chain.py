"""Tamper evidence on the event store: any change, insertion or deletion is named."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.chain import extend
from audit.store_check import verify_store
from audit.verdict import Anchor
from tests.integration.audit_support import copy_store, execute, open_store, record_demo, rows

STATE = "SELECT rowid, state FROM stored_events ORDER BY rowid"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    home = tmp_path_factory.mktemp("history")
    engine = record_demo(home)
    engine.close()
    return home


def verifier(home):
    def verify(**options):
        app = open_store(home)  # held while verifying: the application closes its store
        try:
            return verify_store(app.recorder, **options)
        finally:
            app.close()

    return verify


@pytest.fixture
def store(history, tmp_path):
    """A copy of the history's event store to tamper with: (path, verify)."""
    return copy_store(history, tmp_path), verifier(tmp_path)


def test_every_event_is_recorded_with_its_link_and_the_chain_holds(store):
    path, verify = store
    app = open_store(path.parent)
    positions = [r[0] for r in rows(path, STATE)]
    links = app.recorder.chain_links(0, 10**6)
    assert [k.position for k in links] == positions and len(positions) > 60
    verdict = verify(batch=7)  # pages that split aggregates' runs
    assert verdict.ok and verdict.checked == len(positions)
    assert verdict.head == Anchor(links[-1].position, links[-1].log_hash)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_changing_any_byte_of_any_stored_event_is_caught_at_that_event(
    history, tmp_path_factory, data
):
    home = tmp_path_factory.mktemp("tamper")
    path = copy_store(history, home)
    events = rows(path, STATE)
    position, state = data.draw(st.sampled_from(events), label="event")
    offset = data.draw(st.integers(0, len(state) - 1), label="offset")
    changed = bytearray(state)
    changed[offset] ^= data.draw(st.integers(1, 255), label="xor")
    execute(path, "UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(changed), position))
    problem = verifier(home)().problem
    assert problem is not None and problem.position == position
    assert problem.check in ("event_hash", "log_hash", "malformed")


def test_a_changed_type_or_version_is_caught(store):
    path, verify = store
    position = rows(path, "SELECT rowid FROM stored_events WHERE topic = 'Cancelled'")[0][0]
    execute(path, "UPDATE stored_events SET topic = 'CarrierReleased' WHERE rowid = ?", (position,))
    problem = verify().problem
    assert (problem.position, problem.check) == (position, "event_hash")
    execute(
        path,
        "UPDATE stored_events SET topic = 'Cancelled', originator_version = 99 WHERE rowid = ?",
        (position,),
    )
    problem = verify().problem
    assert (problem.position, problem.check) == (position, "moved")


def test_a_deleted_event_is_named(store):
    path, verify = store
    position = rows(path, STATE)[30][0]
    execute(path, "DELETE FROM stored_events WHERE rowid = ?", (position,))
    problem = verify().problem
    assert (problem.position, problem.check) == (position, "missing_event")
    assert "deleted" in problem.message


def test_an_event_deleted_with_its_link_is_caught_at_the_next_event(store):
    path, verify = store
    positions = [r[0] for r in rows(path, STATE)]
    gone = positions[30]
    execute(path, "DELETE FROM stored_events WHERE rowid = ?", (gone,))
    execute(path, "DELETE FROM stored_events_chain WHERE notification_id = ?", (gone,))
    problem = verify().problem
    assert problem.position == positions[31]
    assert problem.check in ("log_hash", "version_gap")


def test_an_event_written_around_the_engine_is_caught(store):
    path, verify = store
    originator, version, topic, state = rows(
        path,
        "SELECT originator_id, originator_version, topic, state FROM stored_events "
        "WHERE topic = 'FeeCharged' LIMIT 1",
    )[0]
    newest = rows(
        path,
        "SELECT MAX(originator_version) FROM stored_events WHERE originator_id = ?",
        (originator,),
    )[0][0]
    execute(
        path,
        "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
        (originator, newest + 1, topic, state),
    )
    problem = verify().problem
    assert problem.check == "unchained" and problem.version == newest + 1


@pytest.mark.parametrize(
    "column, check", [("event_hash", "event_hash"), ("prev_hash", "broken_link")]
)
def test_a_changed_link_is_caught(store, column, check):
    path, verify = store
    position = rows(
        path, "SELECT notification_id FROM stored_events_chain WHERE version = 3 LIMIT 1"
    )[0][0]
    execute(
        path,
        f"UPDATE stored_events_chain SET {column} = ? WHERE notification_id = ?",
        ("ab" * 32, position),
    )
    problem = verify().problem
    assert (problem.position, problem.check) == (position, check)


def _rewrite_chain(path, app) -> None:
    """What an attacker with write access to the whole database can do."""
    records = list(app.recorder.select_notifications(start=1, limit=10**6))
    links = extend([(r.id, r) for r in records], previous_hash=lambda *_: None, head=None)
    execute(path, "DELETE FROM stored_events_chain")
    for k in links:
        execute(
            path,
            "INSERT INTO stored_events_chain VALUES (?, ?, ?, ?, ?, ?)",
            (k.position, str(k.aggregate_id), k.version, k.prev_hash, k.event_hash, k.log_hash),
        )


def test_a_rewritten_chain_passes_alone_but_not_against_an_anchor_kept_elsewhere(store):
    path, verify = store
    anchor = verify().head
    position, state = rows(
        path, "SELECT rowid, state FROM stored_events WHERE topic = 'FeeCharged' LIMIT 1"
    )[0]
    execute(
        path,
        "UPDATE stored_events SET state = ? WHERE rowid = ?",
        (state.replace(b'"amount_minor":', b'"amount_minor":9'), position),
    )
    assert verify().problem.position == position
    app = open_store(path.parent)
    _rewrite_chain(path, app)
    app.close()
    assert verify().ok  # the documented limit: no anchor, no proof
    problem = verify(anchor=anchor).problem
    assert problem.check == "anchor" and problem.position == anchor.position


def test_a_truncated_tail_is_caught_only_against_an_anchor(store):
    path, verify = store
    anchor = verify().head
    execute(path, "DELETE FROM stored_events WHERE rowid = ?", (anchor.position,))
    execute(path, "DELETE FROM stored_events_chain WHERE notification_id = ?", (anchor.position,))
    assert verify().ok
    problem = verify(anchor=anchor).problem
    assert problem.check == "anchor" and "ends before" in problem.message


def test_on_either_backend_links_are_written_with_the_events_and_a_change_is_caught(
    engine, store_settings
):
    from tests import builders as b

    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    engine.execute(b.cancel(iid))
    recorder = engine.app.recorder
    assert [k.version for k in recorder.chain_of(iid)] == [1, 2]
    assert verify_store(recorder).checked == 4  # policy, request, parcel registry, cancel
    position = recorder.chain_of(iid)[1].position
    changed = (
        b'{"recorded_at":"2026-11-20T08:00:03Z","merchant_id":"m1","actor":"m1-staff",'
        b'"occurred_at":"2026-11-20T08:00:00Z","idempotency_key":null,'
        b'"reason":"buyer_changed_mind","note":null}'
    )
    if store_settings.event_store is None:
        execute(
            store_settings.event_store_path,
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (changed, position),
        )
    else:
        import psycopg

        with psycopg.connect(store_settings.event_store) as conn:
            conn.execute(
                "UPDATE intercept_events SET state = %s WHERE notification_id = %s",
                (changed, position),
            )
    problem = verify_store(recorder).problem
    assert (problem.position, problem.check, problem.event_type) == (
        position,
        "event_hash",
        "Cancelled",
    )
