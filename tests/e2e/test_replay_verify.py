"""`intercept replay` is honest: it verifies what it rebuilds from and prints no secret."""

import sqlite3

import pytest

from engine.composition import build_engine
from engine.settings import Settings
from tests import builders as b
from tests.e2e.cli import intercept


def amounts(home) -> list[int]:
    db = sqlite3.connect(home / "projections.db")
    try:
        return [r[0] for r in db.execute("SELECT amount_minor FROM intercepts")]
    finally:
        db.close()


@pytest.fixture
def tampered(tmp_path):
    """A home whose request event had its amount changed from 19900 to 19800 in the store."""
    home = tmp_path / "var"
    engine = build_engine(Settings(home=home))
    engine.execute(b.policy())
    iid = engine.execute(b.request(amount_minor=19_900)).state.id
    engine.execute(b.fee(iid, key="f1"))
    engine.close()
    db = sqlite3.connect(home / "events.db")
    [(position, state)] = [
        (p, s) for p, s in db.execute("SELECT rowid, state FROM stored_events") if b"19900" in s
    ]
    db.execute(
        "UPDATE stored_events SET state = ? WHERE rowid = ?",
        (state.replace(b"19900", b"19800"), position),
    )
    db.commit()
    db.close()
    return home, position


def test_a_replay_from_a_tampered_store_is_refused_naming_the_first_bad_event(tampered):
    home, position = tampered
    assert amounts(home) == [19_900]
    run = intercept(home, "replay")
    assert run.code == 1, (run.out, run.err)
    assert "refused" in run.err and "not swapped in" in run.err
    assert "TAMPERED [event_hash]" in run.err and f"position={position}" in run.err
    assert "swapped into" not in run.out
    assert amounts(home) == [19_900]  # the live rows are untouched
    assert not list(home.glob("projections.rebuild-*"))  # and the rebuild is gone

    as_json = intercept(home, "replay", "--json")
    assert as_json.code == 1
    report = as_json.json()
    assert not report["swapped"] and not report["verified"]
    assert report["verification"]["problem"]["position"] == position

    into = home / "view.db"
    kept = intercept(home, "replay", "--into", str(into))
    assert kept.code == 1 and "not kept" in kept.err and not into.exists()


def test_no_verify_rebuilds_from_the_tampered_store_and_says_it_was_not_verified(tampered):
    home, _ = tampered
    run = intercept(home, "replay", "--no-verify")
    assert run.code == 0, run.err
    assert "NOT VERIFIED (--no-verify)" in run.out and "swapped into" in run.out
    assert amounts(home) == [19_800]
    report = intercept(home, "replay", "--no-verify", "--json").json()
    assert report["swapped"] and not report["verified"] and report["verification"] is None
    assert any("NOT VERIFIED" in note for note in report["notes"])


def test_a_replay_of_an_intact_store_says_it_verified_the_chain(tmp_path):
    home = tmp_path / "var"
    engine = build_engine(Settings(home=home))
    engine.execute(b.policy())
    engine.execute(b.request())
    engine.close()
    run = intercept(home, "replay")
    assert run.code == 0, run.err
    assert "verified the hash chain of the event store: 3 events" in run.out
    assert intercept(home, "replay", "--json").json()["verified"] is True


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_replay_on_postgresql_never_prints_the_password(store_settings, store_env, tmp_path):
    from engine.postgres_env import parse_postgres_url

    password = parse_postgres_url(store_settings.projections)["password"]
    assert password
    engine = build_engine(store_settings)
    engine.execute(b.policy())
    engine.execute(b.request())
    engine.close()
    for args in (("replay",), ("replay", "--json"), ("replay", "--no-verify")):
        run = intercept(store_settings.home, *args, env=store_env)
        assert run.code == 0, run.err
        assert password not in run.out + run.err
    target = intercept(store_settings.home, "replay", "--json", env=store_env).json()["target"]
    assert target.startswith("postgresql://") and ":***@" in target
