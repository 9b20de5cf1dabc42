"""A span per HTTP request, child of the caller's `traceparent` (only when tracing is on).

The span is current while the route runs (FastAPI copies the context into its worker
thread), so the command's events are remembered under it (engine/tracing.py).
"""


class TracingMiddleware:
    def __init__(self, app, tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with self.tracing.request_span(f"{scope['method']} {scope['path']}", headers):
            await self.app(scope, receive, send)
