"""The hit route, answered before FastAPI: every page view of the portal lands here, so it
skips routing, validation and the per-request middlewares (metrics are per batch).

Handles `POST /v1/hits/{id}` (the page script) and `GET /v1/hits/{id}.gif` (the pixel for
readers without JavaScript); everything else, OPTIONS preflights included, goes to FastAPI.
`Hits.answer` knows no server interface: `services.counter.rsgi` serves it on granian's
RSGI, and FastAPI's documented `post_hit` route answers with it too.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence

import orjson
from fastapi import FastAPI
from redis.exceptions import RedisError

from services.counter.committer import CountUnavailable, GroupCommit, NotPublished
from services.counter.service import NotPublished as NotPublishedProblem
from services.counter.service import Unavailable
from services.counter.visitors import Visitors, utc_day
from shared.http import PROBLEM_JSON, Problem
from shared.ids import is_article_id

PREFIX = "/v1/hits/"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = (("cache-control", "no-store"),)
VARY_ORIGIN = ("vary", "Origin")

Headers = tuple[tuple[str, str], ...]
Answer = tuple[int, str, bytes, Headers]  # status, content type, body, headers besides those


class Hits:
    """Counts a hit and says what to answer; each server interface sends the answer its way.

    `api` holds the context its lifespan builds (after this object is built).
    """

    def __init__(self, api: FastAPI) -> None:
        self.api = api

    async def answer(
        self,
        method: str,
        rest: str,
        peer: str,
        user_agent: str,
        forwarded: Sequence[str],
        origin: str,
    ) -> Answer | None:
        """The answer to `method` on PREFIX + `rest`; None when that is not a hit.
        `forwarded`: every X-Forwarded-For line of the request, in the order received."""
        if method == "POST" and "/" not in rest:
            article_id, pixel = rest, False
        elif method == "GET" and rest.endswith(".gif"):
            article_id, pixel = rest[:-4], True
        else:
            return None
        ctx = self.api.state.ctx
        committer: GroupCommit = ctx.committer
        visitors: Visitors = ctx.visitors
        if not is_article_id(article_id):
            return not_published(rest, article_id)
        day = int(time.time() // 86400)
        if not visitors.salt_is_current(day):
            try:
                visitors.use_salt(day, await committer.todays_salt(utc_day()))
            except (RedisError, OSError):
                return unavailable(rest)
        address = visitors.proxies.client_address(peer, forwarded)
        visitor = visitors.visitor(address, user_agent, article_id)
        try:
            counted = await committer.hit(article_id, visitor)
        except NotPublished:
            return not_published(rest, article_id)
        except CountUnavailable:
            return unavailable(rest)
        headers: Headers = NO_STORE
        if origin and origin in ctx.cors_origins:
            headers = (*NO_STORE, ("access-control-allow-origin", origin), VARY_ORIGIN)
        if pixel:
            return 200, "image/gif", PIXEL, headers
        body = b'{"id":"%s","count":%d}' % (article_id.encode(), counted.count)
        return 200, "application/json", body, headers


def not_published(rest: str, article_id: str) -> Answer:
    return problem(NotPublishedProblem(article_id), rest)


def unavailable(rest: str) -> Answer:
    return problem(Unavailable(), rest)


def problem(error: Problem, rest: str) -> Answer:
    """The same problem+json FastAPI answers with (shared.http), with the hit's path."""
    body = orjson.dumps(error.body() | {"instance": PREFIX + rest})
    return error.status, PROBLEM_JSON, body, (*NO_STORE, *error.headers.items())
