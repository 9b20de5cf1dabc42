"""The FastAPI application: routes, error handling and the OpenAPI document.

Building the app builds no infrastructure; the composition root hands it the
services, so the OpenAPI document can be made without a database.
"""

import threading
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import errors, operations
from api.guard import Guard
from api.openapi import openapi_of
from api.routes import (
    after_sale,
    after_sales,
    analytics,
    callbacks,
    carrier_protocols,
    commands,
    erasures,
    evidence,
    keys,
    policy,
    queries,
    webhooks,
)
from api.services import Services

DESCRIPTION = """\
An event-sourced engine for parcel intercept requests. A cancel is irreversible.

Every call needs `Authorization: Bearer KEY` (keys come from `intercept keys create`).
Carrier callbacks are also signed: see `POST /v1/carriers/{carrier}/callbacks`.
Every error is `application/problem+json` (RFC 9457) naming the rule that refused it,
and nothing is recorded on any error.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI):
    svc: Services | None = app.state.services
    stop = threading.Event()
    workers = []
    if svc is not None:
        svc.gateway.catch_up()  # what other writers recorded while the API was down
        for work in svc.background:
            workers.append(threading.Thread(target=work, args=(stop,), daemon=True))
            workers[-1].start()
    yield
    stop.set()
    for worker in workers:
        worker.join(10)
    if svc is not None:
        svc.close()


def create_app(
    services: Services | None = None,
    metrics: "operations.ApiMetrics | None" = None,
    ready: "operations.Ready | None" = None,
    tracing=None,
) -> FastAPI:
    # Offline: /docs and /redoc serve Swagger UI and ReDoc from the package, not a CDN.
    app = FastAPIOffline(
        title="intercept",
        version=version("intercept"),
        description=DESCRIPTION,
        lifespan=_lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.services = services
    errors.install(app)
    app.add_middleware(Guard)
    for module in (
        policy,
        commands,
        after_sale,
        after_sales,
        evidence,
        queries,
        analytics,
        callbacks,
        carrier_protocols,
        keys,
        webhooks,
        erasures,
    ):
        app.include_router(module.router)
    operations.install(
        app, metrics, ready, tracing
    )  # /metrics, /healthz, /readyz (api/operations.py)
    app.openapi = lambda: openapi_of(app)  # type: ignore[method-assign]
    return app
