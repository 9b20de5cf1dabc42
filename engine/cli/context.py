"""Builds the engine once per CLI invocation, from the environment and global flags."""

from pathlib import Path

import typer

from engine.composition import Engine, build_engine
from engine.settings import Settings

_overrides: dict = {}


def configure(
    home: Path | None = None,
    event_store: str | None = None,
    projections: str | None = None,
    kafka: str | None = None,
) -> None:
    values = {
        "home": home,
        "event_store": event_store,
        "projections": projections,
        "kafka_bootstrap": kafka,
    }
    _overrides.update({k: v for k, v in values.items() if v is not None})


def settings(**more) -> Settings:
    return Settings.from_env(**{**_overrides, **more})


def engine(**more) -> Engine:
    return build_engine(settings(**more))


def reader(**more) -> Engine:
    """An engine to read from: in embedded mode caught up first with what others recorded."""
    built = engine(**more)
    if built.settings.embedded:
        built.catch_up()
    return built


def confirm(question: str, yes: bool) -> None:
    if not yes and not typer.confirm(question, default=False):
        raise typer.Exit(1)
