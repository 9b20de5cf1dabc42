"""The demo through a real broker ends with the same projection rows as on the embedded default."""

import sqlite3

import pytest

from tests.e2e.cli import intercept

pytestmark = pytest.mark.kafka


def rows(home):
    db = sqlite3.connect(home / "projections.db")
    try:
        return (
            db.execute("SELECT * FROM intercepts ORDER BY intercept_id").fetchall(),
            db.execute("SELECT * FROM intercept_events ORDER BY intercept_id, version").fetchall(),
        )
    finally:
        db.close()


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
