"""What both HTTP services share: problem+json errors, health and readiness, Prometheus
metrics, and the request's trace span."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.logging import describe, get_logger
from shared.tracing import name_server_span, server_spans

PROBLEM_JSON = "application/problem+json"
log = get_logger("pressroom.http")

HTTP_REQUESTS = Counter(
    "pressroom_http_requests_total", "HTTP requests answered", ["service", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "pressroom_http_request_seconds",
    "HTTP request latency",
    ["service", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class Problem(Exception):
    """An error the API answers as RFC 9457 problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.type = status, title, detail, type_
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        return body | self.extra


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


def validation_problem(errors: list[dict[str, Any]]) -> Problem:
    fields = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
            "message": err.get("msg", "invalid"),
        }
        for err in errors
    ]
    detail = "; ".join(f"{f['field'] or 'body'}: {f['message']}" for f in fields)
    return Problem(422, "Invalid request", detail, errors=fields)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(list(exc.errors())))

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            Problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
        )

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("http.unhandled", path=request.url.path, error=describe(exc))
        return problem_response(Problem(500, "Internal error", "The error was logged."))

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


ReadinessCheck = Callable[[Request], Awaitable[None]]


def ops_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    """/healthz (the process answers), /readyz (its dependencies answer), /metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: Redis and the object store answer")
    async def readyz(request: Request) -> Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check(request)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in results.values())
        status = 200 if ok else 503
        body = {"status": "ok" if ok else "unavailable", "checks": results}
        if ok:
            return JSONResponse(body)
        return JSONResponse(
            body | {"type": "about:blank", "title": "Not ready", "status": status},
            status_code=status,
            media_type=PROBLEM_JSON,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)

    return router


class _SettledFiles(MultiProcessCollector):
    """Reads the files of processes that have written their first value: a file a new
    pool process has just created is still empty and cannot be parsed yet."""

    def collect(self) -> Iterable[Metric]:
        files = [p for p in Path(self._path).glob("*.db") if p.stat().st_size > 0]
        return self.merge([str(p) for p in files], accumulate=True)  # type: ignore[no-any-return,no-untyped-call]


def metrics_registry() -> CollectorRegistry:
    """What /metrics shows: with PROMETHEUS_MULTIPROC_DIR set (several worker processes),
    every process's values summed from their files in it; else this process's own."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    _SettledFiles(registry)  # type: ignore[no-untyped-call]
    return registry


class MetricsMiddleware:
    """Counts requests and latency by route template and, when tracing is on, opens each
    request's span (pure ASGI: cheap on hot paths)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app, self.service = app, service
        self.entry = server_spans(self._measure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.entry(scope, receive, send)

    async def _measure(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            name_server_span(scope, path)
            HTTP_REQUESTS.labels(self.service, path, str(status[0])).inc()
            HTTP_LATENCY.labels(self.service, path).observe(time.perf_counter() - start)
