"""The API's own operations surface: /metrics, /healthz, /readyz and what they count.

Registered by `install` (api/app.py) beside the merchant routes, outside the OpenAPI
document and without API keys: scrapers and load balancers hold no keys. Serve the
API behind a proxy that keeps these paths internal where that matters.
"""

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from api.gateway import Answer, Gateway
from api.refusals import BadSignature
from domain.commands import Command
from domain.errors import DomainError

Ready = Callable[[], tuple[bool, dict[str, Any]]]


class ApiMetrics:
    """One registry per app: two apps in one test process count apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.commands = Counter(
            "intercept_api_commands_total",
            "Commands the API executed, by type, outcome and the rule that refused them.",
            ["command", "outcome", "rule"],
            registry=r,
        )
        self.requests = Counter(
            "intercept_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "intercept_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=r,
        )
        self.batches = Histogram(
            "intercept_api_batch_size_commands",
            "Commands recorded together in one transaction by the API's writer.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=r,
        )
        self.signature_failures = Counter(
            "intercept_callback_signature_failures_total",
            "Carrier callbacks refused for a missing, stale or wrong signature.",
            registry=r,
        )

    def command(self, command: Command, outcome: str, rule: str = "") -> None:
        self.commands.labels(type(command).__name__, outcome, rule).inc()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class MeteredGateway(Gateway):
    """The gateway, counting each command's outcome or refusing rule."""

    def __init__(self, engine, metrics: ApiMetrics, tracing=None) -> None:
        super().__init__(engine)
        self.metrics = metrics
        self.tracing = tracing  # engine.tracing, when configured

    def batched(self, size: int) -> None:
        self.metrics.batches.observe(size)

    def answered(self, commands: Sequence[Command], answers: Sequence[Answer]) -> None:
        remembering = self.tracing is not None and self.tracing.enabled
        for command, answer in zip(commands, answers, strict=True):
            if isinstance(answer, DomainError):
                self.metrics.command(command, "refused", answer.rule)
                continue
            self.metrics.command(command, answer.outcome.value)
            if remembering:
                self.tracing.remember(answer.events)


def _not_configured() -> tuple[bool, dict[str, Any]]:
    return False, {"ready": False, "reason": "no engine behind this app"}


def install(
    app: FastAPI, metrics: ApiMetrics | None = None, ready: Ready | None = None, tracing=None
) -> None:
    from api import errors
    from api.metrics_middleware import MetricsMiddleware

    counted = metrics or ApiMetrics()
    check = ready or _not_configured
    app.state.metrics = counted
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    def metrics_() -> Response:
        return Response(generate_latest(counted.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/healthz")
    def healthz() -> dict:
        return {"alive": True}

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        ok, body = check()
        return JSONResponse(body, status_code=200 if ok else 503)

    def signature_refused(request: Request, error: BadSignature):
        counted.signature_failures.inc()
        return errors.refused(request, error)

    app.include_router(router)
    app.add_exception_handler(BadSignature, signature_refused)  # type: ignore[arg-type]
    app.add_middleware(MetricsMiddleware, metrics=counted)
    if tracing is not None and tracing.enabled:
        from api.tracing_middleware import TracingMiddleware

        app.add_middleware(TracingMiddleware, tracing=tracing)
