"""The demo through a real broker ends with the same projection rows as on the embedded default."""

import json
import sqlite3

import pytest

from tests.e2e.cli import intercept

pytestmark = pytest.mark.kafka


def rows(home):
    from engine.privacy import Seals, open_subject_keys

    db = sqlite3.connect(home / "projections.db")
    seals = Seals(open_subject_keys(None, home, None))
    try:
        return (
            db.execute("SELECT * FROM intercepts ORDER BY intercept_id").fetchall(),
            [
                opened(row, seals)
                for row in db.execute(
                    "SELECT * FROM intercept_events ORDER BY intercept_id, version"
                ).fetchall()
            ],
        )
    finally:
        seals.keys.close()
        db.close()


def opened(row, seals):
    """The row with its event's sealed personal values opened: each home has its own
    subject keys and every seal a fresh nonce (docs/privacy.md), so two demos' ciphertexts
    never match; what they seal must."""
    from domain.personal import Sealed

    def walk(value):
        if isinstance(value, dict) and {"subject", "key_id", "ciphertext"} <= value.keys():
            return {"subject": value["subject"], "opened": seals.open(Sealed(**value))}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return tuple(
        json.dumps(walk(json.loads(v)), sort_keys=True)
        if isinstance(v, str) and v.startswith("{")
        else v
        for v in row
    )


def test_demo_through_kafka_equals_the_embedded_demo(kafka_broker, tmp_path):
    common = [
        "demo",
        "--orders",
        "150",
        "--seed",
        "21",
        "--start",
        "2026-11-20T00:00:00Z",
        "--json",
    ]
    embedded = intercept(tmp_path, *common, "--home", str(tmp_path / "embedded"))
    assert embedded.code == 0, embedded.err
    through = intercept(
        tmp_path, *common, "--home", str(tmp_path / "kafka"), "--kafka", kafka_broker.bootstrap
    )
    assert through.code == 0, through.err
    assert through.json()["summary"] == embedded.json()["summary"]
    assert rows(tmp_path / "kafka") == rows(tmp_path / "embedded")
    assert len(rows(tmp_path / "kafka")[0]) > 100
