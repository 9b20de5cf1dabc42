"""Builds the API from settings: the engine (engine.composition), the keys and the evidence.

The engine is built where every engine is, in engine/composition.py; this adds
only what the HTTP API keeps of its own, under the same home.
"""

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


def build_api(settings: Settings, clock: Clock = system_clock) -> "FastAPI":
    # The web stack is loaded only by what serves: `intercept keys` does without it.
    from api.app import create_app
    from api.operations import ApiMetrics, MeteredGateway
    from api.services import Services
    from engine.composition import build_observer, build_tracing
    from engine.metrics import Readiness

    metrics, tracing = ApiMetrics(), build_tracing(settings, "intercept-api")
    services = Services(
        gateway=MeteredGateway(build_engine(settings, clock), metrics, tracing),
        keys=open_key_store(settings, clock),
        evidence=evidence_store(settings),
        clock=clock,
    )
    readiness = Readiness(build_observer(settings), settings.embedded, settings.ready_max_lag)
    return create_app(services, metrics, readiness.check, tracing)
