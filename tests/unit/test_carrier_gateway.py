"""The carrier gateway with a fake clock and a fake carrier: retries, backoff, giving up,
and the gateway as a reader of the feed under duplicate, reordered and replayed delivery."""

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.protocol import Answer, Connection, ProtocolError, Unreachable
from domain.commands import RecordCarrierUnreachable, ReportCarrierOutcome
from domain.events import Cancelled, Requested
from domain.ids import carrier_request_id
from engine.carrier_gateway import Backoff, CarrierGateway, Link, fact_of
from engine.store.outbound import OutboundStore, PositionMoved
from storage.database import Database

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
IID = UUID("00000000-0000-4000-8000-000000000001")


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeCarrier:
    """Answers `failures` calls with the given error, then accepts."""

    failures: list[Exception] = field(default_factory=list)
    calls: list[tuple[str, UUID, datetime]] = field(default_factory=list)
    clock: FakeClock | None = None
    name: str = "fake"

    def request(self, client, conn, outbound):
        self.calls.append(("request", outbound.request_id, self.clock()))
        if self.failures:
            raise self.failures.pop(0)
        return Answer("accepted", carrier_ref="TASK-1", occurred_at=self.clock())

    def cancel(self, client, conn, outbound):
        self.calls.append(("cancel", outbound.request_id, self.clock()))
        return Answer("released", carrier_ref=outbound.carrier_ref, occurred_at=self.clock())


class FakeWriter:
    def __init__(self, log=()) -> None:
        self.log = list(log)
        self.commands = []

    def execute(self, command):
        self.commands.append(command)

    def read_log_of(self, after, limit, topics):
        return [(p, e) for p, e in self.log if p > after][:limit]


def requested(iid: UUID = IID, carrier: str = "ZTO", tracking: str = "ZT1") -> Requested:
    return Requested(
        originator_id=iid,
        originator_version=1,
        recorded_at=T0,
        merchant_id="m1",
        actor="m1-staff",
        occurred_at=T0,
        order_id="o1",
        tracking_no=tracking,
        carrier=carrier,
        amount_minor=1000,
        currency="CNY",
        action="return_to_sender",
        request_reason="buyer_refund",
    )


def cancelled(iid: UUID = IID) -> Cancelled:
    return Cancelled(
        originator_id=iid,
        originator_version=3,
        recorded_at=T0,
        merchant_id="m1",
        actor="m1-staff",
        occurred_at=T0,
        reason="misoperation",
    )


def gateway(carrier: FakeCarrier, writer: FakeWriter, clock: FakeClock, backoff: Backoff):
    conn = Connection("http://127.0.0.1:1/ZTO", "k", "s")
    return CarrierGateway(
        writer,
        OutboundStore(Database("sqlite:///:memory:")),
        {"ZTO": Link(carrier, conn)},
        clock,
        backoff,
        random.Random(1),
    )


def test_timeouts_are_retried_with_growing_jittered_waits_under_one_request_id():
    clock = FakeClock()
    carrier = FakeCarrier([Unreachable("timed out")] * 4, clock=clock)
    writer = FakeWriter([(1, requested())])
    backoff = Backoff(first=1.0, factor=2.0, cap=5.0, attempts=8, within=600)
    gw = gateway(carrier, writer, clock, backoff)
    gw.follow()
    for _ in range(200):  # a tenth of a second at a time, for 20 s
        gw.dispatch()
        clock.now += timedelta(seconds=0.1)
    times = [at for _, _, at in carrier.calls]
    waits = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    # 1, 2, 4, then the 5 s cap, each in the upper half of its step (equal jitter), rounded
    # up to the next tenth the fake loop looks.
    for wait, step in zip(waits, [1, 2, 4, 5], strict=True):
        assert step / 2 <= wait <= step + 0.2, waits
    assert {rid for _, rid, _ in carrier.calls} == {carrier_request_id(IID, "request")}
    [accepted] = writer.commands
    assert isinstance(accepted, ReportCarrierOutcome) and accepted.carrier_ref == "TASK-1"
    assert accepted.key == f"carrier-request-{carrier_request_id(IID, 'request')}"


def test_after_the_last_attempt_the_intercept_is_recorded_unreachable():
    clock = FakeClock()
    carrier = FakeCarrier([Unreachable("the carrier answered 503")] * 10, clock=clock)
    writer = FakeWriter([(1, requested())])
    gw = gateway(carrier, writer, clock, Backoff(first=1, cap=2, attempts=3, within=600))
    gw.follow()
    for _ in range(100):
        gw.dispatch()
        clock.now += timedelta(seconds=0.5)
    assert len(carrier.calls) == 3
    [gave_up] = writer.commands
    assert isinstance(gave_up, RecordCarrierUnreachable)
    assert gave_up.attempts == 3 and "503" in gave_up.last_error
    assert gw.store.get(str(IID)).request_state == "unreachable"


def test_the_time_limit_ends_retries_too():
    clock = FakeClock()
    carrier = FakeCarrier([Unreachable("timed out")] * 100, clock=clock)
    writer = FakeWriter([(1, requested())])
    gw = gateway(carrier, writer, clock, Backoff(first=10, cap=10, attempts=100, within=30))
    gw.follow()
    for _ in range(200):
        gw.dispatch()
        clock.now += timedelta(seconds=1)
    assert 3 <= len(carrier.calls) <= 7
    assert isinstance(writer.commands[-1], RecordCarrierUnreachable)


def test_a_definite_answer_is_never_retried():
    clock = FakeClock()
    carrier = FakeCarrier([ProtocolError("the carrier answered 401")], clock=clock)
    writer = FakeWriter([(1, requested())])
    gw = gateway(carrier, writer, clock, Backoff())
    gw.follow()
    for _ in range(50):
        gw.dispatch()
        clock.now += timedelta(seconds=30)
    assert len(carrier.calls) == 1
    assert isinstance(writer.commands[-1], RecordCarrierUnreachable)


def test_a_cancel_before_sending_withdraws_and_one_after_acceptance_is_sent():
    clock = FakeClock()
    other = UUID("00000000-0000-4000-8000-000000000002")
    carrier = FakeCarrier(clock=clock)
    writer = FakeWriter([(1, requested()), (2, cancelled())])
    gw = gateway(carrier, writer, clock, Backoff())
    gw.step()
    assert carrier.calls == [] and gw.store.get(str(IID)).request_state == "withdrawn"
    writer.log += [(3, requested(other, tracking="ZT2"))]
    gw.step()
    writer.log += [(4, cancelled(other))]
    gw.step()
    assert [(a, r) for a, r, _ in carrier.calls] == [
        ("request", carrier_request_id(other, "request")),
        ("cancel", carrier_request_id(other, "cancel")),
    ]
    assert gw.store.get(str(other)).cancel_state == "done"


def test_a_carrier_without_a_connection_is_skipped_and_said_so():
    clock = FakeClock()
    carrier = FakeCarrier(clock=clock)
    writer = FakeWriter([(1, requested(carrier="JD", tracking="JD1"))])
    gw = gateway(carrier, writer, clock, Backoff())
    gw.step()
    assert carrier.calls == [] and writer.commands == []
    assert gw.store.get(str(IID)).request_state == "not_connected"


# ---- the gateway as a reader of the feed ---------------------------------------------

FEED = [
    (n, event)
    for n, event in enumerate(
        [
            requested(UUID(int=1), tracking="A"),
            requested(UUID(int=2), tracking="B"),
            cancelled(UUID(int=1)),
            requested(UUID(int=3), tracking="C"),
            cancelled(UUID(int=3)),
            requested(UUID(int=4), tracking="D"),
        ],
        start=1,
    )
]


def _rows(store: OutboundStore):
    return [(d.intercept_id, d.request, d.cancel_seen, d.cancel_state) for d in store.all()]


def _absorb_in_order(entries) -> OutboundStore:
    store = OutboundStore(Database("sqlite:///:memory:"))
    position = 0
    for _, event in entries:
        store.absorb([fact_of(event)], position, position + 1, 0)
        position += 1
    return store


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(FEED), min_size=len(FEED), max_size=3 * len(FEED)), st.data())
def test_duplicate_reordered_and_replayed_delivery_leaves_the_same_dispatches(deliveries, data):
    deliveries = deliveries + data.draw(st.permutations(FEED))  # everything arrives at least once
    expected = _rows(_absorb_in_order(FEED))
    assert _rows(_absorb_in_order(deliveries)) == expected


def test_a_batch_read_after_a_position_that_moved_writes_nothing():
    store = OutboundStore(Database("sqlite:///:memory:"))
    store.absorb([fact_of(FEED[0][1])], 0, 1, 0)
    with pytest.raises(PositionMoved):
        store.absorb([fact_of(FEED[1][1])], 0, 2, 0)
    assert store.position() == 1 and len(store.all()) == 1


def test_the_dispatch_state_is_the_stored_word_and_a_tried_pending_request_is_sent():
    from domain.vocabulary import DispatchState
    from engine.store.outbound import _STORED, dispatch_state

    assert dispatch_state("pending", 0) is DispatchState.PENDING
    assert dispatch_state("pending", 3) is DispatchState.SENT
    for word in _STORED - {DispatchState.PENDING}:
        assert dispatch_state(word.value, 2) is word
    assert {dispatch_state(w.value, 1) for w in _STORED} | {DispatchState.PENDING} == set(
        DispatchState
    )
