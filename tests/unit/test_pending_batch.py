"""A batch reads each aggregate once: those it knows it needs all at once, others on demand."""

from uuid import UUID

from engine.batch import PendingBatch

A, B, C = UUID(int=1), UUID(int=2), UUID(int=3)


def _collect(state, events):
    return [*(state or []), *events]


class Store:
    def __init__(self, events: dict[UUID, list]) -> None:
        self.events = events
        self.single: list[UUID] = []
        self.many: list[list[UUID]] = []

    def load(self, aggregate_id, projector):
        self.single.append(aggregate_id)
        history = self.events.get(aggregate_id, [])
        return projector(None, history) if history else None

    def load_many(self, ids):
        self.many.append(list(ids))
        return {i: list(self.events.get(i, [])) for i in ids}


def test_preloaded_aggregates_are_read_in_one_query_and_never_again():
    store = Store({A: ["a1", "a2"], B: ["b1"]})
    batch = PendingBatch(store.load, store.load_many)
    batch.preload([A, B, C, A])
    assert store.many == [[A, B, C]]
    assert batch.read(A, _collect) == ["a1", "a2"]
    assert batch.read(B, _collect) == ["b1"]
    assert batch.read(C, _collect) is None  # no events: no aggregate
    assert batch.read(A, _collect) == ["a1", "a2"]
    assert store.single == []


def test_an_aggregate_not_preloaded_is_read_on_demand_once():
    store = Store({A: ["a1"], B: ["b1"]})
    batch = PendingBatch(store.load, store.load_many)
    batch.preload([A])
    assert batch.read(B, _collect) == ["b1"]
    assert batch.read(B, _collect) == ["b1"]
    assert store.single == [B]


def test_events_decided_earlier_in_the_batch_lay_over_the_stored_state():
    class Event:
        def __init__(self, originator_id, name):
            self.originator_id, self.name = originator_id, name

        def __eq__(self, other):
            return getattr(other, "name", other) == self.name

    store = Store({A: ["a1"]})
    batch = PendingBatch(store.load, store.load_many)
    batch.preload([A])
    batch.add([Event(A, "a2")])
    assert batch.read(A, _collect) == ["a1", "a2"]
    assert batch.events == [Event(A, "a2")]


def test_preloading_what_was_already_read_asks_the_store_nothing():
    store = Store({A: ["a1"]})
    batch = PendingBatch(store.load, store.load_many)
    batch.read(A, _collect)
    batch.preload([A])
    assert store.many == []
