"""Counts and times every HTTP request by route template and status (a pure ASGI middleware).

By template (`/v1/intercepts/{intercept_id}`), never by the raw path: one series per
route, not one per intercept. Requests no route matched count under `unmatched`.
"""

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the metrics are made by api/operations.py, which installs this
    from api.operations import ApiMetrics


class MetricsMiddleware:
    def __init__(self, app, metrics: "ApiMetrics") -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before it answers

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request(scope["method"], template, status, time.perf_counter() - started)
