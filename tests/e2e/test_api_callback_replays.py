"""A signed callback is acted on once, and its Idempotency-Key is signed with it.

Against a running `intercept serve`, restarted on the same home where it matters.
"""

import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.api_server import signed, start


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("replays") / "var"


@pytest.fixture(scope="module")
def world(home):
    server = start(home)
    merchant = server.key("merchant", merchant="m1")
    with server.client(merchant) as client:
        client.put(
            "/v1/merchants/m1/policy", json={"max_amount_minor": 100_000, "carriers": ["ZTO"]}
        ).raise_for_status()
    state = {"server": server, "merchant": merchant, "zto": server.key("carrier", carrier="ZTO")}
    yield state
    state["server"].stop()


def new_intercept(world) -> str:
    with world["server"].client(world["merchant"]) as client:
        made = client.post(
            "/v1/intercepts",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "order_id": "o1",
                "tracking_no": f"ZT{uuid.uuid4().hex[:10]}",
                "carrier": "ZTO",
                "amount_minor": 1000,
                "request_reason": "buyer_refund",
            },
        )
    assert made.status_code == 201, made.text
    return made.json()["intercept_id"]


def events(world) -> int:
    with sqlite3.connect(world["server"].home / "events.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


def send(world, request: dict):
    with world["server"].client() as client:
        return client.post("/v1/carriers/ZTO/callbacks", **request)


def test_captured_callbacks_replayed_in_turn_record_nothing_more(world):
    iid = new_intercept(world)
    confirmed = signed(world["zto"], {"intercept_id": iid, "report": "confirmed"})
    released = signed(world["zto"], {"intercept_id": iid, "report": "released"})
    first = [send(world, confirmed), send(world, released)]
    assert [a.json()["outcome"] for a in first] == ["recorded", "recorded"]
    before = events(world)
    replays = [send(world, confirmed if n % 2 == 0 else released) for n in range(10)]
    assert {a.status_code for a in replays} == {200}
    assert {a.json()["outcome"] for a in replays} == {"duplicate"}
    assert events(world) == before
    assert replays[-1].json()["conflicts"] == first[-1].json()["conflicts"]


def test_a_replay_with_a_key_of_its_own_is_refused(world):
    iid = new_intercept(world)
    captured = signed(world["zto"], {"intercept_id": iid, "report": "accepted"})
    captured["headers"]["Idempotency-Key"] = "chosen-by-the-replayer"
    before = events(world)
    replay = send(world, captured)
    assert replay.status_code == 401
    assert replay.json()["rule"] == "callback_signature_valid"
    assert "Idempotency-Key" in replay.json()["detail"]
    assert events(world) == before
    genuine = signed(
        world["zto"],
        {"intercept_id": iid, "report": "accepted"},
        idempotency_key="chosen-by-the-replayer",
    )
    assert send(world, genuine).json()["outcome"] == "recorded"


def test_a_keyed_callback_signed_anew_is_a_duplicate(world):
    iid = new_intercept(world)
    body = {"intercept_id": iid, "report": "accepted"}
    first = send(world, signed(world["zto"], body, idempotency_key="z-1"))
    again = send(world, signed(world["zto"], body, at=int(time.time()) - 1, idempotency_key="z-1"))
    assert [first.json()["outcome"], again.json()["outcome"]] == ["recorded", "duplicate"]


def test_a_signature_seen_before_a_restart_is_still_refused(world, home):
    iid = new_intercept(world)
    confirmed = signed(world["zto"], {"intercept_id": iid, "report": "confirmed"})
    released = signed(world["zto"], {"intercept_id": iid, "report": "released"})
    assert [send(world, c).json()["outcome"] for c in (confirmed, released)] == ["recorded"] * 2
    world["server"].stop()
    world["server"] = start(home)
    before = events(world)
    again = send(world, confirmed)
    assert again.json()["outcome"] == "duplicate"
    assert events(world) == before


def _at(moment: datetime) -> str:
    return moment.isoformat()


@pytest.mark.parametrize(
    "ahead, accepted",
    [
        (timedelta(minutes=10), False),
        (timedelta(days=365 * 170), False),
        (timedelta(minutes=1), True),
    ],
)
def test_a_report_time_ahead_of_the_clock_is_bounded(world, ahead, accepted):
    iid = new_intercept(world)
    body = {
        "intercept_id": iid,
        "report": "accepted",
        "occurred_at": _at(datetime.now(UTC) + ahead),
    }
    before = events(world)
    answer = send(world, signed(world["zto"], body))
    if accepted:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 422, answer.text
        assert [e["where"] for e in answer.json()["errors"]] == ["body.occurred_at"]
        assert events(world) == before


@pytest.mark.parametrize("occurred_at", ["1999-12-31T23:00:00+00:00", "2200-01-01T00:00:00Z"])
def test_a_report_time_outside_the_plausible_years_is_refused(world, occurred_at):
    iid = new_intercept(world)
    body = {"intercept_id": iid, "report": "accepted", "occurred_at": occurred_at}
    answer = send(world, signed(world["zto"], body))
    assert answer.status_code == 422, answer.text
    assert [e["where"] for e in answer.json()["errors"]] == ["body.occurred_at"]


def test_a_report_earlier_than_the_request_is_accepted_and_shown(world):
    iid = new_intercept(world)
    body = {"intercept_id": iid, "report": "accepted", "occurred_at": "2026-01-01T00:00:00Z"}
    answer = send(world, signed(world["zto"], body))
    assert answer.status_code == 200, answer.text
    with world["server"].client(world["merchant"]) as client:
        shown = client.get(f"/v1/intercepts/{iid}")
    assert shown.status_code == 200
    assert shown.json()["intercept"]["status"] == "accepted"
