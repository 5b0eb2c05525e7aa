"""Traces: one per request or task, linked across Celery, exported over OTLP when asked.

Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set: the SDK
then batches spans to that collector, Celery carries the W3C `traceparent` in each task
message's headers, and the object-store requests made over urllib3 become child spans.
When it is not set nothing is installed: the API's no-op tracer answers every call, no
exporter thread runs and no request is wrapped.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry import trace
from starlette.types import ASGIApp, Scope

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_provider: TracerProvider | None = None


def tracing_requested() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def configure_tracing(service: str) -> bool:
    """Install the SDK and the Celery and urllib3 instrumentation if an endpoint is set;
    returns whether tracing is on. Idempotent: a process has one tracer provider."""
    global _provider
    if _provider is None and tracing_requested():
        # Imported here so that a process with tracing off never loads the SDK.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # OTEL_SERVICE_NAME, when the operator sets it, names the service instead.
        named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
        provider = TracerProvider(resource=Resource.create(named))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        CeleryInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
        URLLib3Instrumentor().instrument(tracer_provider=provider)
        _provider = provider
    return _provider is not None


def flush_spans() -> None:
    """Send what is batched now: a prefork child ends without running atexit hooks."""
    if _provider is not None:
        _provider.force_flush()


def server_spans(app: ASGIApp) -> ASGIApp:
    """`app` opening a server span per request (continuing a caller's `traceparent`) when
    tracing is on; `app` itself when it is off."""
    if _provider is None:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    # Spans per body chunk sent or received say nothing a reader of the trace needs.
    return OpenTelemetryMiddleware(
        app, tracer_provider=_provider, exclude_spans=["receive", "send"]
    )


def name_server_span(scope: Scope, route: str) -> None:
    """Name the request's span by its route template, known only once routing is done
    (the raw path would make one span name per article)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{scope.get('method', 'HTTP')} {route}")
        span.set_attribute("http.route", route)
