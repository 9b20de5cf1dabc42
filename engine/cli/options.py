"""The global options (`--home`, `--event-store`, `--projections`, `--kafka`) of one CLI
invocation, and the settings they override.

Apart from what builds the engine (engine/cli/context.py): the top-level group records
them before any command module is imported, and `--help` needs nothing more.
"""

from pathlib import Path

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


def overridden(name: str) -> bool:
    """Whether the invocation named this setting with a global option."""
    return name in _overrides


def settings(**more) -> Settings:
    return Settings.from_env(**{**_overrides, **more})
