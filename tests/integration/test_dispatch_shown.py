"""The dispatch state on the API row and on the package center's pages.

The simulator stands in for the carrier; the gateway, the API (`intercept serve`, its own
process) and the web pages are the real ones. Each row says where the engine's request to
its carrier stands, in the gateway's own words (`DispatchState`), and a carrier with no
connection configured says so.
"""

import re
import time
from datetime import UTC, datetime

from domain.ids import carrier_request_id, intercept_id
from domain.vocabulary import DispatchState
from engine.composition import build_engine
from engine.settings import Settings
from tests.e2e import api_server
from tests.support.carriers import allow, request, rig

UNCONNECTED = '\n[[carrier]]\ncode = "SF"\nname = "SF (no connection)"\nadapter = "direct"\n'


def now() -> datetime:
    return datetime.now(UTC)


def test_the_api_and_the_pages_show_where_each_request_to_its_carrier_stands(tmp_path, monkeypatch):
    stages = {"ZTOT-OK": "in_transit", "ZTOT-SIGNED": "signed", "ZTOT-DOWN": "in_transit"}
    # Every call answered 503 once, but for the parcels let through: with one try allowed
    # (the server's retry setting), ZTOT-DOWN is given up on at once.
    the_rig = rig(tmp_path, monkeypatch, stages=stages, push=False, flaky=1)
    for tracking in ("ZTOT-OK", "ZTOT-SIGNED"):
        let_through = carrier_request_id(intercept_id("m1", f"k-{tracking}"), "request")
        the_rig.simulator.attempts[str(let_through)] = 1
    with the_rig.carriers_file.open("a") as toml:
        toml.write(UNCONNECTED)
    home = tmp_path / "var"
    env = {**the_rig.env(), "INTERCEPT_CARRIER_RETRY_ATTEMPTS": "1"}
    server = api_server.start(home, env=env, port=the_rig.api_port, timeout=120)
    engine = build_engine(Settings(home=home, carriers_file=the_rig.carriers_file))
    expected = {
        "ZTOT-OK": "accepted",
        "ZTOT-SIGNED": "rejected",
        "ZTOT-DOWN": "unreachable",
        "SF-1": "not_connected",
    }
    try:
        allow(engine, "ZTO", "SF")
        ids = {t: request(engine, "SF" if t.startswith("SF") else "ZTO", t) for t in expected}
        merchant = server.key("merchant", "m1")
        with server.client(merchant) as client:

            def listed() -> dict:
                page = client.get("/v1/intercepts").json()["intercepts"]
                return {r["tracking_no"]: r["dispatch"] for r in page}

            deadline = time.monotonic() + 60
            while listed() != expected and time.monotonic() < deadline:
                time.sleep(0.1)  # the server's own gateway sends them
            assert listed() == expected
            shown = {
                t: client.get(f"/v1/intercepts/{i}").json()["intercept"]["dispatch"]
                for t, i in ids.items()
            }
        assert shown == expected
        assert set(expected.values()) <= {s.value for s in DispatchState}
        [gave_up] = [
            e for e in engine.history(ids["ZTOT-DOWN"]) if type(e).__name__ == "CarrierUnreachable"
        ]
        assert gave_up.attempts == 1  # the retry schedule came from the setting

        with httpx_client(server) as web:
            signin = web.get("/signin").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', signin).group(1)
            assert web.post("/signin", data={"csrf": csrf, "key": merchant.key}).status_code in (
                200,
                303,
            )
            center = web.get("/").text
            sf_page = web.get(f"/intercepts/{ids['SF-1']}").text
            ok_page = web.get(f"/intercepts/{ids['ZTOT-OK']}").text
    finally:
        server.stop()
        the_rig.stop()
    assert center.count("dispatch-not_connected") == 1
    assert center.count("dispatch-accepted") == 1 and center.count("dispatch-unreachable") == 1
    # The page's own words (Chinese by default): not connected, nothing is sent.
    assert 'id="dispatch" class="dispatch-not_connected">未接入该快递公司' in sf_page
    assert 'id="dispatch" class="dispatch-accepted">快递已受理' in ok_page


def httpx_client(server):
    import httpx

    return httpx.Client(base_url=server.url, follow_redirects=True, timeout=30)


def test_a_request_the_gateway_has_not_read_is_pending_in_the_use_cases(tmp_path, monkeypatch):
    from engine import usecases

    the_rig = rig(tmp_path, monkeypatch, stages={"ZTOT-1": "in_transit"}, push=False)
    the_rig.server.stop()  # nothing is sent here: no gateway runs
    with the_rig.carriers_file.open("a") as toml:
        toml.write(UNCONNECTED)
    engine = build_engine(Settings(home=tmp_path / "var", carriers_file=the_rig.carriers_file))
    allow(engine, "ZTO", "SF")
    ids = {c: request(engine, c, f"{c}T-1") for c in ("ZTO", "SF")}
    page = usecases.list_intercepts(engine, usecases.ListRequest(), now())
    assert {r["carrier"]: r["dispatch"] for r in page.rows} == {
        "ZTO": "pending",
        "SF": "not_connected",
    }
    detail = usecases.show_intercept(engine, str(ids["SF"]))
    assert detail is not None and detail.intercept["dispatch"] == "not_connected"
