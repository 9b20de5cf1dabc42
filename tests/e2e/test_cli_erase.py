"""`intercept erase` and `intercept rewrap-keys`, as a user runs them."""

import base64
import os

from tests.e2e.cli import intercept


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _request(home, env):
    assert (
        intercept(
            home, "policy", "set", "m1", "--max-amount", "100000", "--carriers", "ZTO", env=env
        ).code
        == 0
    )
    made = intercept(
        home,
        "request",
        "--merchant",
        "m1",
        "--order",
        "O1",
        "--tracking",
        "T1",
        "--carrier",
        "ZTO",
        "--amount",
        "100",
        "--reason",
        "wrong",
        "--key",
        "k1",
        "--json",
        env=env,
    )
    assert made.code == 0, made.err
    iid = made.json()["intercept_id"]
    cancel = intercept(
        home, "cancel", iid, "--reason", "other", "--note", "ring 13900001111", "--yes", env=env
    )
    assert cancel.code == 0, cancel.err
    return iid


def test_erase_by_order_then_again_and_the_chain_still_verifies(tmp_path):
    home, env = tmp_path / "var", {"INTERCEPT_MASTER_KEYS": _key()}
    iid = _request(home, env)
    shown = intercept(home, "show", iid, "--json", env=env).json()
    assert "ring 13900001111" in [t["data"]["note"] for t in shown["timeline"]]
    first = intercept(home, "erase", "--order", "O1", "--json", env=env)
    assert first.code == 0, first.err
    assert first.json()["keys_destroyed"] == 1 and first.json()["erased_recorded"] == 2
    again = intercept(home, "erase", "--order", "O1", "--json", env=env).json()
    assert again["keys_destroyed"] == 0 and again["erased_recorded"] == 0
    shown = intercept(home, "show", iid, "--json", env=env).json()
    assert [t["data"]["note"] for t in shown["timeline"] if t["event_type"] == "Cancelled"] == [
        "[erased]"
    ]
    assert intercept(home, "audit", "verify", env=env).code == 0
    assert intercept(home, "replay", env=env).code == 0
    replayed = intercept(home, "show", iid, "--json", env=env).json()
    assert replayed == shown


def test_erase_refuses_a_malformed_subject_and_needs_one_target(tmp_path):
    home = tmp_path / "var"
    bad = intercept(home, "erase", "--subject", "alice")
    assert bad.code == 2 and "subject id" in bad.err
    neither = intercept(home, "erase")
    assert neither.code == 2 and "exactly one" in neither.err


def test_rewrap_keys_moves_every_key_to_the_new_master_key_online(tmp_path):
    home, old, new = tmp_path / "var", _key(), _key()
    iid = _request(home, {"INTERCEPT_MASTER_KEYS": old})
    both = {"INTERCEPT_MASTER_KEYS": f"{new},{old}"}
    rewrapped = intercept(home, "rewrap-keys", "--json", env=both)
    assert rewrapped.code == 0 and rewrapped.json()["rewrapped"] == 1
    assert old not in rewrapped.out + rewrapped.err and new not in rewrapped.out + rewrapped.err
    shown = intercept(home, "show", iid, "--json", env={"INTERCEPT_MASTER_KEYS": new}).json()
    assert "ring 13900001111" in [t["data"]["note"] for t in shown["timeline"]]
