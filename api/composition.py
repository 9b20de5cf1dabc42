"""Builds the API from settings: the engine, the keys and the evidence (engine.composition).

Everything is built where every engine is, in engine/composition.py, so the CLI
reaches the same key and evidence stores without importing the web stack.
"""

from typing import TYPE_CHECKING

from engine.composition import (
    Clock,
    build_engine,
    carrier_catalog,
    evidence_store,
    open_key_store,
    system_clock,
    webhook_store,
)
from engine.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def build_api(settings: Settings, clock: Clock = system_clock) -> "FastAPI":
    # The web stack is loaded only by what serves: `intercept keys` does without it.
    from api.app import create_app
    from api.operations import ApiMetrics, MeteredGateway
    from api.services import Services
    from engine.composition import build_observer, build_tracing
    from engine.metrics import Readiness

    metrics, tracing = ApiMetrics(), build_tracing(settings, "intercept-api")
    engine = build_engine(settings, clock)
    services = Services(
        gateway=MeteredGateway(engine, metrics, tracing),
        keys=open_key_store(settings, clock),
        evidence=evidence_store(settings),
        clock=clock,
        carriers=carrier_catalog(settings),
        webhooks=webhook_store(settings),
        webhooks_allow_private=settings.webhooks_allow_private,
        background=_automation(settings, clock),
    )
    readiness = Readiness(build_observer(settings), settings.embedded, settings.ready_max_lag)
    return create_app(services, metrics, readiness.check, tracing)


def _automation(settings: Settings, clock: Clock):
    """Embedded, the API's process runs the automation loop (rules, deadlines, webhooks)
    on its own engine; with Kafka, `intercept run` or `intercept automation run` does."""
    if not (settings.embedded and settings.automation_inline):
        return None
    from engine.automation import Background
    from engine.composition import build_automation

    return Background(lambda: build_automation(settings, build_engine(settings, clock), clock))


def from_environment() -> "FastAPI":
    """The app as `intercept serve` runs it: uvicorn calls this in the serving process.

    The CLI names this factory instead of importing it, so the command line does
    not depend on the web package; its flags reach the settings as environment.
    """
    return build_api(Settings.from_env())
