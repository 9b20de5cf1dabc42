"""Events projected straight from the store give the rows their published envelopes give."""

from datetime import timedelta

from hypothesis import given

from consumers.decode import decode
from domain.envelope import Envelope
from engine.relay import message
from projections.projector import Projector
from projections.recorded import Recorded
from projections.schema import migrate
from storage.database import Database
from tests.conftest import T0
from tests.strategies import histories as _histories


def histories():
    """Histories whose events were recorded at distinct moments, after they occurred."""
    return _histories().map(
        lambda events: [
            e.model_copy(update={"recorded_at": T0 + timedelta(minutes=n)})
            for n, e in enumerate(events, 1)
        ]
    )


def _projector() -> Projector:
    db = Database("sqlite:///:memory:")
    migrate(db)
    return Projector(db)


def _tables(projector: Projector) -> tuple:
    return tuple(
        projector.db.read(f"SELECT * FROM {table} ORDER BY 1, 2")
        for table in ("intercepts", "intercept_events", "pending_events")
    )


def _published(history) -> list[Envelope]:
    return [decode(message(Envelope.of(e, n))["value"]) for n, e in enumerate(history, 1)]


@given(history=histories())
def test_store_entries_and_published_envelopes_give_the_same_rows(history):
    from_store, from_topic = _projector(), _projector()
    from_store.apply([Recorded(e, n) for n, e in enumerate(history, 1)], {})
    from_topic.apply(_published(history), {})
    assert _tables(from_store) == _tables(from_topic)


@given(history=histories())
def test_a_store_entry_held_back_is_kept_in_its_published_form(history):
    entries = [Recorded(e, n) for n, e in enumerate(history, 1)]
    early, reference = _projector(), _projector()
    early.apply([entries[-1]], {})  # ahead of its predecessors when its version > 1
    pending = _tables(early)[2]
    for row in pending:
        assert Envelope.model_validate_json(row["envelope"]) == _published(history)[-1]
    early.apply(entries, {})
    reference.apply(_published(history), {})
    assert _tables(early) == _tables(reference)


def test_the_intercept_log_read_is_the_library_notifications_decoded(engine):
    """The catch-up's own read gives what the library's read and mapper give, in order."""
    from tests import builders as b

    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    engine.execute(b.carrier(iid, "accepted"))
    engine.execute(b.request("k2", tracking_no="ZT2"))
    engine.execute(b.cancel(iid))
    library = [
        (n.id, engine.app.mapper.to_domain_event(n))
        for n in engine.app.recorder.select_notifications(
            start=0, limit=100, inclusive_of_start=False
        )
        if n.topic in ("Requested", "CarrierAccepted", "Cancelled")
    ]
    assert engine.read_intercept_log(0, 100) == library
    assert len(library) == 4
    assert engine.read_intercept_log(library[1][0], 2) == library[2:4]


def test_a_catch_up_far_behind_applies_every_batch_and_restores_the_checkpoint_interval(engine):
    from projections.catchup import catch_up
    from storage.database import WAL_CHECKPOINT_PAGES
    from tests import builders as b

    engine.execute(b.policy())
    for n in range(5):
        iid = engine.app.request(b.request(f"k{n}", tracking_no=f"ZT{n}")).state.id
        engine.app.handle(b.carrier(iid, "accepted"))
    read = engine.read_intercept_log(0, 100)
    assert catch_up(engine.projector, engine.read_intercept_log, batch_size=3) == len(read)
    rows = engine.db.read("SELECT status, version FROM intercepts")
    assert sorted((r["status"], r["version"]) for r in rows) == [("accepted", 2)] * 5
    assert engine.projector.positions("eventstore") == {0: read[-1][0]}
    if not engine.db.postgres:
        assert (
            engine.db.read("PRAGMA wal_autocheckpoint")[0]["wal_autocheckpoint"]
            == WAL_CHECKPOINT_PAGES
        )
