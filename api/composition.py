"""Builds the API from settings: the engine, the keys and the evidence (engine.composition).

Everything is built where every engine is, in engine/composition.py, so the CLI
reaches the same key and evidence stores without importing the web stack.
"""

import os
from typing import TYPE_CHECKING

from engine.composition import (
    Clock,
    build_engine,
    evidence_store,
    open_key_store,
    system_clock,
)
from engine.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def make_private(settings: Settings) -> None:
    """The home 0700 and its databases 0600, as keys.db and the evidence files are.

    The databases hold every merchant's orders and addresses; whoever else can log
    in to the machine has no business reading them.
    """
    home = settings.home
    _chmod(home, 0o700)
    for name in ("events.db", "projections.db"):
        for suffix in ("", "-wal", "-shm"):
            _chmod(home / f"{name}{suffix}", 0o600)


def _chmod(path, mode: int) -> None:
    try:
        if path.exists() and (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except OSError:
        pass  # a read-only home: it answers 503 when written, and reads go on


def build_api(settings: Settings, clock: Clock = system_clock) -> "FastAPI":
    # The web stack is loaded only by what serves: `intercept keys` does without it.
    from api.app import create_app
    from api.operations import ApiMetrics, MeteredGateway
    from api.services import Services
    from engine.composition import build_observer, build_tracing
    from engine.metrics import Readiness

    metrics, tracing = ApiMetrics(), build_tracing(settings, "intercept-api")
    engine = build_engine(settings, clock)
    make_private(settings)
    services = Services(
        gateway=MeteredGateway(engine, metrics, tracing),
        keys=open_key_store(settings, clock),
        evidence=evidence_store(settings),
        clock=clock,
    )
    readiness = Readiness(build_observer(settings), settings.embedded, settings.ready_max_lag)
    return create_app(services, metrics, readiness.check, tracing)


def from_environment() -> "FastAPI":
    """The app as `intercept serve` runs it: uvicorn calls this in the serving process.

    The CLI names this factory instead of importing it, so the command line does
    not depend on the web package; its flags reach the settings as environment.
    """
    return build_api(Settings.from_env())
