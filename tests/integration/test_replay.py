"""Rebuilds equal the live projections row for row, and swap in while queries go on."""

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import demo, replay
from engine.composition import build_engine
from engine.settings import Settings
from projections import fresh as fresh_module
from projections.fresh import FreshProjections
from projections.point_in_time import Cutoff
from projections.schema import migrate
from storage.database import Database
from tests import builders as b
from tests.conftest import T0, StepClock
from tests.integration.audit_support import START
from tests.integration.projection_tables import tables
from tests.strategies import histories


def rebuilt(engine, source=replay.from_store, meanwhile=lambda: None):
    """A rebuild into fresh projections, swapped into the live ones."""
    report = replay.ReplayReport("store")
    with FreshProjections(engine.db) as target:
        source(target.db, engine.read_log, report, lambda n: None, engine.seals)
        before_swap = tables(target.db)
        meanwhile()
        target.swap_in()
    return before_swap, report


@settings(max_examples=25)
@given(history=histories(), data=st.data())
def test_a_rebuild_equals_the_projections_kept_live_row_for_row(history, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(history)), max_size=4), label="saves"))
    with tempfile.TemporaryDirectory() as home:
        engine = build_engine(Settings(home=Path(home)), clock=StepClock())
        try:
            # Saved in several transactions, projected after each, as commands are.
            for start, end in zip([0, *cuts], [*cuts, len(history)], strict=True):
                if history[start:end]:
                    engine.app.save(*history[start:end])
                    engine.catch_up()
            live = tables(engine.db)
            swapped, report = rebuilt(engine)
            assert swapped == live and tables(engine.db) == live
            assert report.read == len(history)
        finally:
            engine.close()


@settings(max_examples=8, deadline=None)
@given(history=histories(), parts=st.sampled_from([2, 4]))
def test_a_rebuild_in_parts_by_processes_of_its_own_equals_the_live_projections(history, parts):
    with tempfile.TemporaryDirectory() as home:
        engine = build_engine(Settings(home=Path(home)), clock=StepClock())
        try:
            engine.app.save(*history)
            engine.catch_up()
            live = tables(engine.db)
            head = engine.app.event_log.max_position()

            def in_parts(db, read, report, on_batch, keys):
                assert replay.from_store_in_parts(engine.settings, db, report, head, parts) == max(
                    p for p, e in engine.read_intercept_log(0, 10**6)
                )

            swapped, report = rebuilt(engine, source=in_parts)
            assert swapped == live and tables(engine.db) == live
            assert report.read == len(history)
            assert not list(Path(home).glob("*.part*"))  # the parts' files are gone
        finally:
            engine.close()


def test_a_part_of_the_log_is_named_by_a_divisor_of_sixteen():
    from engine.store.recorders import part_digits

    assert part_digits((1, 4)) == ["1", "5", "9", "d"]
    with pytest.raises(ValueError, match="must divide 16"):
        part_digits((0, 3))


@settings(max_examples=25)
@given(history=histories(), data=st.data())
def test_a_view_as_of_a_time_is_the_projections_as_they_were_then(history, data):
    with tempfile.TemporaryDirectory() as home:
        engine = build_engine(Settings(home=Path(home)), clock=StepClock())
        try:
            then = []  # the live tables after each event, by the time it was recorded
            for n, event in enumerate(history):
                recorded = T0 + timedelta(seconds=n)
                engine.app.save(event.model_copy(update={"recorded_at": recorded}))
                engine.catch_up()
                then.append((recorded, tables(engine.db)))
            k = data.draw(st.integers(0, len(then) - 1), label="moment")
            at = then[k][0] + timedelta(milliseconds=data.draw(st.integers(0, 999)))
            view = Database(f"sqlite:///{Path(home) / 'view.db'}")
            migrate(view)
            replay.as_of(
                view,
                engine.read_log,
                Cutoff(at, "recorded"),
                replay.ReplayReport("store"),
                lambda n: None,
            )
            assert tables(view) == then[k][1]
            view.close()
        finally:
            engine.close()


def test_recorded_and_occurred_views_differ_when_a_carrier_reports_late(engine, clock):
    """The carrier stopped the parcel at 10:20 by its clock but said so at 11:00."""
    engine.execute(b.policy())
    clock.now = T0.replace(hour=10) - timedelta(seconds=1)
    iid = engine.execute(b.request(occurred_at=T0.replace(hour=10))).state.id
    clock.now = T0.replace(hour=10, minute=30) - timedelta(seconds=1)
    engine.execute(b.cancel(iid, occurred_at=T0.replace(hour=10, minute=30)))
    clock.now = T0.replace(hour=11) - timedelta(seconds=1)
    engine.execute(b.carrier(iid, "confirmed", occurred_at=T0.replace(hour=10, minute=20)))

    def view(minute: int, clock_name: str) -> dict:
        from projections.point_in_time import intercept_as_of

        at = T0.replace(hour=10) + timedelta(minutes=minute)
        row, _ = intercept_as_of(engine.app.events.get(iid), Cutoff(at, clock_name))
        return {k: row[k] for k in ("status", "conflict", "version")}

    assert view(45, "recorded") == {"status": "cancelled", "conflict": None, "version": 2}
    # By the parties' clocks the parcel was stopped before the cancel; the report still
    # carries the conflict the engine found when it recorded it.
    assert view(25, "occurred") == {
        "status": "intercepted",
        "conflict": "intercepted_after_cancel",
        "version": 3,
    }
    assert view(15, "occurred") == {"status": "requested", "conflict": None, "version": 1}
    assert view(61, "recorded") == {
        "status": "cancelled",
        "conflict": "intercepted_after_cancel",
        "version": 3,
    }


def test_on_either_backend_a_rebuild_swaps_in_and_corrects_a_damaged_projection(engine, clock):
    sim = demo.SimulatedClock(START)
    engine.app.clock = sim
    demo.run(demo.plan(25, 3, START), engine.execute, sim)
    live = tables(engine.db)
    damaged = live[0][0]["intercept_id"]
    with engine.db.transaction() as cur:  # a projection bug, or a hand edit
        cur.execute(
            "UPDATE intercepts SET status = 'requested', fees_minor = 1 WHERE intercept_id = ?",
            (damaged,),
        )
        cur.execute(
            "DELETE FROM intercept_events WHERE intercept_id = ? AND version > 1", (damaged,)
        )
    # A command recorded while the rebuild runs, by a writer that leaves projecting to others.
    writer = build_engine(
        engine.settings.model_copy(update={"kafka_bootstrap": "unused"}), clock=sim
    )
    late = b.request(
        key="during",
        merchant_id="m-001",
        tracking_no="T-8",
        carrier=_enabled_carrier(engine, "m-001"),
    )
    swapped, _ = rebuilt(engine, meanwhile=lambda: writer.execute(late))
    assert swapped == live
    assert tables(engine.db) == live  # seen through the connection that stayed open
    # The projections go on from the swapped-in positions: the late command arrives.
    engine.catch_up()
    iid = writer.execute(b.fee(late_id := _iid(late))).state.id
    engine.catch_up()
    assert (
        engine.db.read("SELECT version FROM intercepts WHERE intercept_id = ?", (str(late_id),))[0][
            "version"
        ]
        == 2
        and iid == late_id
    )
    writer.close()


def _iid(request):
    from domain.ids import intercept_id

    return intercept_id(request.merchant_id, request.key)


def _enabled_carrier(engine, merchant: str) -> str:
    return engine.app.policy(merchant).carriers[0]


def test_readers_see_the_old_rows_or_the_new_ones_never_a_mix(tmp_path, monkeypatch):
    engine = build_engine(Settings(home=tmp_path), clock=demo.SimulatedClock(START))
    demo.run(demo.plan(25, 4, START), engine.execute, engine.app.clock)
    new = tables(engine.db)
    with engine.db.transaction() as cur:
        cur.execute("UPDATE intercepts SET status = 'failed'")
        cur.execute("DELETE FROM intercept_events WHERE version > 2")
    old = tables(engine.db)
    seen = []

    def read_between_statements(conn, source):
        class Watched:
            def execute(self, *args):
                result = conn.execute(*args)
                # Another connection reads after every statement of the swap.
                reader = Database.sqlite_file(tmp_path / "projections.db")
                seen.append(tables(reader))
                reader.close()
                return result

        copy(Watched(), source)

    copy = fresh_module._copy
    monkeypatch.setattr(fresh_module, "_copy", read_between_statements)
    rebuilt(engine)
    assert all(view == old for view in seen)
    assert len(seen) >= 3 * 4  # at least columns, delete and insert for each of four tables
    assert tables(engine.db) == new
    engine.close()


@pytest.mark.parametrize("clock_name", ["recorded", "occurred"])
def test_a_whole_view_at_a_time_holds_each_intercept_as_show_gives_it(tmp_path, clock_name):
    from projections.point_in_time import intercept_as_of

    sim = demo.SimulatedClock(START)
    engine = build_engine(Settings(home=tmp_path), clock=sim)
    demo.run(demo.plan(30, 8, START), engine.execute, sim)
    ids = [r["intercept_id"] for r in engine.db.read("SELECT intercept_id FROM intercepts")]
    for hours in (2, 9, 30):
        at = START + timedelta(hours=hours)
        view = Database(f"sqlite:///{tmp_path / f'{clock_name}-{hours}.db'}")
        migrate(view)
        replay.as_of(
            view,
            engine.read_intercept_log,
            Cutoff(at, clock_name),
            replay.ReplayReport("store"),
            lambda n: None,
            keys=engine.seals,  # the recipients open as `show` opens them
        )
        rows = {r["intercept_id"]: r for r in view.read("SELECT * FROM intercepts")}
        from uuid import UUID

        expected = {}
        for iid in ids:
            row, _ = intercept_as_of(engine.app.events.get(UUID(iid)), Cutoff(at, clock_name))
            if row is not None:
                expected[iid] = row
        assert rows == expected and 0 < len(rows)
        view.close()
    engine.close()


def test_a_part_that_fails_fails_the_rebuild_in_one_line_and_leaves_no_file(
    tmp_path, monkeypatch, capfd
):
    from projections import bulk

    engine = build_engine(Settings(home=tmp_path), clock=StepClock())
    try:
        target = Database.sqlite_file(tmp_path / "fresh.db")
        migrate(target)

        def broken(*args, **kwargs):
            raise ValueError("the disk is full\nsecond line")

        monkeypatch.setattr(bulk, "fill", broken)  # the parts are forks: they call this one
        with pytest.raises(replay.PartFailed) as failed:
            replay.from_store_in_parts(engine.settings, target, replay.ReplayReport("store"), 0, 2)
        assert sorted(str(failed.value).split("; ")) == [
            f"part {k} of 2: ValueError: the disk is full" for k in (0, 1)
        ]
        assert "Traceback" not in capfd.readouterr().err
        assert sorted(p.name for p in tmp_path.glob("fresh.db.part*")) == []
        target.close()
    finally:
        engine.close()


def test_on_either_backend_the_parts_of_the_log_hold_each_intercept_whole_in_one(engine):
    engine.execute(b.policy())
    for n in range(12):
        iid = engine.execute(b.request(f"k{n}", order_id=f"o{n}", tracking_no=f"ZT{n}")).state.id
        engine.execute(b.cancel(iid))
    whole = list(engine.read_intercept_log(0, 1000))
    parts = [list(engine.read_intercept_log(0, 1000, (k, 2))) for k in range(2)]
    assert sorted(parts[0] + parts[1], key=lambda entry: entry[0]) == whole
    owners = [{e.originator_id for _, e in part} for part in parts]
    assert owners[0] and owners[1] and not owners[0] & owners[1]
    # Read in small batches, a part's entries come in position order, none twice.
    after, again = 0, []
    while batch := engine.read_intercept_log(after, 5, (1, 2)):
        again += batch
        after = batch[-1][0]
    assert again == parts[1]
