"""Whose an intercept is is decided before its history is read, so a 404 tells nothing.

A foreign intercept and a missing id must cost the same: both are decided from
one read of at most one row (the first event, or the projection row), never
from a history whose length the caller could time.
"""

import uuid
from datetime import timedelta

import pytest

from api.access import visible_intercept
from api.composition import evidence_store, open_key_store
from api.gateway import Gateway
from api.refusals import NotFound
from api.services import Services
from domain.commands import ChargeFee
from engine.composition import build_engine
from engine.grant import KeyGrant
from engine.settings import Settings
from tests.builders import policy, request
from tests.conftest import T0


@pytest.fixture
def world(tmp_path, clock):
    settings = Settings(home=tmp_path / "var")
    engine = build_engine(settings, clock=clock)
    svc = Services(
        gateway=Gateway(engine),
        keys=open_key_store(settings, clock),
        evidence=evidence_store(settings),
        clock=clock,
    )
    svc.gateway.execute(policy())
    made = svc.gateway.execute(request())
    iid = made.state.id
    for n in range(40):  # a long history, which a whole-history read would pay for
        svc.gateway.execute(
            ChargeFee(
                intercept_id=iid,
                kind="storage",
                amount_minor=1,
                key=f"fee-{n}",
                actor="m1-staff",
                occurred_at=T0 + timedelta(seconds=n),
            )
        )
    owner = svc.keys.create(KeyGrant(role="merchant", merchant_id="m1")).record
    stranger = svc.keys.create(KeyGrant(role="merchant", merchant_id="m2")).record
    yield svc, engine, iid, owner, stranger
    svc.close()


class Reads:
    """Counts the event store's reads, and how many events each returned."""

    def __init__(self, monkeypatch, engine) -> None:
        self.calls: list[tuple[dict, int]] = []
        recorder = engine.app.recorder
        select = recorder.select_events

        def counted(originator_id, **kwargs):
            found = select(originator_id, **kwargs)
            self.calls.append((kwargs, len(found)))
            return found

        monkeypatch.setattr(recorder, "select_events", counted)


def test_a_foreign_intercept_is_refused_from_its_first_event_alone(world, monkeypatch):
    svc, engine, iid, _, stranger = world
    reads = Reads(monkeypatch, engine)
    with pytest.raises(NotFound):
        visible_intercept(svc, stranger, iid)
    assert reads.calls == [({"lte": 1, "limit": 1}, 1)]


def test_a_missing_id_costs_the_same_single_read(world, monkeypatch):
    svc, engine, _, _, stranger = world
    reads = Reads(monkeypatch, engine)
    with pytest.raises(NotFound):
        visible_intercept(svc, stranger, uuid.uuid4())
    assert reads.calls == [({"lte": 1, "limit": 1}, 0)]


def test_the_owner_is_let_through(world):
    svc, _, iid, owner, _ = world
    assert visible_intercept(svc, owner, iid).merchant_id == "m1"


def test_a_policy_id_is_not_taken_for_an_intercept(world):
    svc, _, _, owner, _ = world
    from domain.ids import policy_id

    with pytest.raises(NotFound):
        visible_intercept(svc, owner, policy_id("m1"))


def test_a_foreign_intercepts_timeline_is_not_read(world, monkeypatch):
    from api.routes import queries as route
    from projections import queries

    svc, engine, iid, owner, stranger = world
    engine.catch_up()
    timelines = []
    read = queries.timeline
    monkeypatch.setattr(
        queries, "timeline", lambda db, i, *more: timelines.append(i) or read(db, i, *more)
    )
    with pytest.raises(NotFound):
        route.show_intercept(iid, key=stranger, svc=svc)
    assert timelines == []
    assert len(route.show_intercept(iid, key=owner, svc=svc).timeline) == 41
