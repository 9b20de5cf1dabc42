"""Builds the API from settings: the engine (engine.composition), the keys and the evidence.

The engine is built where every engine is, in engine/composition.py; this adds
only what the HTTP API keeps of its own, under the same home.
"""

import os
from typing import TYPE_CHECKING

from api.evidence_store import EvidenceStore
from api.keystore import KeyStore
from engine.application import Clock
from engine.composition import build_engine, system_clock
from engine.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def open_key_store(settings: Settings, clock: Clock = system_clock) -> KeyStore:
    return KeyStore(settings.home / "keys.db", clock)


def evidence_store(settings: Settings) -> EvidenceStore:
    return EvidenceStore(settings.home / "evidence")


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
    from api.gateway import Gateway
    from api.services import Services

    engine = build_engine(settings, clock)
    make_private(settings)
    services = Services(
        gateway=Gateway(engine),
        keys=open_key_store(settings, clock),
        evidence=evidence_store(settings),
        clock=clock,
    )
    return create_app(services)
