"""Trace context from the HTTP request to the projection's apply (the optional `otel` extra).

Off unless `INTERCEPT_TRACING` is set: then every hook is a no-op on `NO_TRACING` and
OpenTelemetry is never imported. On, the API starts a span per request (a child of the
caller's W3C `traceparent`, when sent); the traceparent of the command's span is kept
beside each event it recorded (`event_traces` in the event store: the event's own
stored form is the domain's contract and stays as it is); the relay sends it as the
Kafka header `traceparent`; the consumer records an `apply` span, child of that
context, for each traced event it applies. One command can so be followed end to end.

`INTERCEPT_TRACING=console` prints spans to stderr; `jsonl:PATH` appends one JSON
object per span to PATH. Other exporters: configure the OpenTelemetry SDK yourself
and use `otel` (the globally configured tracer provider).
"""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from storage.database import Database

HEADER = "traceparent"


class NoTracing:
    """Tracing off: nothing is imported, recorded or sent."""

    enabled = False

    @contextmanager
    def request_span(self, name: str, headers: dict[str, str]) -> Iterator[None]:
        yield

    def remember(self, events: Sequence[Any]) -> None:
        pass

    def headers_for(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        return {}

    def applied(self, traced: Sequence[tuple[str, str, int]], start_ns: int) -> None:
        pass


NO_TRACING = NoTracing()


class EventTraces:
    """(intercept, version) -> traceparent, kept in the event store's database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()  # one connection, written from the API's request threads
        with db.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS event_traces (intercept_id TEXT NOT NULL, "
                "version INTEGER NOT NULL, traceparent TEXT NOT NULL, "
                "PRIMARY KEY (intercept_id, version))"
            )

    def add(self, rows: Sequence[tuple[str, int, str]]) -> None:
        with self._lock, self.db.transaction() as cur:
            for row in rows:
                cur.execute(
                    "INSERT INTO event_traces (intercept_id, version, traceparent) "
                    "VALUES (?, ?, ?) ON CONFLICT (intercept_id, version) DO NOTHING",
                    row,
                )

    def of(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        found: dict[tuple[str, int], str] = {}
        with self._lock:
            return self._of(keys, found)

    def _of(self, keys, found: dict) -> dict[tuple[str, int], str]:
        for iid, version in keys:  # a batch is small, and most are not traced at all
            rows = self.db.read(
                "SELECT traceparent FROM event_traces WHERE intercept_id = ? AND version = ?",
                (iid, version),
            )
            if rows:
                found[(iid, version)] = rows[0]["traceparent"]
        return found


class OtelTracing:
    enabled = True

    def __init__(self, tracer, traces: EventTraces | None) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.tracer = tracer
        self.traces = traces
        self._trace = trace
        self._context = context
        self._propagator = TraceContextTextMapPropagator()

    @contextmanager
    def request_span(self, name: str, headers: dict[str, str]) -> Iterator[None]:
        parent = self._propagator.extract(headers)
        with self.tracer.start_as_current_span(name, context=parent, kind=self._server()):
            yield

    def _server(self):
        return self._trace.SpanKind.SERVER

    def remember(self, events: Sequence[Any]) -> None:
        """Keep the current span's context beside each event the command recorded."""
        if self.traces is None or not events:
            return
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        if HEADER not in carrier:
            return
        self.traces.add(
            [(str(e.originator_id), e.originator_version, carrier[HEADER]) for e in events]
        )

    def headers_for(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        return self.traces.of(keys) if self.traces is not None else {}

    def applied(self, traced: Sequence[tuple[str, str, int]], start_ns: int) -> None:
        """One `apply` span per traced event: (traceparent, intercept id, version)."""
        for traceparent, iid, version in traced:
            parent = self._propagator.extract({HEADER: traceparent})
            span = self.tracer.start_span(
                "apply",
                context=parent,
                start_time=start_ns,
                kind=self._trace.SpanKind.CONSUMER,
                attributes={"intercept.id": iid, "intercept.version": version},
            )
            span.end()


def build(kind: str, traces: EventTraces | None, service: str):
    """The tracing a setting asks for; imports OpenTelemetry only here."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    if kind == "otel":
        return OtelTracing(trace.get_tracer("intercept"), traces)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if kind == "console":
        exporter: Any = ConsoleSpanExporter()
    elif kind.startswith("jsonl:"):
        exporter = _JsonLines(kind.removeprefix("jsonl:"))
    else:
        raise ValueError(f"INTERCEPT_TRACING: unknown {kind!r} (console, jsonl:PATH, otel)")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelTracing(provider.get_tracer("intercept"), traces)


def _JsonLines(path: str):  # noqa: N802 - a class made on demand, so the SDK stays optional
    import orjson
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class JsonLines(SpanExporter):
        def export(self, spans) -> SpanExportResult:
            with open(path, "ab") as out:
                for s in spans:
                    ctx = s.get_span_context()
                    out.write(
                        orjson.dumps(
                            {
                                "name": s.name,
                                "trace_id": f"{ctx.trace_id:032x}",
                                "span_id": f"{ctx.span_id:016x}",
                                "parent_id": f"{s.parent.span_id:016x}" if s.parent else None,
                                "service": s.resource.attributes.get("service.name"),
                                "attributes": dict(s.attributes or {}),
                            }
                        )
                        + b"\n"
                    )
            return SpanExportResult.SUCCESS

    return JsonLines()
