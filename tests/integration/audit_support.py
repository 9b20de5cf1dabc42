"""A recorded history to tamper with, and the event store opened on a copy of it."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from engine.application import InterceptApplication
from engine.composition import build_engine, event_store_env
from engine.settings import Settings

START = datetime(2026, 11, 20, tzinfo=UTC)


def record_demo(home: Path, orders: int = 20, seed: int = 5):
    """A deterministic history through the engine; returns the engine (projections caught up)."""
    from engine import demo

    clock = demo.SimulatedClock(START)
    engine = build_engine(Settings(home=home), clock=clock)
    demo.run(demo.plan(orders, seed, START), engine.execute, clock)
    return engine


def copy_store(source_home: Path, target_home: Path) -> Path:
    target_home.mkdir(parents=True, exist_ok=True)
    # A consistent copy even while the source has a WAL: SQLite's own backup.
    with (
        sqlite3.connect(source_home / "events.db") as src,
        sqlite3.connect(target_home / "events.db") as dst,
    ):
        src.backup(dst)
    return target_home / "events.db"


def open_store(home: Path) -> InterceptApplication:
    return InterceptApplication(event_store_env(Settings(home=home)), clock=_no_clock)


def _no_clock():
    raise AssertionError("verification must not read the clock")


def rows(path: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


def execute(path: Path, sql: str, params=()) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute(sql, params)
        db.commit()
    finally:
        db.close()
