"""Preview edge for the embedded stack: the site bucket at /, the two APIs under /api/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.edge.routes import PATH_SAFE, public_api, refused, site_key
from services.edge.settings import EdgeSettings
from shared.logging import get_logger

log = get_logger("pressroom.edge")

PASSED_HEADERS = {
    "content-type",
    "cache-control",
    "etag",
    "last-modified",
    "retry-after",
    "location",
}
# Routes exactly as services/edge/nginx.conf.template does (both follow routes.py, and
# tests/edge and tests/deploy/test_nginx_edge.py send the same requests to both).
HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


def not_found() -> Response:
    return Response("not found\n", status_code=404, media_type="text/plain")


def bad_request() -> Response:
    return Response("bad request\n", status_code=400, media_type="text/plain")


def unavailable(what: str) -> Response:
    return Response(f"{what} unavailable\n", status_code=502, media_type="text/plain")


def body_too_slow(seconds: float) -> Response:
    return Response(
        f"request body too slow: it must arrive whole within {seconds:g} s\n",
        status_code=408,
        media_type="text/plain",
        headers={"connection": "close"},
    )


def create_app(settings: EdgeSettings | None = None) -> Starlette:
    settings = settings or EdgeSettings()
    s3 = (settings.s3_endpoint_url or "").rstrip("/")
    upstreams = {"ingest": settings.ingest_upstream, "counter": settings.counter_upstream}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=30) as client:
            app.state.client = client
            yield

    async def forward(request: Request, url: str) -> Response:
        client: httpx.AsyncClient = request.app.state.client
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["x-forwarded-for"] = request.client.host if request.client else ""
        try:
            # the whole body first, by a deadline: a stalled upload is the client's fault
            # (408, as nginx's client_body_timeout answers), and it never reaches upstream
            async with asyncio.timeout(settings.edge_body_timeout_seconds):
                body = await request.body()
        except TimeoutError:
            return body_too_slow(settings.edge_body_timeout_seconds)
        try:
            upstream = await client.request(request.method, url, headers=headers, content=body)
        except httpx.HTTPError:
            return unavailable("upstream")
        kept = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in HOP_BY_HOP | {"content-encoding"}
        }
        return Response(upstream.content, status_code=upstream.status_code, headers=kept)

    async def edge(request: Request) -> Response:
        path: str = request.scope["path"]  # percent-decoded once, by the server
        if refused(path):
            return bad_request()
        if path == "/healthz":
            return Response("ok\n", media_type="text/plain")
        if found := public_api(path):
            api, upstream_path = found
            query = f"?{request.url.query}" if request.url.query else ""
            return await forward(request, f"{upstreams[api.service]}{upstream_path}{query}")
        if path.startswith("/api/"):
            return not_found()  # operator-only: reached on the service's own port
        if request.method not in ("GET", "HEAD"):
            return Response("method not allowed\n", status_code=405, media_type="text/plain")
        return await site_page(request, path)

    async def site_page(request: Request, path: str) -> Response:
        client: httpx.AsyncClient = request.app.state.client
        key = quote(site_key(path), safe=PATH_SAFE)
        try:
            stored = await client.get(f"{s3}/{settings.site_bucket}/{key}")
        except httpx.HTTPError:
            return unavailable("object store")
        # 403: a missing key to a reader who cannot list; 400: a key the store cannot hold
        if stored.status_code in (400, 403, 404):
            return not_found()
        if stored.status_code != 200:
            # the store's error body names buckets, keys and request ids: never a reader's
            log.warning("edge.store.refused", status=stored.status_code, key=key)
            return unavailable("object store")
        headers = {k: v for k, v in stored.headers.items() if k.lower() in PASSED_HEADERS}
        return Response(stored.content, headers=headers)

    async def every_path(scope: Scope, receive: Receive, send: Send) -> None:
        response = await edge(Request(scope, receive))
        await response(scope, receive, send)

    app = Starlette(lifespan=lifespan)
    # every request, whatever its method or path: a route's pattern would not match a path
    # holding a line break, and the edge must still refuse it itself
    app.router.default = every_path
    return app
