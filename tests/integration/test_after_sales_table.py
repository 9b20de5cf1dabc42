"""The package center's after-sales table: applying a batch again, or the whole log again
from its start (a lost position), leaves the same rows as reading it once."""

from datetime import UTC, datetime
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import after_sale as after_sales
from domain.commands import ReportAfterSale
from projections import after_sales as table
from projections.schema import migrate
from storage.database import Database

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _history(steps) -> list:
    states: dict[int, after_sales.AfterSale | None] = {}
    log = []
    for n, what in steps:
        state = states.get(n)
        if what == "decide" and state is not None and state.undecided:
            stopped = after_sales.Stopped("auto_intercept_status", "not listed")
            event = after_sales.declined(state, stopped, NOW, NOW)
        elif what == "decide":
            continue
        else:
            command = ReportAfterSale(
                merchant_id="m1",
                after_sale_id=f"A{n}",
                order_id=f"o{n}",
                tracking_no=f"T{n}",
                carrier="ZTO",
                amount_minor=100,
                status=what,
                actor="platform",
                occurred_at=NOW,
            )
            decided = after_sales.report(state, command, after_sale_id=UUID(int=n + 1), now=NOW)
            if not decided.events:
                continue
            (event,) = decided.events
        states[n] = after_sales.evolve(state, event)
        log.append((len(log) + 1, event))
    return log


steps = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["refund_requested", "closed", "decide"])),
    max_size=15,
)


def _rows(db) -> list:
    return table.list_after_sales(db, None, 1000)


@settings(max_examples=25)
@given(steps=steps, cuts=st.lists(st.integers(0, 15), max_size=4), data=st.data())
def test_redelivered_and_replayed_batches_change_nothing(tmp_path_factory, steps, cuts, data):
    log = _history(steps)
    once = Database.sqlite_file(tmp_path_factory.mktemp("once") / "p.db")
    migrate(once)
    table.apply(once, log)
    again = Database.sqlite_file(tmp_path_factory.mktemp("again") / "p.db")
    migrate(again)
    bounds = sorted({0, len(log), *(min(c, len(log)) for c in cuts)})
    for start, end in zip(bounds, bounds[1:], strict=False):
        batch = log[start:end]
        table.apply(again, batch)
        if data.draw(st.booleans()):
            table.apply(again, batch)  # redelivered
    table.apply(again, log)  # replayed from the start
    assert _rows(again) == _rows(once)
    if log:
        assert table.position(again) == len(log)


@settings(max_examples=25)
@given(
    steps=steps,
    others=st.lists(st.integers(0, 1200), max_size=6),
    heads=st.lists(st.integers(0, 3000), min_size=1, max_size=5),
)
def test_a_catch_up_starts_where_the_last_found_nothing_more_and_loses_no_after_sale(
    tmp_path_factory, steps, others, heads
):
    """Entries of other kinds between the after-sales (as many as a busy log holds): each
    catch-up starts where the last found nothing more, and never passes over an after-sale."""
    ours = _history(steps)
    # Spread the after-sales over a longer log: position p of ours becomes p + gaps before it.
    gaps = sorted(others)
    log, shift = [], 0
    for n, (_, event) in enumerate(ours):
        shift += gaps[n] if n < len(gaps) else 0
        log.append((n + 1 + shift, event))
    end = (log[-1][0] if log else 0) + sum(gaps[len(ours) :])
    once = Database.sqlite_file(tmp_path_factory.mktemp("once") / "p.db")
    migrate(once)
    table.apply(once, ours)
    db = Database.sqlite_file(tmp_path_factory.mktemp("passed") / "p.db")
    migrate(db)
    scanned = table.Scanned()
    for head in sorted(min(h, end) for h in heads) + [end]:
        visible = [entry for entry in log if entry[0] <= head]

        def read(after, limit, topics, visible=visible):
            return [entry for entry in visible if entry[0] > after][:limit]

        table.catch_up(db, read, lambda head=head: head, scanned)
        assert scanned.up_to <= head
    assert _rows(db) == _rows(once)
    # What is stored is the log's alone, as a rebuild records it; the next call reads only
    # what comes after the head.
    assert table.position(db) == (log[-1][0] if log else 0)
    assert scanned.up_to == end
