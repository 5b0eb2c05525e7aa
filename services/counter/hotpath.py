"""The hit route as plain ASGI, in front of FastAPI: every page view of the portal lands here,
so it skips routing, validation and the per-request middlewares (metrics are per batch).

Handles `POST /v1/hits/{id}` (the page script) and `GET /v1/hits/{id}.gif` (the pixel for
readers without JavaScript); everything else, OPTIONS preflights included, goes to FastAPI.
"""

from __future__ import annotations

import base64
import time

import orjson
from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.counter.committer import CountUnavailable, GroupCommit, NotPublished
from services.counter.visitors import Visitors, utc_day
from shared.http import PROBLEM_JSON
from shared.ids import is_article_id

PREFIX = "/v1/hits/"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = (b"cache-control", b"no-store")


class HitRoute:
    """ASGI middleware: answers hits itself, passes every other request on.

    Served as the outermost application (`create_server`), so a hit costs neither
    FastAPI's nor Starlette's per-request work; `api` holds the context its lifespan built.
    """

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app, self.api = app, api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            method, rest = scope["method"], scope["path"][len(PREFIX) :]
            if method == "POST" and "/" not in rest:
                await self.hit(scope, send, rest, pixel=False)
                return
            if method == "GET" and rest.endswith(".gif"):
                await self.hit(scope, send, rest[:-4], pixel=True)
                return
        await self.app(scope, receive, send)

    async def hit(self, scope: Scope, send: Send, article_id: str, *, pixel: bool) -> None:
        ctx = self.api.state.ctx
        committer: GroupCommit = ctx.committer
        visitors: Visitors = ctx.visitors
        if not is_article_id(article_id):
            await self.not_published(send, scope, article_id)
            return
        peer = scope["client"][0] if scope.get("client") else ""
        user_agent = forwarded = origin = ""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
        day = int(time.time() // 86400)
        if not visitors.salt_is_current(day):
            try:
                visitors.use_salt(day, await committer.todays_salt(utc_day()))
            except (RedisError, OSError):
                await self.unavailable(send, scope)
                return
        address = visitors.client_address(peer, forwarded)
        visitor = visitors.visitor(address, user_agent, article_id)
        try:
            counted = await committer.hit(article_id, visitor)
        except NotPublished:
            await self.not_published(send, scope, article_id)
            return
        except CountUnavailable:
            await self.unavailable(send, scope)
            return
        headers = [NO_STORE, *self.cors(ctx.cors_origins, origin)]
        if pixel:
            await respond(send, 200, b"image/gif", PIXEL, headers)
            return
        body = b'{"id":"%s","count":%d}' % (article_id.encode(), counted.count)
        await respond(send, 200, b"application/json", body, headers)

    @staticmethod
    def cors(allowed: frozenset[str], origin: str) -> list[tuple[bytes, bytes]]:
        if origin and origin in allowed:
            return [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
        return []

    async def not_published(self, send: Send, scope: Scope, article_id: str) -> None:
        detail = f"{article_id[:64]!r} is not counted"
        await problem(send, 404, "Not a published article", detail, scope["path"])

    async def unavailable(self, send: Send, scope: Scope) -> None:
        detail = "The count store did not answer; the hit was not counted."
        await problem(send, 503, "Counter unavailable", detail, scope["path"], retry=True)


async def problem(
    send: Send, status: int, title: str, detail: str, instance: str, *, retry: bool = False
) -> None:
    body = orjson.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
        | {"instance": instance}
    )
    headers = [NO_STORE, *([(b"retry-after", b"1")] if retry else [])]
    await respond(send, status, PROBLEM_JSON.encode(), body, headers)


async def respond(
    send: Send, status: int, media_type: bytes, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
