"""Gateway and simulator over real HTTP, in every protocol, with callbacks into a real API.

The simulator stands in for the carriers; the gateway, the API (`intercept serve`, its
own process) and the engine are the real ones. Every request reaches the carrier under
one id, its answer is recorded once, and the carrier's callbacks (repeated and
reordered) take each intercept along its journey.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from carriers import aggregator, direct, generic
from carriers.protocol import Push
from domain.commands import CancelIntercept
from domain.events import (
    CarrierAccepted,
    CarrierConfirmed,
    CarrierRejected,
    CarrierReleased,
    ParcelReturned,
    ParcelReturning,
)
from domain.vocabulary import CancelReason, Conflict
from engine.composition import build_carrier_gateway, build_engine
from tests.e2e import api_server
from tests.e2e.cli import intercept
from tests.support.carriers import FAST, PROTOCOL_OF, allow, request, rig, serving
from tests.support.waiting import wait_for


def now() -> datetime:
    return datetime.now(UTC)


STAGES = {
    "T-TRANSIT-1": "in_transit",
    "T-TRANSIT-2": "in_transit",
    "T-TRANSIT-3": "in_transit",
    "T-OUT-1": "out_for_delivery",
    "T-NOTPICKED": "not_picked_up",
    "T-SIGNED": "signed",
    "T-OTHER": "already_intercepted_other_channel",
}


@pytest.mark.parametrize("protocol", sorted(PROTOCOL_OF))
def test_requests_answers_cancels_and_callbacks_over_http(protocol, tmp_path, monkeypatch):
    carrier = PROTOCOL_OF[protocol]
    home = tmp_path / "var"
    the_rig = rig(tmp_path, monkeypatch, stages={f"{carrier}{t}": s for t, s in STAGES.items()})
    engine = build_engine(the_rig.settings(home))
    with serving(the_rig, home) as (_, gateway):
        allow(engine, carrier)
        ids = {
            tracking: request(
                engine,
                carrier,
                f"{carrier}{tracking}",
                order_id=f"o-{tracking}",
                key=f"k-{tracking}",
            )
            for tracking in STAGES
        }
        accepted = ids["T-TRANSIT-3"]
        key = (carrier, f"{carrier}T-TRANSIT-3")
        wait_for(lambda: key in the_rig.simulator.parcels, what="the request at the carrier")
        with the_rig.simulator._lock:  # its scan an hour away, however slow this machine is
            task = the_rig.simulator.parcels[key]
            task.scan_at += timedelta(hours=1)
            for pending in the_rig.simulator.outbox:
                if pending.task is task and pending.report != "accepted":
                    pending.due += timedelta(hours=1)
        wait_for(
            lambda: any(isinstance(e, CarrierAccepted) for e in engine.history(accepted)),
            what="the carrier's acceptance",
        )
        # Cancelled at once, long before the scan: the carrier honours it.
        engine.execute(
            CancelIntercept(
                intercept_id=accepted,
                reason=CancelReason.BUYER_CHANGED_MIND,
                actor="m1-staff",
                occurred_at=now(),
            )
        )

        def settled() -> bool:
            sim = the_rig.simulator
            return (
                not sim.outbox
                and all(t.cancel or now() > t.scan_at for t in sim.tasks.values())
                and gateway.store.due(10**15, 10) == []
            )

        wait_for(settled, what="the carriers to finish")
        wait_for(lambda: not the_rig.simulator.outbox, what="the last callbacks")

    seen = the_rig.simulator.seen()
    assert seen["under_two_ids"] == []
    requested = {r["tracking_no"] for r in seen["requests"] if r["action"] == "request"}
    assert requested == {f"{carrier}{t}" for t in STAGES}  # every request reached the carrier
    assert all(d["status"] == 200 for d in the_rig.simulator.delivered)

    history = {t: engine.history(i) for t, i in ids.items()}

    def only(tracking, kind):
        return [e for e in history[tracking] if isinstance(e, kind)]

    for tracking, code in [
        ("T-NOTPICKED", "not_picked_up"),
        ("T-SIGNED", "already_signed"),
        ("T-OTHER", "already_intercepted_other_channel"),
    ]:
        [rejected] = only(tracking, CarrierRejected)
        assert rejected.code.value == code
        assert len(history[tracking]) == 2  # requested, rejected: nothing else
    [released] = only("T-TRANSIT-3", CarrierReleased)
    assert released.conflict is None
    for tracking in ("T-TRANSIT-1", "T-TRANSIT-2", "T-OUT-1"):
        task = the_rig.simulator.parcels[(carrier, f"{carrier}{tracking}")]
        [acceptance] = only(tracking, CarrierAccepted)  # resent or repeated: recorded once
        assert acceptance.carrier_ref == task.task_no
        if task.outcome == "confirmed":
            # Overtaken by the journey, the confirmation is stale: the step stood for it.
            assert len(only(tracking, CarrierConfirmed)) == (0 if task.overtaken else 1)
            assert len(only(tracking, ParcelReturned)) == 1
    # Each event once: versions are 1..n without gaps on every intercept.
    for events in history.values():
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize("protocol", sorted(PROTOCOL_OF))
def test_a_cancel_after_the_scan_comes_back_as_the_carriers_success(
    protocol, tmp_path, monkeypatch
):
    carrier = PROTOCOL_OF[protocol]
    home = tmp_path / "var"
    # No callbacks: the merchant does not know the parcel was stopped when it cancels.
    the_rig = rig(tmp_path, monkeypatch, stages={f"{carrier}T1": "in_transit"}, push=False, seed=1)
    engine = build_engine(the_rig.settings(home))
    gateway = build_carrier_gateway(the_rig.settings(home), engine)
    try:
        allow(engine, carrier)
        iid = request(engine, carrier, f"{carrier}T1")
        gateway.step()
        task = the_rig.simulator.parcels[(carrier, f"{carrier}T1")]
        task.outcome, task.reason = "confirmed", None  # this parcel is stopped at its scan
        wait_for(lambda: now() > task.scan_at, what="the scan")
        engine.execute(
            CancelIntercept(
                intercept_id=iid,
                reason=CancelReason.MISOPERATION,
                actor="m1-staff",
                occurred_at=now(),
            )
        )
        gateway.step()
        gateway.step()
    finally:
        the_rig.stop()
        gateway.close()
    state = engine.app.intercept(iid)
    assert state.status.value == "cancelled"
    assert Conflict.INTERCEPTED_AFTER_CANCEL in state.conflicts
    assert the_rig.simulator.seen()["under_two_ids"] == []


WIRE = {"direct": direct, "aggregator": aggregator, "generic": generic}


def _callback(protocol: str, conn, report: str, tracking: str, task_no: str):
    at = now()
    push = Push(report, None, "YTO", tracking, task_no, "r1", at, at.timestamp())
    return WIRE[protocol].callback(conn, push)


@pytest.mark.parametrize("protocol", sorted(PROTOCOL_OF))
def test_callbacks_are_verified_per_protocol_and_eligibility_is_asked(
    protocol, tmp_path, monkeypatch
):
    carrier = PROTOCOL_OF[protocol]
    home = tmp_path / "var"
    tracking = f"{carrier}T1"
    the_rig = rig(
        tmp_path,
        monkeypatch,
        stages={
            tracking: "in_transit",
            f"{carrier}T2": "signed",
            f"{carrier}T9": "out_for_delivery",
        },
        push=False,
    )
    server = api_server.start(home, env=the_rig.env(), port=the_rig.api_port, timeout=120)
    engine = build_engine(the_rig.settings(home))
    gateway = build_carrier_gateway(the_rig.settings(home), engine)
    conn = the_rig.simulator.carriers[carrier].connection
    try:
        allow(engine, carrier)
        iid = request(engine, carrier, tracking)
        gateway.step()
        task_no = the_rig.simulator.parcels[(carrier, tracking)].task_no
        path = f"/v1/carriers/{carrier}/callback"
        with httpx.Client(base_url=server.url, timeout=10) as http:
            headers, body = _callback(protocol, conn, "confirmed", tracking, task_no)
            tampered = body.replace(b"ZT", b"ZX").replace(b"YT", b"YX").replace(b"JD", b"JX")
            bare = {k: v for k, v in headers.items() if k.lower() == "content-type"}
            wrong = the_rig.simulator.carriers[carrier].connection.__class__(
                conn.base_url, conn.key, "not-the-secret", conn.callback_url
            )
            unsigned = body.split(b"&sign=")[0]  # the aggregator signs in the form itself
            for bad_headers, bad_body in [
                (headers, tampered),
                (bare, unsigned),
                (_callback(protocol, wrong, "confirmed", tracking, task_no)),
            ]:
                refused = http.post(path, content=bad_body, headers=bad_headers)
                assert refused.status_code == 401, refused.text
                assert refused.json()["rule"] == "callback_signature_valid"
                assert len(engine.history(iid)) == 2  # requested, accepted: nothing recorded
            for _ in range(2):  # a repeat is harmless
                taken = http.post(path, content=body, headers=headers)
                assert taken.status_code == 200, taken.text
            assert [type(e).__name__ for e in engine.history(iid)] == [
                "Requested",
                "CarrierAccepted",
                "CarrierConfirmed",
            ]
            unknown = http.post("/v1/carriers/STO/callback", content=body, headers=headers)
            assert unknown.status_code == 404

            merchant = server.key("merchant", merchant="m1")
            asked = http.get(
                "/v1/eligibility",
                params={"carrier": carrier, "tracking": f"{carrier}T9"},
                headers=merchant.headers,
            )
            assert asked.status_code == 200, asked.text
            said = asked.json()
            assert (said["connected"], said["allowed"], said["stage"]) == (
                True,
                True,
                "out_for_delivery",
            )
            assert said["quoted_fee_minor"] == 300 and said["flags"] == ["likely_to_fail"]
            signed = http.get(
                "/v1/eligibility",
                params={"carrier": carrier, "tracking": f"{carrier}T2"},
                headers=merchant.headers,
            ).json()
            assert (signed["allowed"], signed["rule"]) == (False, "no_intercept_after_signing")
        checked = intercept(
            home,
            "check",
            "--carrier",
            carrier,
            "--tracking",
            f"{carrier}T2",
            "--json",
            env=the_rig.env(),
        )
        assert checked.code == 3 and checked.json()["stage"] == "signed"
        with_history = intercept(
            home,
            "check",
            "--carrier",
            carrier,
            "--tracking",
            f"{carrier}T9",
            "--merchant",
            "m1",
            "--json",
            env=the_rig.env(),
        )
        risk = with_history.json()["risk"]
        assert with_history.code == 0 and risk["parcel_stage"] == "out_for_delivery"
        assert risk["enough_history"] is False and risk["cases"] == 0
    finally:
        server.stop()
        the_rig.stop()
        gateway.close()


JOURNEY = (ParcelReturning, ParcelReturned)


@pytest.mark.parametrize("protocol", sorted(PROTOCOL_OF))
def test_the_journey_before_the_carriers_success_is_the_success(protocol, tmp_path, monkeypatch):
    """Every confirmation overtaken by the parcel's way back, over HTTP into a real API: the
    journey step stands for the success, the late confirmation records nothing."""
    carrier = PROTOCOL_OF[protocol]
    home = tmp_path / "var"
    parcels = [f"{carrier}T-J{n}" for n in range(3)]
    the_rig = rig(
        tmp_path,
        monkeypatch,
        stages=dict.fromkeys(parcels, "in_transit"),
        timing=replace(FAST, overtaken=1.0),
    )
    engine = build_engine(the_rig.settings(home))
    with serving(the_rig, home) as (server, _):
        allow(engine, carrier)
        ids = {tracking: request(engine, carrier, tracking) for tracking in parcels}
        sim = the_rig.simulator
        wait_for(lambda: len(sim.parcels) == len(parcels), what="the requests at the carrier")
        wait_for(lambda: not sim.outbox, what="the last callbacks")
        stopped = [t for t in parcels if sim.parcels[(carrier, t)].outcome == "confirmed"]
        assert stopped, "the seed stops at least one parcel"
        reports = {
            t: [
                d["report"]
                for d in sim.delivered
                if d["task_no"] == sim.parcels[(carrier, t)].task_no
            ]
            for t in stopped
        }
        with server.client(server.key("merchant", "m1")) as client:
            wait_for(
                lambda: all(
                    client.get(f"/v1/intercepts/{ids[t]}").json()["intercept"]["status"]
                    == "returned"
                    for t in stopped
                ),
                what="the rows to show the journey",
            )
            rows = {t: client.get(f"/v1/intercepts/{ids[t]}").json()["intercept"] for t in stopped}
    assert all(d["status"] == 200 for d in the_rig.simulator.delivered)
    for tracking in stopped:
        sent = reports[tracking]
        assert sent.index("returning") < sent.index("confirmed")  # the order the test is about
        history = engine.history(ids[tracking])
        assert not [e for e in history if isinstance(e, CarrierConfirmed)]  # stale: nothing
        assert all(e.conflict is None for e in history if isinstance(e, JOURNEY))
        state = engine.app.intercept(ids[tracking])
        assert state.status.value == "returned" and state.succeeded and state.conflicts == ()
        row = rows[tracking]
        first = next(r for r in sent if r != "accepted")  # the step that stood for the success
        assert row["conflict"] is None and row["confirmed_at"] == row[f"{first}_at"]
