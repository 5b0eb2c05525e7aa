"""Preview edge for the embedded stack: the site bucket at /, the two APIs under /api/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.edge.settings import EdgeSettings

PASSED_HEADERS = {
    "content-type",
    "cache-control",
    "etag",
    "last-modified",
    "retry-after",
    "location",
}
# Routes exactly as services/edge/nginx.conf.template does (tests/deploy/test_nginx_edge.py
# sends the same requests to both).
HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


def not_found() -> Response:
    return Response("not found\n", status_code=404, media_type="text/plain")


def body_too_slow(seconds: float) -> Response:
    return Response(
        f"request body too slow: it must arrive whole within {seconds:g} s\n",
        status_code=408,
        media_type="text/plain",
        headers={"connection": "close"},
    )


def site_key(path: str) -> str:
    key = path.lstrip("/")
    if key == "" or key.endswith("/"):
        key += "index.html"
    return key


def create_app(settings: EdgeSettings | None = None) -> Starlette:
    settings = settings or EdgeSettings()
    s3 = (settings.s3_endpoint_url or "").rstrip("/")
    routes = {"/api/ingest/": settings.ingest_upstream, "/api/counter/": settings.counter_upstream}

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
            return Response("upstream unavailable\n", status_code=502, media_type="text/plain")
        kept = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in HOP_BY_HOP | {"content-encoding"}
        }
        return Response(upstream.content, status_code=upstream.status_code, headers=kept)

    async def edge(request: Request) -> Response:
        path = request.url.path
        for prefix, upstream in routes.items():
            if path.startswith(prefix):
                query = f"?{request.url.query}" if request.url.query else ""
                return await forward(request, f"{upstream}/{path[len(prefix) :]}{query}")
        if path == "/healthz":
            return Response("ok\n", media_type="text/plain")
        if request.method not in ("GET", "HEAD"):
            return Response("method not allowed\n", status_code=405, media_type="text/plain")
        if ".." in path:
            return not_found()
        client: httpx.AsyncClient = request.app.state.client
        try:
            stored = await client.get(f"{s3}/{settings.site_bucket}/{site_key(path)}")
        except httpx.HTTPError:
            return Response("object store unavailable\n", status_code=502, media_type="text/plain")
        if stored.status_code in (403, 404):  # 403: a missing key to a reader who cannot list
            return not_found()
        if stored.status_code != 200:
            return Response(stored.content, status_code=502, media_type="text/plain")
        headers = {k: v for k, v in stored.headers.items() if k.lower() in PASSED_HEADERS}
        return Response(stored.content, headers=headers)

    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", edge, methods=methods)], lifespan=lifespan)
