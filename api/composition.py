"""Builds the API, and the web pages on it, from settings: the engine, the keys and the
evidence (engine.composition).

Everything is built where every engine is, in engine/composition.py, so the CLI
reaches the same key and evidence stores without importing the web stack.
"""

from typing import TYPE_CHECKING

from engine.composition import (
    Clock,
    build_carrier_desk,
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


def build_api(
    settings: Settings, clock: Clock = system_clock, background: bool = True, pages: bool = True
) -> "FastAPI":
    """The API and the web pages. `intercept demo` serves the app for its carriers'
    callbacks with `background=False`, leaving out the automation loop and the carrier
    gateway beside the server (it runs on the demo's simulated clock and drives those
    itself, so its history stays deterministic), and `pages=False`: nobody browses it."""
    # The web stack is loaded only by what serves: `intercept keys` does without it.
    from api.app import create_app
    from api.operations import ApiMetrics, MeteredGateway
    from api.services import Services
    from engine.composition import build_observer, build_tracing
    from engine.metrics import Readiness

    metrics, tracing = ApiMetrics(), build_tracing(settings, "intercept-api")
    engine = build_engine(settings, clock)
    gateway = MeteredGateway(engine, metrics, tracing)
    services = Services(
        gateway=gateway,
        keys=open_key_store(settings, clock),
        evidence=evidence_store(settings),
        clock=clock,
        carriers=carrier_catalog(settings),
        webhooks=webhook_store(settings),
        webhooks_allow_private=settings.webhooks_allow_private,
        zone=settings.timezone,
        carrier_desk=build_carrier_desk(settings, gateway.parcel_intercepts, clock),
        background=(_automation(settings, clock) + _carrier_gateway(settings, clock))
        if background
        else (),
    )
    readiness = Readiness(build_observer(settings), settings.embedded, settings.ready_max_lag)
    app = create_app(services, metrics, readiness.check, tracing)
    if not pages:
        return app
    # The package center's pages, on the same app and the same services (web/).
    from web.app import install
    from web.session import secret_in

    install(app, secret_in(settings.home), settings.timezone)
    return app


def _automation(settings: Settings, clock: Clock) -> tuple:
    """Embedded, the API's process runs the automation loop (rules, deadlines, webhooks)
    on its own engine; with Kafka, `intercept run` or `intercept automation run` does."""
    if not (settings.embedded and settings.automation_inline):
        return ()
    from engine.automation import background_worker
    from engine.composition import build_automation

    return (
        background_worker(lambda: build_automation(settings, build_engine(settings, clock), clock)),
    )


def _carrier_gateway(settings: Settings, clock: Clock) -> tuple:
    """Embedded mode with a carrier connected: the gateway runs beside the server, on an
    engine of its own (in Kafka mode `intercept run` or `intercept carriers run` does)."""
    from engine.composition import build_carrier_gateway, build_leadership, carrier_links

    if not settings.embedded or not carrier_links(settings, clock):
        return ()

    def work(stop) -> None:
        from engine.loops import built_when_possible

        engine = built_when_possible(
            "the carrier gateway", lambda: build_engine(settings, clock), stop
        )
        if engine is None:
            return
        gateway = build_carrier_gateway(settings, engine)
        try:
            gateway.run(stop, leadership=build_leadership(settings, "carrier-gateway"))
        finally:
            gateway.close()
            engine.close()

    return (work,)


def from_environment() -> "FastAPI":
    """The app as `intercept serve` runs it: uvicorn calls this in the serving process.

    The CLI names this factory instead of importing it, so the command line does
    not depend on the web package; its flags reach the settings as environment.
    """
    return build_api(Settings.from_env())
